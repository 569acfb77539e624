//! `jemput-bench-local`: what encryption at rest costs the device. The same work on
//! the same 2,000 demo households in a plain SQLite store and in the SQLCipher store
//! the device uses (one binary, alternating): saving a visit (the kader's "Simpan"),
//! listing the RW, searching a name, and opening the store. Prints a Markdown table.

use std::time::Instant;

use jemput_core::household::{Author, Clock, Household, VisitInput};
use jemput_core::store::{ListFilter, Store};
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

fn open(path: &std::path::Path, encrypted: bool) -> Store {
    let s = if encrypted {
        Store::open_encrypted(path, &KEY)
    } else {
        Store::open(path)
    };
    s.unwrap_or_else(|e| panic!("store: {e}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let set = IndicatorSet::bps14();
    let a = Author::new("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "kader-a")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let households =
        demo::households_n(&mut rng, 9, 2000, 24).unwrap_or_else(|e| panic!("demo: {e}"));
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let paths = [tmp.path().join("plain.db"), tmp.path().join("cipher.db")];
    for (i, p) in paths.iter().enumerate() {
        let mut s = open(p, i == 1);
        for h in &households {
            let mut hh = Household::load_as(&h.doc, &a).unwrap_or_else(|e| panic!("{e}"));
            s.save_local(&mut hh, &set)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let ids: Vec<&str> = households.iter().map(|h| h.id.as_str()).collect();
    let mut input: VisitInput = serde_json::from_value(serde_json::json!({
        "result": "found",
        "answers": {"meals_per_day": 2, "savings": 100000, "floor_material": "tanah"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    set.mark_unanswered_unknown(&mut input.answers);
    let mut times: [[Vec<f64>; 4]; 2] = Default::default();
    // Alternating rounds, so a busy moment of the machine hits both alike.
    for round in 0..5 {
        for (mode, path) in paths.iter().enumerate() {
            let t = Instant::now();
            let mut s = open(path, mode == 1);
            times[mode][3].push(t.elapsed().as_secs_f64() * 1e3);
            for id in ids.iter().skip(round * 40).take(40) {
                let t = Instant::now();
                let bytes = s.get_doc(id).unwrap_or_else(|e| panic!("{e}"));
                let mut hh = Household::load_as(&bytes, &a).unwrap_or_else(|e| panic!("{e}"));
                hh.record_visit(&input, &set, &a, &At(1_790_000_000_000), &mut rng)
                    .unwrap_or_else(|e| panic!("{e}"));
                s.save_local(&mut hh, &set)
                    .unwrap_or_else(|e| panic!("{e}"));
                times[mode][0].push(t.elapsed().as_secs_f64() * 1e3);
            }
            for _ in 0..5 {
                let t = Instant::now();
                let n = s
                    .list(None, ListFilter::All, "2026-01-01")
                    .unwrap_or_else(|e| panic!("{e}"))
                    .len();
                assert_eq!(n, ids.len());
                times[mode][1].push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                s.list(Some("Sri"), ListFilter::All, "2026-01-01")
                    .unwrap_or_else(|e| panic!("{e}"));
                times[mode][2].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    println!("| median, 2,000 households | plain SQLite | SQLCipher | added |");
    println!("|---|---|---|---|");
    let names = [
        "save a visit (load, record, write, commit with fsync)",
        "list every household",
        "search a name",
        "open the store (with its raw key)",
    ];
    for (i, name) in names.iter().enumerate() {
        let (p, c) = (median(times[0][i].clone()), median(times[1][i].clone()));
        println!(
            "| {name} | {p:.2} ms | {c:.2} ms | {:+.2} ms ({:+.0} %) |",
            c - p,
            (c - p) / p * 100.0
        );
    }
    // The PIN's key (Argon2id, 64 MiB): paid once when the app is unlocked.
    let home = tmp.path().join("pin-home");
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
    let pin = jemput_client::keys::Unlock::Pin("482913".into());
    jemput_client::keys::store_key(&home, &pin).unwrap_or_else(|e| panic!("{e}"));
    let mut unlocks = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        jemput_client::keys::store_key(&home, &pin).unwrap_or_else(|e| panic!("{e}"));
        unlocks.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "| unlock with the PIN (Argon2id, 64 MiB, 3 passes; once per unlock) | — | {:.0} ms | |",
        median(unlocks)
    );
}
