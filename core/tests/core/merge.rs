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
