//! Property: applying any set of changes from any devices, in any order, yields the
//! same household on every replica.

use automerge::Change;
use jemput_core::household::Household;
use jemput_core::IndicatorSet;
use proptest::prelude::*;
use rand::SeedableRng;

use crate::household::{author, registry_household, visit, FixedClock};

const RESULTS: [&str; 6] = [
    "found",
    "not_found",
    "moved",
    "died",
    "duplicate",
    "refused",
];

/// Device `d` records a visit with result `r`, optionally after merging what device
/// `from` has so far (so histories interleave).
#[derive(Debug, Clone)]
struct Step {
    device: usize,
    result: usize,
    merge_from: Option<usize>,
}

fn step() -> impl Strategy<Value = Step> {
    (0..3usize, 0..6usize, proptest::option::of(0..3usize)).prop_map(
        |(device, result, merge_from)| Step {
            device,
            result,
            merge_from,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_order_of_any_changes_converges(steps in proptest::collection::vec(step(), 1..12), seed in any::<u64>()) {
        let set = IndicatorSet::bps14();
        let mut base = registry_household("hh-prop");
        let base_bytes = base.save();
        let authors: Vec<_> = (0..3).map(|i| author(i as u8 + 1, &format!("kader-{i}"))).collect();
        let mut devices: Vec<Household> = authors
            .iter()
            .map(|a| Household::load_as(&base_bytes, a).expect("load"))
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for (i, s) in steps.iter().enumerate() {
            if let Some(from) = s.merge_from.filter(|f| *f != s.device) {
                let bytes = devices[from].save();
                devices[s.device].doc_mut().load_incremental(&bytes).expect("merge");
            }
            let clock = FixedClock(1_764_000_000_000 + i as i64 * 1000);
            devices[s.device]
                .record_visit(&visit(RESULTS[s.result]), &set, &authors[s.device], &clock, &mut rng)
                .expect("visit");
        }
        let mut all: Vec<Change> = Vec::new();
        for d in &mut devices {
            all.extend(d.doc_mut().get_changes(&[]));
        }
        // Deduplicate by hash: merged devices share changes.
        all.sort_by_key(|c| c.hash());
        all.dedup_by_key(|c| c.hash());

        let mut reference: Option<serde_json::Value> = None;
        for order_seed in 0..4u64 {
            let mut order = all.clone();
            let mut r = rand::rngs::StdRng::seed_from_u64(seed ^ order_seed);
            rand::seq::SliceRandom::shuffle(&mut order[..], &mut r);
            let mut replica = Household::load(&base_bytes).expect("load");
            for c in order {
                // One at a time, possibly before its dependencies: Automerge queues it.
                replica.doc_mut().load_incremental(c.raw_bytes()).expect("apply");
            }
            let view = replica.view(&set);
            prop_assert_eq!(replica.doc_mut().get_missing_deps(&[]).len(), 0);
            match &reference {
                None => reference = Some(view),
                Some(r) => prop_assert_eq!(r, &view),
            }
        }
        let n_visits = reference.as_ref().and_then(|v| v["visits"].as_object().map(|m| m.len()));
        prop_assert_eq!(n_visits, Some(steps.len()), "no visit lost or duplicated");
    }
}

/// A device's step: a visit in some month (after merging another device's work, or
/// with a member's change), then a push of what the server lacks.
#[derive(Debug, Clone)]
struct Visit {
    device: usize,
    result: usize,
    month: i64,
    merge_from: Option<usize>,
    member_died: bool,
    push: bool,
}

fn visit_step() -> impl Strategy<Value = Visit> {
    (
        0..2usize,
        0..6usize,
        0..4i64,
        proptest::option::of(0..2usize),
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.8),
    )
        .prop_map(
            |(device, result, month, merge_from, member_died, push)| Visit {
                device,
                result,
                month,
                merge_from,
                member_died,
                push,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The server's export row derived from the previous row
    /// (`ExportRow::after_visit`), whenever it is derived, equals the row rebuilt from
    /// the whole document — across concurrent devices, months out of order, member
    /// changes and conflicts.
    #[test]
    fn an_export_row_derived_from_the_last_equals_the_rebuilt_one(
        steps in proptest::collection::vec(visit_step(), 1..14),
        seed in any::<u64>(),
    ) {
        use jemput_core::registry::export::ExportRow;
        const MONTH_MS: i64 = 31 * 24 * 3_600_000;
        let set = IndicatorSet::bps14();
        let mut base = registry_household("hh-row");
        let base_bytes = base.save();
        let authors: Vec<_> = (0..2).map(|i| author(i as u8 + 1, &format!("kader-{i}"))).collect();
        let mut devices: Vec<Household> = authors
            .iter()
            .map(|a| Household::load_as(&base_bytes, a).expect("load"))
            .collect();
        let mut server = Household::load(&base_bytes).expect("load");
        let mut row = ExportRow::of(&server, &set);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for (i, s) in steps.iter().enumerate() {
            if let Some(from) = s.merge_from.filter(|f| *f != s.device) {
                let bytes = devices[from].save();
                devices[s.device].doc_mut().load_incremental(&bytes).expect("merge");
            }
            let clock = FixedClock(1_764_000_000_000 + s.month * MONTH_MS + i as i64 * 1000);
            let mut input = visit(RESULTS[s.result]);
            if s.member_died {
                input.member_changes.insert("m-head".into(), "died".into());
            }
            devices[s.device]
                .record_visit(&input, &set, &authors[s.device], &clock, &mut rng)
                .expect("visit");
            if !s.push {
                continue;
            }
            // The server takes what it lacks, as a push brings it.
            let heads = server.doc_mut().get_heads();
            let new: Vec<Change> = devices[s.device]
                .doc_mut()
                .get_changes(&heads)
                .into_iter()
                .filter(|c| server.doc_mut().get_change_by_hash(&c.hash()).is_none())
                .collect();
            if new.is_empty() {
                continue;
            }
            server.doc_mut().apply_changes(new.clone()).expect("apply");
            let rebuilt = ExportRow::of(&server, &set);
            if let Some(derived) = ExportRow::after_visit(&row, &server, &new, &set) {
                prop_assert_eq!(&derived, &rebuilt);
            }
            row = rebuilt;
        }
    }
}

/// The derived row is taken where it should be: a first visit, then a visit a month
/// later; and refused for a second visit in the same month and a member's death.
#[test]
fn an_export_row_is_derived_for_a_plain_visit_and_rebuilt_otherwise() {
    use jemput_core::registry::export::ExportRow;
    const DAY_MS: i64 = 24 * 3_600_000;
    let set = IndicatorSet::bps14();
    let mut base = registry_household("hh-row");
    let bytes = base.save();
    let kader = author(1, "kader");
    let mut device = Household::load_as(&bytes, &kader).expect("load");
    let mut server = Household::load(&bytes).expect("load");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut row = ExportRow::of(&server, &set);
    // 2025-11-24, then 2025-12-26 and 2025-12-28 (WIB).
    let start = 1_764_000_000_000;
    let mut step = |at: i64, input: jemput_core::household::VisitInput| {
        let heads = server.doc_mut().get_heads();
        device
            .record_visit(&input, &set, &kader, &FixedClock(at), &mut rng)
            .expect("visit");
        let new = device.doc_mut().get_changes(&heads);
        server.doc_mut().apply_changes(new.clone()).expect("apply");
        let derived = ExportRow::after_visit(&row, &server, &new, &set);
        row = ExportRow::of(&server, &set);
        derived.map(|d| (d == row, d.last_visit.clone()))
    };
    assert_eq!(
        step(start, visit("found")),
        Some((true, Some("2025-11-24".into())))
    );
    assert_eq!(
        step(start + 32 * DAY_MS, visit("not_found")),
        Some((true, Some("2025-12-26".into())))
    );
    assert_eq!(
        step(start + 34 * DAY_MS, visit("found")),
        None,
        "same month"
    );
    let mut died = visit("found");
    died.member_changes.insert("m-head".into(), "died".into());
    assert_eq!(step(start + 70 * DAY_MS, died), None, "a member changed");
}
