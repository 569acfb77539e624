//! `jemput-train-dict`: trains the zstd dictionary that sync messages are compressed
//! with (`core/dict/sync.zdict`). Samples are the CBOR messages of realistic traffic:
//! single visits and batches pushed, snapshots and changes pulled. Households are made
//! here with random syllable names, numbers and streets, so the dictionary learns the
//! format (keys, criterion ids, answer options), not the demo data's names. Rerun only
//! with a new dictionary version: both sides must hold the same dictionary.

use jemput_core::household::{Author, Clock, Household, Identity, Member, Registry, VisitInput};
use jemput_core::indicators::Rule;
use jemput_core::nik::Sex;
use jemput_core::sync::{PullDoc, PushDoc, SyncRequest, SyncResponse};
use jemput_core::IndicatorSet;
use rand::{Rng, SeedableRng};
use serde_bytes::ByteBuf;

struct At(i64);
impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn random_visit(set: &IndicatorSet, rng: &mut impl Rng) -> VisitInput {
    let mut answers = serde_json::Map::new();
    for c in &set.criteria {
        if rng.gen_bool(0.1) {
            answers.insert(c.id.clone(), jemput_core::indicators::UNKNOWN.into());
            continue;
        }
        let v = match &c.rule {
            Rule::OneOf { .. } => serde_json::json!(c.options[rng.gen_range(0..c.options.len())]),
            Rule::YesNo { .. } => serde_json::json!(rng.gen_bool(0.5)),
            Rule::IncomeSource { .. } => serde_json::json!({
                "occupation": c.occupations[rng.gen_range(0..c.occupations.len())],
                "land_m2": rng.gen_range(0..1000),
                "income_rp": rng.gen_range(0..30) * 50_000,
            }),
            Rule::PerPersonBelow { .. } => serde_json::json!(rng.gen_range(12..120)),
            Rule::Below { .. } => serde_json::json!(rng.gen_range(0..40) * 50_000),
            Rule::AtMost { .. } => serde_json::json!(rng.gen_range(0..5)),
        };
        answers.insert(c.id.clone(), v);
    }
    let results = [
        "found",
        "found",
        "found",
        "not_found",
        "moved",
        "died",
        "refused",
    ];
    serde_json::from_value(serde_json::json!({
        "result": results[rng.gen_range(0..results.len())],
        "answers": answers,
        "documents": {"kk": rng.gen_bool(0.8), "ktp": rng.gen_bool(0.8)},
    }))
    .unwrap_or_default()
}

fn word(rng: &mut impl Rng) -> String {
    const SYL: [&str; 12] = [
        "ka", "ri", "mu", "to", "se", "la", "wi", "dan", "pur", "no", "gi", "yo",
    ];
    let mut w: String = (0..rng.gen_range(2..4))
        .map(|_| SYL[rng.gen_range(0..SYL.len())])
        .collect();
    w[..1].make_ascii_uppercase();
    w
}

