//! A household the office moves to another RW travels whole to the new RW's devices
//! and leaves the old RW's devices.

use jemput_tests::{summary_number, Client, Server};
use serde_json::json;

#[test]
fn a_household_moved_to_another_rw_follows_its_new_kader() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "4"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let old = Client::new(tmp.path().join("old"));
    let new = Client::new(tmp.path().join("new"));
    old.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    new.login(&server.url(), "demo-kader-rw02", "jemput-demo");
    old.sync();
    new.sync();
    let id = old.households()[0]["id"].as_str().expect("id").to_string();
    old.visit(&id, "found", json!({"meals_per_day": 1}));
    old.sync();

    Server::admin(&data, &["move", &id, "--rw", "2", "--rt", "4"]);
    let line = old.sync();
    assert_eq!(summary_number(&line, "removed"), 1, "{line}");
    assert!(
        old.households().iter().all(|r| r["id"] != id.as_str()),
        "left RW 1's device"
    );
    let line = new.sync();
    assert_eq!(summary_number(&line, "pulled"), 1, "{line}");
    let moved = new.show(&id);
    assert_eq!(
        (
            moved["identity"]["rw"].clone(),
            moved["identity"]["rt"].clone()
        ),
        (json!(2), json!(4))
    );
    assert_eq!(
        moved["visits"].as_object().map(|v| v.len()),
        Some(1),
        "with its history"
    );
    let row = new
        .households()
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .expect("listed");
    assert_eq!(row["rw"], json!(2));
    let out = std::process::Command::new(jemput_tests::bin("jemput-sync-server"))
        .args(jemput_tests::store_args(&data))
        .args(["move", "hh-tidak-ada", "--rw", "2", "--rt", "1"])
        .output()
        .expect("run");
    assert!(!out.status.success(), "moving an unknown household fails");
}
