//! The kader's contracts in the headless client: a found visit answers every criterion
//! or marks it "tidak_tahu" (then it is incomplete); answers with a result that carries
//! none are dropped with a warning; the outbox says what waits to be sent and empties
//! with the sync; device-local state never enters `show --json`.

use jemput_tests::{stderr, Client, Server};
use serde_json::{json, Value};

#[test]
fn incomplete_visits_warnings_and_the_outbox() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    k.sync();
    let ids: Vec<String> = k
        .households()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    let file = tmp.path().join("answers.json");
    let visit = |id: &str, body: Value| {
        std::fs::write(&file, body.to_string()).expect("write");
        k.cmd(&["visit", id, "--answers", file.to_str().unwrap_or_default()])
    };

    // Found, two criteria answered, twelve left out: refused, nothing recorded.
    let out = visit(
        &ids[0],
        json!({"result": "found", "answers": {"toilet": "umum", "meals_per_day": 2}}),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("12 criteria have no answer"), "{err}");
    assert!(err.contains("tidak_tahu"), "says how to mark them: {err}");
    assert_eq!(k.visit_count(&ids[0]), 0, "nothing recorded");

    // The twelve marked "tidak_tahu": recorded, incomplete, scored on what is known.
    let mut answers = json!({"toilet": "umum", "meals_per_day": 2});
    for c in &jemput_core::IndicatorSet::bps14().criteria {
        answers
            .as_object_mut()
            .expect("object")
            .entry(c.id.clone())
            .or_insert(json!("tidak_tahu"));
    }
    let out = visit(&ids[0], json!({"result": "found", "answers": answers}));
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = k.show(&ids[0]);
    let v = shown["visits"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("the visit");
    assert_eq!(v["incomplete"], json!(true));
    assert_eq!(v["score"], json!(2));
    assert_eq!(v["unknown"].as_array().map(Vec::len), Some(12));

    // Moved with answers: the answers are dropped with a warning, never an error.
    let out = visit(
        &ids[1],
        json!({"result": "moved", "answers": {"toilet": "umum"}}),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: a visit with result moved has no criteria"),
        "{}",
        stderr(&out)
    );
    let v = k.show(&ids[1])["visits"]
        .as_object()
        .and_then(|m| m.values().next().cloned())
        .expect("the visit");
    assert_eq!(
        (v["score"].clone(), v["poor"].clone()),
        (Value::Null, Value::Null)
    );

    // The outbox: two households, one visit each, waiting; device-local, not in show.
    let outbox: Value = serde_json::from_str(&k.ok(&["outbox", "--json"])).expect("outbox JSON");
    assert_eq!(outbox["waiting"], json!(2), "{outbox}");
    assert_eq!(outbox["unsent_visits"], json!(2));
    assert_eq!(outbox["refused"], json!(0));
    let mut waiting: Vec<&str> = outbox["households"]
        .as_array()
        .expect("households")
        .iter()
        .filter_map(|h| h["id"].as_str())
        .collect();
    waiting.sort();
    let mut expected = vec![ids[0].as_str(), ids[1].as_str()];
    expected.sort();
    assert_eq!(waiting, expected);
    assert!(shown.get("pending").is_none() && shown.get("draft").is_none());
    k.sync();
    let outbox: Value = serde_json::from_str(&k.ok(&["outbox", "--json"])).expect("outbox JSON");
    assert_eq!(outbox["waiting"], json!(0), "sent: {outbox}");
    assert!(k.ok(&["outbox"]).starts_with("0 households waiting"));
}

#[test]
fn a_long_first_sync_reports_each_page_as_it_commits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(
        &data,
        &["demo", "--seed", "12", "--households", "2000", "--rws", "1"],
    );
    let server = Server::start(&data, "127.0.0.1:0");
    let device = jemput_client::Device::open_with(
        &tmp.path().join("k"),
        Box::new(jemput_core::SystemClock),
        &jemput_client::keys::Unlock::KeyFile(tmp.path().join("keys")),
    )
    .expect("device");
    let set = jemput_core::IndicatorSet::bps14();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = jemput_client::SyncClient::new();
    rt.block_on(device.login(
        &client,
        &server.url(),
        None,
        "demo-kader-rw01",
        "jemput-demo",
        "hp",
    ))
    .expect("login");
    let seen = std::sync::Mutex::new(Vec::new());
    let report = rt
        .block_on(client.sync_with_progress(&device, &set, &|p| {
            // Each report comes after its page is committed: the list already has it.
            let listed = device
                .households(None, jemput_core::store::ListFilter::All)
                .map(|r| r.len() as u64)
                .unwrap_or(0);
            seen.lock().expect("lock").push((p.clone(), listed));
        }))
        .expect("sync");
    let seen = seen.into_inner().expect("lock");
    assert!(
        seen.len() >= 2,
        "a first sync of 2,000 households comes in pages: {}",
        seen.len()
    );
    for w in seen.windows(2) {
        assert!(w[1].0.docs_pulled > w[0].0.docs_pulled && w[1].0.bytes_down > w[0].0.bytes_down);
    }
    for (p, listed) in &seen {
        assert_eq!(*listed, p.docs_pulled, "the list holds what was reported");
    }
    let (last, _) = seen.last().expect("one report at least");
    assert!(!last.more, "the last report says nothing more follows");
    assert!(seen[..seen.len() - 1].iter().all(|(p, _)| p.more));
    // Each page but the last says how many are still to come: received + remaining is
    // the whole first sync, 2,000 households.
    for (p, _) in &seen[..seen.len() - 1] {
        assert_eq!(
            p.remaining.map(|r| r + p.docs_pulled),
            Some(2000),
            "received {} of the whole",
            p.docs_pulled
        );
    }
    assert_eq!(last.remaining, None);
    assert_eq!(last.docs_pulled, 2000);
    assert_eq!(report.docs_pulled, 2000);
}
