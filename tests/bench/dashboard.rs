//! `jemput-bench-dashboard`: the round's dashboard on an office device holding a whole
//! kelurahan. 7,300 demo households (24 RWs) in the encrypted store the device uses,
//! each with a visit in each of the three months before and, for seven in ten, one in
//! the current month (results mixed as the field's are); then the dashboard of the
//! current month, of the quarter and of a month long past, computed as the app and
//! `jemput dashboard` do (`Store::dashboard`: query columns and the visit index).
//! Prints a Markdown table (p50 / p95 of wall time).

use std::time::Instant;

use jemput_core::dashboard::Period;
use jemput_core::household::{Author, Clock, Household, VisitInput};
use jemput_core::store::Store;
use jemput_core::zone::Zone;
use jemput_core::IndicatorSet;
use jemput_sync_server::demo;
use rand::{Rng, SeedableRng};

struct At(i64);
impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

const KEY: [u8; 32] = [7; 32];
const HOUSEHOLDS: usize = 7_300;
const RUNS: usize = 30;

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let set = IndicatorSet::bps14();
    let a = Author::new("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "kader-a")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
    let households =
        demo::households_n(&mut rng, 14, HOUSEHOLDS, 24).unwrap_or_else(|e| panic!("demo: {e}"));
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut s = Store::open_encrypted(&tmp.path().join("store.db"), &KEY)
        .unwrap_or_else(|e| panic!("store: {e}"));
    let found: VisitInput =
        serde_json::from_value(set.answers_template()).unwrap_or_else(|e| panic!("{e}"));
    let other = |result: &str| VisitInput {
        result: result.into(),
        ..VisitInput::default()
    };
    // 15 August 2026, 12:00 WIB, then a month apart: August, September, October, and
    // November for the current month.
    let (start, month) = (1_786_770_000_000_i64, 30 * 86_400_000_i64);
    let t = Instant::now();
    let mut visits = 0;
    {
        let tx = s.transaction().unwrap_or_else(|e| panic!("{e}"));
        for h in &households {
            let mut hh = Household::load_as(&h.doc, &a).unwrap_or_else(|e| panic!("{e}"));
            let months = if rng.gen_bool(0.7) { 4 } else { 3 };
            for m in 0..months {
                let input = match rng.gen_range(0..20) {
                    0 => other("moved"),
                    1 => other("not_found"),
                    2 => other("refused"),
                    _ => found.clone(),
                };
                hh.record_visit(&input, &set, &a, &At(start + m * month), &mut rng)
                    .unwrap_or_else(|e| panic!("{e}"));
                visits += 1;
            }
            jemput_core::store::write_household(&tx, &mut hh, &set)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        tx.commit().unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "{HOUSEHOLDS} households, {visits} visits stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let periods = [
        ("current month (2026-11)", "2026-11"),
        ("quarter (2026-Q4)", "2026-Q4"),
        ("a past month (2026-08)", "2026-08"),
    ];
    println!("| {HOUSEHOLDS} households, {visits} visits, encrypted store | p50 | p95 | visited | target |");
    println!("|---|---|---|---|---|");
    for (label, p) in periods {
        let period = Period::parse(p, Zone::Wib).unwrap_or_else(|e| panic!("{e}"));
        let mut times = Vec::new();
        let mut visited = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let d = s
                .dashboard(demo::KELURAHAN, &period)
                .unwrap_or_else(|e| panic!("{e}"));
            times.push(t.elapsed().as_secs_f64() * 1e3);
            visited = d.total.visited;
        }
        println!(
            "| dashboard, {label} | {:.1} ms | {:.1} ms | {visited} | ≤ 200 ms |",
            pct(&times, 0.5),
            pct(&times, 0.95)
        );
    }
}
