//! `jemput-bench-review`: how fast a fasilitator's device lists the open conflicts of a
//! 5,000-household kelurahan, and builds the history of a household with 200 changes.
//! Real SQLite file, real Automerge documents; prints a Markdown table.

use std::time::Instant;

use jemput_core::household::{Author, Clock, Household, VisitInput};
use jemput_core::store::Store;
use jemput_core::IndicatorSet;
use jemput_sync_server::demo;
use rand::{Rng, SeedableRng};

struct At(i64);
impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn visit(result: &str) -> VisitInput {
    let mut answers =
        serde_json::from_value(serde_json::json!({"meals_per_day": 2, "savings": 100000}))
            .unwrap_or_default();
    IndicatorSet::bps14().mark_unanswered_unknown(&mut answers);
    VisitInput {
        result: result.into(),
        answers,
        ..VisitInput::default()
    }
}

fn median_ms(mut f: impl FnMut() -> usize, runs: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], n)
}

fn main() {
    let set = IndicatorSet::bps14();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut store =
        Store::open(&tmp.path().join("jemput.db")).unwrap_or_else(|e| panic!("store: {e}"));
    let a = Author::new("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "kader-a")
        .unwrap_or_else(|e| panic!("{e}"));
    let b = Author::new("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "kader-b")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let households =
        demo::households_n(&mut rng, 5, 5000, 24).unwrap_or_else(|e| panic!("demo: {e}"));
    let build = Instant::now();
    // Every 20th household gets two concurrent visits with different results: a status
    // conflict and a divergent-visits conflict. The rest get one visit or none.
    let mut expected = 0;
    for (i, h) in households.iter().enumerate() {
        let mut hh = Household::load_as(&h.doc, &a).unwrap_or_else(|e| panic!("{e}"));
        if i % 20 == 0 {
            let mut other = Household::load_as(&h.doc, &b).unwrap_or_else(|e| panic!("{e}"));
            hh.record_visit(&visit("found"), &set, &a, &At(1_790_000_000_000), &mut rng)
                .unwrap_or_else(|e| panic!("{e}"));
            other
                .record_visit(&visit("moved"), &set, &b, &At(1_790_000_100_000), &mut rng)
                .unwrap_or_else(|e| panic!("{e}"));
            let bytes = other.save();
            hh.doc_mut()
                .load_incremental(&bytes)
                .unwrap_or_else(|e| panic!("{e}"));
            expected += 2;
        } else if rng.gen_bool(0.5) {
            hh.record_visit(&visit("found"), &set, &a, &At(1_790_000_000_000), &mut rng)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        store
            .save_local(&mut hh, &set)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "built 5,000 households in {:.1} s",
        build.elapsed().as_secs_f64()
    );

    println!("| measure | median | target |");
    println!("|---|---|---|");
    let (ms, n) = median_ms(
        || {
            store
                .list_conflicts(None, None)
                .map(|l| l.len())
                .unwrap_or(0)
        },
        9,
    );
    assert_eq!(n, expected, "the bench lists exactly the conflicts it made");
    println!("| list open conflicts, 5,000 households ({n} conflicts) | {ms:.1} ms | ≤ 200 ms |");
    let (ms, n) = median_ms(
        || {
            store
                .list_conflicts(Some(7), None)
                .map(|l| l.len())
                .unwrap_or(0)
        },
        9,
    );
    println!("| list open conflicts of one RW ({n}) | {ms:.1} ms | |");

    // One household with 200 changes: visits by two devices, merged.
    let mut hh = Household::load_as(&households[1].doc, &a).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..199 {
        let result = if i % 2 == 0 { "found" } else { "refused" };
        hh.record_visit(
            &visit(result),
            &set,
            &a,
            &At(1_790_000_000_000 + i * 60_000),
            &mut rng,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let bytes = hh.save();
    let (ms, n) = median_ms(
        || {
            let mut h = Household::load(&bytes).unwrap_or_else(|e| panic!("{e}"));
            h.history().len()
        },
        9,
    );
    assert_eq!(n, 200);
    println!("| history of a household with {n} changes (load + build) | {ms:.1} ms | ≤ 50 ms |");
    let (ms, _) = median_ms(
        || {
            let mut h = Household::load(&bytes).unwrap_or_else(|e| panic!("{e}"));
            h.as_of(1_790_000_000_000 + 100 * 60_000)
                .map(|x| x.view(&set).to_string().len())
                .unwrap_or(0)
        },
        9,
    );
    println!("| the same household as of a date (load + view) | {ms:.1} ms | |");
}
