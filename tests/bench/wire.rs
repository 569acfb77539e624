//! `jemput-bench-wire`: what the sync wire format costs per message, the way the
//! server and devices encode (CBOR, then zstd with the shared dictionary) and decode.
//! "Before" loads the dictionary on every call, as `sync::encode`/`decode` did; "now"
//! is `sync::encode`/`decode` (the dictionary prepared once per process for messages
//! up to 64 KiB). Thread CPU time, three messages: a "nothing changed" reply, a one-visit
//! push, and a first sync's page of 1,000 whole households. Prints a Markdown table.

use std::io::Read;

use automerge::ChangeHash;
use jemput_core::household::{Author, Household, VisitInput};
use jemput_core::sync::{self, PullDoc, PushDoc, SyncRequest, SyncResponse};
use jemput_core::{IndicatorSet, SystemClock};
use jemput_sync_server::demo;
use rand::SeedableRng;
use serde::Serialize;

fn cpu_ms() -> f64 {
    cpu_time::ThreadTime::now().as_duration().as_secs_f64() * 1e3
}

/// `sync::encode` as it was: the raw dictionary loaded for every message.
fn encode_raw<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    ciborium::into_writer(msg, &mut cbor).unwrap_or_else(|e| panic!("cbor: {e}"));
    let level = if cbor.len() < 4 * 1024 * 1024 { 19 } else { 12 };
    zstd::bulk::Compressor::with_dictionary(level, sync::DICTIONARY)
        .and_then(|mut z| z.compress(&cbor))
        .unwrap_or_else(|e| panic!("zstd: {e}"))
}

fn decode_raw<T: for<'de> serde::Deserialize<'de>>(body: &[u8]) -> T {
    let mut out = Vec::new();
    zstd::stream::read::Decoder::with_dictionary(body, sync::DICTIONARY)
        .and_then(|mut d| d.read_to_end(&mut out))
        .unwrap_or_else(|e| panic!("zstd: {e}"));
    ciborium::from_reader(&out[..]).unwrap_or_else(|e| panic!("cbor: {e}"))
}

/// Median and p95 of `runs` timings of `f`, in milliseconds of thread CPU.
fn time(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = cpu_ms();
            f();
            cpu_ms() - start
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[(t.len() * 95 / 100).min(t.len() - 1)])
}

fn row<T>(what: &str, msg: &T, runs: usize)
where
    T: Serialize + for<'de> serde::Deserialize<'de>,
{
    let raw = encode_raw(msg);
    let prepared = sync::encode(msg);
    // Each decodes to the message (a prepared dictionary may pick other parameters for
    // large inputs: the bytes can differ, the content cannot).
    let cbor = |m: &T| {
        let mut v = Vec::new();
        ciborium::into_writer(m, &mut v).unwrap_or_else(|e| panic!("cbor: {e}"));
        v
    };
    let back: T = sync::decode(&prepared).unwrap_or_else(|e| panic!("decode: {e}"));
    assert!(cbor(&back) == cbor(msg), "{what}: prepared round trip");
    assert!(
        cbor(&decode_raw::<T>(&raw)) == cbor(msg),
        "{what}: raw round trip"
    );
    let us = |(a, b): (f64, f64)| format!("{:.0} / {:.0} µs", a * 1e3, b * 1e3);
    let e_raw = time(runs, || {
        std::hint::black_box(encode_raw(msg));
    });
    let e_new = time(runs, || {
        std::hint::black_box(sync::encode(msg));
    });
    let d_raw = time(runs, || {
        std::hint::black_box(decode_raw::<T>(&raw));
    });
    let d_new = time(runs, || {
        std::hint::black_box(
            sync::decode::<T>(&prepared).unwrap_or_else(|e| panic!("decode: {e}")),
        );
    });
    println!(
        "| {what} | {} B ({} B before) | {} | {} | {} | {} |",
        prepared.len(),
        raw.len(),
        us(e_raw),
        us(e_new),
        us(d_raw),
        us(d_new)
    );
}

fn main() -> anyhow::Result<()> {
    let set = IndicatorSet::bps14();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let households = demo::households_n(&mut rng, 5, 1000, 24).map_err(anyhow::Error::msg)?;

    // A sync that finds nothing new: the cursor of one area and the server's clock.
    let idle = SyncResponse {
        scope: vec![format!("{}/2", demo::KELURAHAN)],
        cursors: [(format!("{}/2", demo::KELURAHAN), 123_456)].into(),
        server_ms: 1_795_000_000_000,
        ..SyncResponse::default()
    };
    // One visit with all 14 answers, as a device pushes it.
    let author = Author::new("beec0000000000000000000000000001", "kader")?;
    let mut hh = Household::load_as(&households[0].doc, &author)?;
    let before: Vec<ChangeHash> = hh.heads();
    let input = VisitInput {
        result: "found".into(),
        answers: serde_json::from_value(set.answers_template()["answers"].clone())
            .unwrap_or_default(),
        ..VisitInput::default()
    };
    hh.record_visit(&input, &set, &author, &SystemClock, &mut rand::thread_rng())?;
    let mut changes = Vec::new();
    for c in hh.doc_mut().get_changes(&before) {
        changes.extend_from_slice(c.raw_bytes());
    }
    let push = SyncRequest {
        cursors: [(format!("{}/2", demo::KELURAHAN), 123_456)].into(),
        push: vec![PushDoc {
            id: households[0].id.clone(),
            changes: serde_bytes::ByteBuf::from(changes),
        }],
        ..SyncRequest::default()
    };
    // A first sync's page: 1,000 whole documents.
    let page = SyncResponse {
        docs: households
            .iter()
            .map(|h| PullDoc {
                id: h.id.clone(),
                kelurahan: h.kelurahan.clone(),
                rw: h.rw,
                data: serde_bytes::ByteBuf::from(h.doc.clone()),
                snapshot: true,
                heads: Vec::new(),
            })
            .collect(),
        more: true,
        ..SyncResponse::default()
    };

    println!("| message (thread CPU, p50 / p95) | compressed now (before) | encode before | encode now | decode before | decode now |");
    println!("|---|---|---|---|---|---|");
    row("\"nothing changed\" reply", &idle, 2000);
    row("one-visit push (14 answers)", &push, 1000);
    row("first-sync page, 1,000 households", &page, 5);
    Ok(())
}
