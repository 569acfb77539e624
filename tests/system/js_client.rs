//! The protocol is enough: a client written in JavaScript from `docs/protocol.md` alone
//! (`tests/js-client/client.mjs`: only @automerge/automerge, a CBOR and a zstd library
//! from npm) logs in, pulls, records a visit and pushes it; a `jemput` device then
//! shows that visit with the score the indicator set gives its answers.

use std::collections::BTreeMap;

use jemput_core::indicators::Answer;
use jemput_core::IndicatorSet;
use jemput_tests::{Client, Server};

#[test]
fn a_client_in_another_language_records_a_visit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "44"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let out = std::process::Command::new("node")
        .arg(root.join("tests/js-client/client.mjs"))
        .arg(server.url())
        .args(["demo-kader-rw01", "jemput-demo"])
        .arg(root.join("core/dict/sync.zdict"))
        .output()
        .expect("node runs (scripts/setup.sh installs tests/js-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the JS client prints one JSON line");
    let id = line["household"].as_str().expect("household");
    let vid = line["visit"].as_str().expect("visit");

    let k = Client::new(tmp.path().join("k1"));
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    k.sync();
    let hh = k.show(id);
    let visit = &hh["visits"][vid];
    assert_eq!(visit["result"], "found", "{visit}");
    assert_eq!(visit["kader"], "demo-kader-rw01");
    assert_eq!(hh["status"], "found");

    let set = IndicatorSet::bps14();
    let answers: BTreeMap<String, Answer> =
        serde_json::from_value(line["answers"].clone()).expect("answers");
    let size = visit["size"].as_u64().expect("size") as usize;
    let expected = set.score(&answers, size);
    assert_eq!(visit["score"], expected.score, "{visit}");
    assert_eq!(visit["met"], serde_json::json!(expected.met));
    assert_eq!(
        visit["unanswered"].as_array().map(Vec::len),
        Some(14 - answers.len())
    );
}
