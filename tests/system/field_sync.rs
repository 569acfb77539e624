//! Kaders record visits offline, sync through the real server, and see each other's
//! work in their own RW only.

use jemput_tests::{http, summary_number, Client, Server};
use serde_json::{json, Value};

const KEL: &str = "35.73.01.1007";
const PW: &str = "rahasia-uji-123";

fn rws(rows: &[Value]) -> Vec<u64> {
    let mut v: Vec<u64> = rows.iter().filter_map(|r| r["rw"].as_u64()).collect();
    v.sort();
    v.dedup();
    v
}

fn id_in_rw(rows: &[Value], rw: u64, nth: usize) -> String {
    rows.iter()
        .filter(|r| r["rw"].as_u64() == Some(rw))
        .nth(nth)
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("no household #{nth} in RW {rw}"))
        .to_string()
}

#[test]
fn kaders_work_offline_converge_and_stay_in_their_areas() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "11"]);
    for (name, rw) in [("kader-a", "1"), ("kader-b", "001"), ("kader-c", "2")] {
        Server::admin(
            &data,
            &["user", "add", name, "--role", "kader", "--password", PW],
        );
        Server::admin(&data, &["assign", name, "--kelurahan", KEL, "--rw", rw]);
    }
    let mut server = Server::start(&data, "127.0.0.1:0");
    let url = server.url();
    let a = Client::new(tmp.path().join("a"));
    let b = Client::new(tmp.path().join("b"));
    let c = Client::new(tmp.path().join("c"));
    for (cl, name) in [(&a, "kader-a"), (&b, "kader-b"), (&c, "kader-c")] {
        cl.login(&url, name, PW);
        cl.sync();
    }

    // Step 1: each device holds only its own RW.
    let rows_a = a.households();
    assert!(!rows_a.is_empty(), "kader-a got RW 1's households");
    assert_eq!(rws(&rows_a), vec![1], "kader-a holds RW 1 only");
    assert_eq!(rws(&c.households()), vec![2], "kader-c holds RW 2 only");
    assert_eq!(
        rows_a,
        b.households(),
        "the two RW 1 kaders hold the same list"
    );

    // Step 2: offline, the two RW 1 kaders visit the same household with different results.
    let shared = id_in_rw(&rows_a, 1, 0);
    a.visit(
        &shared,
        "found",
        json!({"meals_per_day": 2, "toilet": "umum", "lighting": "bukan listrik"}),
    );
    b.visit(&shared, "moved", json!({}));
    let other = id_in_rw(&rows_a, 1, 1);
    b.visit(&other, "refused", json!({}));
    let rw2 = c.households();
    let c_visited = id_in_rw(&rw2, 2, 0);
    c.visit(&c_visited, "found", json!({"savings": 100000}));

    // Step 3: sync in an order where each sees the other's work; restart the server
    // (killed hard) between syncs: nothing committed may be lost.
    let line = a.sync();
    assert_eq!(summary_number(&line, "pushed"), 1, "{line}");
    server.restart();
    b.sync();
    c.sync();
    server.restart();
    let line = a.sync();
    assert_eq!(
        summary_number(&line, "pulled"),
        2,
        "a receives b's two households: {line}"
    );

    let sa = a.show(&shared);
    let sb = b.show(&shared);
    assert_eq!(sa, sb, "both devices show the identical household");
    assert_eq!(
        sa["visits"].as_object().map(|v| v.len()),
        Some(2),
        "both visits kept"
    );
    let status = sa["conflicts"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["path"] == "status"))
        .unwrap_or_else(|| panic!("a status conflict is reported: {}", sa["conflicts"]));
    let mut values: Vec<&str> = status["values"]
        .as_array()
        .map(|v| v.iter().filter_map(|x| x["value"].as_str()).collect())
        .unwrap_or_default();
    values.sort();
    assert_eq!(values, vec!["found", "moved"]);
    assert_eq!(a.show(&other), b.show(&other), "b's other visit reached a");
    let scored = sa["visits"]
        .as_object()
        .and_then(|v| v.values().find(|v| v["result"] == "found"))
        .expect("a's visit");
    assert_eq!(
        scored["met"],
        json!(["toilet", "lighting", "meals_per_day"]),
        "met criteria in set order"
    );

    // Step 4: kader-c never received anything of RW 1.
    assert_eq!(rws(&c.households()), vec![2]);
    assert!(
        c.cmd(&["show", &shared, "--json"]).status.code() != Some(0),
        "RW 1's household is not on kader-c's device"
    );

    // Step 5: a "nothing changed" sync moves nothing.
    let line = a.sync();
    assert_eq!(summary_number(&line, "pulled"), 0, "{line}");
    assert_eq!(summary_number(&line, "pushed"), 0, "{line}");

    // Step 6: kader-c moves from RW 2 to RW 1. A visit recorded offline in RW 2 before
    // the next sync is refused and stays on the device; the rest of RW 2 goes, RW 1 comes.
    let pending_rw2 = id_in_rw(&rw2, 2, 1);
    c.visit(&pending_rw2, "not_found", json!({}));
    Server::admin(
        &data,
        &["assign", "kader-c", "--kelurahan", KEL, "--rw", "1"],
    );
    Server::admin(
        &data,
        &["unassign", "kader-c", "--kelurahan", KEL, "--rw", "2"],
    );
    let line = c.sync();
    assert_eq!(summary_number(&line, "rejected"), 1, "{line}");
    let rows_c = c.households();
    let rw1_ids: Vec<&Value> = rows_c.iter().filter(|r| r["rw"] == 1).collect();
    assert_eq!(
        rw1_ids.len(),
        a.households().len(),
        "all of RW 1 arrived whole"
    );
    let left: Vec<&Value> = rows_c.iter().filter(|r| r["rw"] == 2).collect();
    assert_eq!(
        left.len(),
        1,
        "only the household with refused work stays from RW 2"
    );
    assert_eq!(left[0]["id"], json!(pending_rw2));
    assert!(
        left[0]["rejected"]
            .as_str()
            .is_some_and(|r| r.contains("outside_area")),
        "shown as rejected: {}",
        left[0]
    );
    assert_eq!(
        c.show(&shared),
        a.show(&shared),
        "c got RW 1's household with all its history"
    );

    // Step 7: the rejected work never blocks later syncs.
    let third = id_in_rw(&rows_c, 1, 2);
    c.visit(&third, "found", json!({}));
    let line = c.sync();
    assert_eq!(summary_number(&line, "pushed"), 1, "{line}");
    assert_eq!(summary_number(&line, "accepted"), 1, "{line}");
    a.sync();
    assert_eq!(a.show(&third), c.show(&third));

    // Step 8: a proposal for a new household reaches the RW's other devices.
    let id = a.ok(&[
        "propose",
        "--head-name",
        "Keluarga Usulan Uji",
        "--address",
        "Jl. Uji No. 1",
        "--rw",
        "1",
        "--rt",
        "3",
    ]);
    let id = id.trim();
    a.sync();
    b.sync();
    let on_b = b.show(id);
    assert_eq!(on_b["proposal"], json!(true));
    assert!(b
        .households()
        .iter()
        .any(|r| r["id"] == id && r["proposal"] == true));

    // Step 9: a proposal outside the kader's areas is refused, nothing of it stored.
    let out_id = a.ok(&[
        "propose",
        "--head-name",
        "Keluarga Luar Uji",
        "--address",
        "Jl. Luar",
        "--rw",
        "9",
        "--rt",
        "1",
    ]);
    let line = a.sync();
    assert_eq!(summary_number(&line, "rejected"), 1, "{line}");
    let op = Client::new(tmp.path().join("op"));
    op.login(&url, "demo-operator", "jemput-demo");
    op.sync();
    assert!(
        op.cmd(&["show", out_id.trim(), "--json"]).status.code() != Some(0),
        "the refused proposal never reached the server"
    );
    assert!(
        op.households().len() > 300,
        "the operator sees the whole kelurahan"
    );

    // Step 10: the sync endpoint answers garbage with 400 and a reason.
    // A token of its own (the device's is sealed in its encrypted store).
    let (_, body) = http(
        &server.addr,
        "POST",
        "/v1/login",
        &[("content-type", "application/json")],
        br#"{"user": "demo-operator", "password": "jemput-demo", "device_name": "raw"}"#,
    )
    .expect("login");
    let cfg: Value = serde_json::from_slice(&body).expect("json");
    let auth = format!("Bearer {}", cfg["token"].as_str().unwrap_or_default());
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/sync",
        &[("Authorization", &auth)],
        b"\x28\xb5\x2f\xfd truncated",
    )
    .expect("server answers");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("bad_request"));
    let (status, _) = http(&server.addr, "POST", "/v1/sync", &[], b"").expect("server answers");
    assert_eq!(status, 401, "no token, no data");
}