fn digits(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

struct Sample {
    id: String,
    kelurahan: String,
    rw: u16,
    doc: Vec<u8>,
}

/// A household with random names and numbers in the registry's shape.
fn random_household(rng: &mut impl Rng, author: &Author) -> Sample {
    let kelurahan = format!(
        "{}.{}.{}.{}",
        digits(rng, 2),
        digits(rng, 2),
        digits(rng, 2),
        digits(rng, 4)
    );
    let rw = rng.gen_range(1..30);
    let identity = Identity {
        id_dtks: Some(digits(rng, 16)),
        idbdt: Some(format!("BDT{}", digits(rng, 8))),
        kk: Some(digits(rng, 16)),
        address: Some(format!("Jl. {} No. {}", word(rng), rng.gen_range(1..300))),
        kelurahan: kelurahan.clone(),
        kelurahan_bps: Some(digits(rng, 10)),
        rw,
        rt: rng.gen_range(1..15),
    };
    let relations = ["head", "spouse", "child", "child", "child", "other"];
    let members: Vec<(String, Member)> = (0..rng.gen_range(1..7))
        .map(|i| {
            let member = Member {
                nik: Some(digits(rng, 16)),
                name: format!("{} {}", word(rng), word(rng)),
                sex: Some(if rng.gen_bool(0.5) { Sex::L } else { Sex::P }),
                birth_date: Some(format!(
                    "{}-{:02}-{:02}",
                    rng.gen_range(1940..2025),
                    rng.gen_range(1..13),
                    rng.gen_range(1..29)
                )),
                relation: relations[i.min(relations.len() - 1)].into(),
                presence: "lives_here".into(),
            };
            (format!("m-{:016x}", rng.gen::<u64>()), member)
        })
        .collect();
    let registry = Registry {
        desil: Some(rng.gen_range(1..11)),
        pkh: rng.gen(),
        bpnt: rng.gen(),
        pbi_jk: rng.gen(),
        kip: rng.gen(),
    };
    let id = format!("hh-{:016x}", rng.gen::<u64>());
    let mut hh = Household::create(
        &id,
        &identity,
        &registry,
        &members,
        author,
        1_767_600_000_000,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Sample {
        id,
        kelurahan,
        rw,
        doc: hh.save(),
    }
}

fn cbor<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap_or_else(|e| panic!("cbor: {e}"));
    out
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "core/dict/sync.zdict".into());
    let set = IndicatorSet::bps14();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let importer =
        Author::new("1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e", "import").unwrap_or_else(|e| panic!("{e}"));
    let households: Vec<Sample> = (0..400)
        .map(|_| random_household(&mut rng, &importer))
        .collect();
    let mut samples: Vec<Vec<u8>> = Vec::new();
    let mut batch = Vec::new();
    for (i, h) in households.iter().enumerate() {
        let actor: [u8; 16] = rng.gen();
        let user = format!("kader-rw{:02}", h.rw);
        let author = Author::new(&hex::encode(actor), &user).unwrap_or_else(|e| panic!("{e}"));
        let mut hh = Household::load_as(&h.doc, &author).unwrap_or_else(|e| panic!("{e}"));
        let before = hh.heads();
        let at = At(1_790_000_000_000 + i as i64 * 3_600_000);
        hh.record_visit(&random_visit(&set, &mut rng), &set, &author, &at, &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        let changes: Vec<u8> = hh
            .doc_mut()
            .get_changes(&before)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let push = PushDoc {
            id: h.id.clone(),
            changes: ByteBuf::from(changes.clone()),
        };
        let mut cursors = std::collections::BTreeMap::new();
        cursors.insert(
            format!("{}/{}", h.kelurahan, h.rw),
            rng.gen_range(0..100_000u64),
        );
        samples.push(cbor(&SyncRequest {
            cursors: cursors.clone(),
            push: vec![push.clone()],
            ..SyncRequest::default()
        }));
        batch.push(push);
        if batch.len() == 10 {
            samples.push(cbor(&SyncRequest {
                cursors,
                push: std::mem::take(&mut batch),
                ..SyncRequest::default()
            }));
        }
        let pulled = |data: Vec<u8>, heads| PullDoc {
            id: h.id.clone(),
            kelurahan: h.kelurahan.clone(),
            rw: h.rw,
            data: ByteBuf::from(data),
            snapshot: false,
            heads,
        };
        let heads = jemput_core::sync::heads_to_wire(&hh.heads());
        let mut response = |doc: PullDoc| SyncResponse {
            scope: vec![format!("{}/{}", h.kelurahan, h.rw)],
            docs: vec![doc],
            cursors: [(
                format!("{}/{}", h.kelurahan, h.rw),
                rng.gen_range(0..100_000u64),
            )]
            .into(),
            ..SyncResponse::default()
        };
        samples.push(cbor(&response(pulled(hh.save_nocompress(), heads.clone()))));
        samples.push(cbor(&response(pulled(changes, heads))));
    }
    let dict =
        zstd::dict::from_samples(&samples, 16 * 1024).unwrap_or_else(|e| panic!("train: {e}"));
    std::fs::write(&out, &dict).unwrap_or_else(|e| panic!("write {out}: {e}"));
    println!(
        "{out}: {} B dictionary from {} samples",
        dict.len(),
        samples.len()
    );
}
