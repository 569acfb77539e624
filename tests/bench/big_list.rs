//! `jemput-bench-list`: the kader's list and "Simpan" on a big device store. 10,000
//! demo households in the encrypted store the device uses; a visit is saved on
//! households with 1, 24 and 96 earlier visits (the save call's thread CPU time, and
//! wall time with the commit's fsync beside it); one page of the list, near the top and
//! deep; a search that matches every row and one that matches a few, paged as the app
//! asks. Prints a Markdown table (p50 / p95).

use std::time::Instant;

use jemput_core::household::{Author, Clock, Household, VisitInput};
use jemput_core::store::{ListFilter, ListQuery, Store};
use jemput_core::IndicatorSet;
use jemput_sync_server::demo;
use rand::SeedableRng;

struct At(i64);
impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

const KEY: [u8; 32] = [7; 32];
const HOUSEHOLDS: usize = 10_000;
const PAGE: u32 = 50;
/// Households saved at each history length: enough that p95 is not one sample (about
/// one save in sixty pays a WAL checkpoint, as it does on the device).
const GROUP: usize = 100;

/// CPU time of this thread, in milliseconds (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ms() -> f64 {
    cpu_time::ThreadTime::now().as_duration().as_secs_f64() * 1e3
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let set = IndicatorSet::bps14();
    let a = Author::new("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "kader-a")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let households =
        demo::households_n(&mut rng, 11, HOUSEHOLDS, 24).unwrap_or_else(|e| panic!("demo: {e}"));
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = tmp.path().join("store.db");
    let mut s = Store::open_encrypted(&path, &KEY).unwrap_or_else(|e| panic!("store: {e}"));
    let mut input: VisitInput = serde_json::from_value(
        set.answers_template()
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    input.notes = Some("Rumah kontrakan, kepala keluarga bekerja harian".into());
    let t = Instant::now();
    {
        let tx = s.transaction().unwrap_or_else(|e| panic!("{e}"));
        for h in &households {
            let mut hh = Household::load_as(&h.doc, &a).unwrap_or_else(|e| panic!("{e}"));
            jemput_core::store::write_household(&tx, &mut hh, &set)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        tx.commit().unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "{HOUSEHOLDS} households stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let ids: Vec<String> = households.iter().map(|h| h.id.clone()).collect();
    // Earlier visits, one a month (a household is verified once per period): 1, 24
    // and 96 on three groups of `GROUP` households.
    let day = 31 * 86_400_000;
    let start = 1_780_000_000_000;
    let groups = [
        (1usize, &ids[0..GROUP]),
        (24, &ids[GROUP..2 * GROUP]),
        (96, &ids[2 * GROUP..3 * GROUP]),
    ];
    for (n, group) in groups {
        for id in group {
            let bytes = s.get_doc(id).unwrap_or_else(|e| panic!("{e}"));
            let mut hh = Household::load_as(&bytes, &a).unwrap_or_else(|e| panic!("{e}"));
            for d in 0..n {
                hh.record_visit(&input, &set, &a, &At(start + d as i64 * day), &mut rng)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            s.save_local(&mut hh, &set)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    println!("| {HOUSEHOLDS} households, encrypted store | p50 | p95 | target |");
    println!("|---|---|---|---|");
    let mut p95_at_1 = 0.0;
    let mut opens = Vec::new();
    for (n, group) in groups {
        let (mut cpu, mut wall) = (Vec::new(), Vec::new());
        let mut open = Vec::new();
        for (i, id) in group.iter().enumerate() {
            let now = start + (n + i) as i64 * day;
            // The kader opens the household (untimed here: its own row below) ...
            let t = Instant::now();
            s.load_household(id).unwrap_or_else(|e| panic!("{e}"));
            open.push(t.elapsed().as_secs_f64() * 1e3);
            // ... and taps "Simpan": the same steps as the app's `record_visit`.
            let t = Instant::now();
            let c = thread_cpu_ms();
            let (mut hh, mut before) = s.household(id, &a).unwrap_or_else(|e| panic!("{e}"));
            hh.record_visit(&input, &set, &a, &At(now), &mut rng)
                .unwrap_or_else(|e| panic!("{e}"));
            jemput_core::rules::judge_local(
                &mut before,
                hh.doc_for_changes(),
                jemput_core::rules::Role::Kader,
                &a,
                &set,
            )
            .unwrap_or_else(|e| panic!("{e:?}"));
            s.save_visit(&mut hh, &set)
                .unwrap_or_else(|e| panic!("{e}"));
            cpu.push(thread_cpu_ms() - c);
            wall.push(t.elapsed().as_secs_f64() * 1e3);
        }
        opens.push((n, open));
        let p95 = pct(&cpu, 0.95);
        if n == 1 {
            p95_at_1 = p95;
        }
        let target = if n == 1 {
            "≤ 3 ms p95".to_string()
        } else {
            format!("≤ 3 ms, ≤ {:.2} ms (1.5 × at 1)", 1.5 * p95_at_1)
        };
        println!(
            "| save a visit, {n} earlier: thread CPU (wall with fsync) | {:.2} ms ({:.2}) | {:.2} ms ({:.2}) | {target} |",
            pct(&cpu, 0.5),
            pct(&wall, 0.5),
            p95,
            pct(&wall, 0.95)
        );
    }
    for (n, open) in opens {
        println!(
            "| open a household, {n} earlier visits (parse the document) | {:.2} ms | {:.2} ms | — |",
            pct(&open, 0.5),
            pct(&open, 0.95)
        );
    }
    let time = |q: &ListQuery| -> (Vec<f64>, u32, usize) {
        let mut v = Vec::new();
        let mut last = (0, 0);
        for _ in 0..40 {
            let t = Instant::now();
            let p = s
                .list_page(q, "2026-11-01", Some("kader-a"))
                .unwrap_or_else(|e| panic!("{e}"));
            v.push(t.elapsed().as_secs_f64() * 1e3);
            last = (p.total, p.rows.len());
        }
        (v, last.0, last.1)
    };
    let cases = [
        ("one list page (50 rows), top", None, ListFilter::All, 0),
        (
            "one list page (50 rows), at row 9,000",
            None,
            ListFilter::All,
            9000,
        ),
        (
            "filter: not visited this month, first page",
            None,
            ListFilter::NotVisited,
            0,
        ),
        (
            "search matching every row (`35`), first page",
            Some("35"),
            ListFilter::All,
            0,
        ),
        (
            "search one name (`Sri`), first page",
            Some("Sri"),
            ListFilter::All,
            0,
        ),
    ];
    for (name, search, filter, offset) in cases {
        let q = ListQuery {
            search: search.map(String::from),
            filter,
            offset,
            limit: PAGE,
        };
        let (v, total, rows) = time(&q);
        let target = if search.is_some() {
            "≤ 10 ms"
        } else {
            "≤ 5 ms"
        };
        println!(
            "| {name} — {rows} of {total} | {:.2} ms | {:.2} ms | {target} |",
            pct(&v, 0.5),
            pct(&v, 0.95)
        );
    }
}
