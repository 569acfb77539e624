//! A visit recorded on a home while a sync on the same home commits pulled changes:
//! neither is lost (the edit merges what the sync stored, inside its write
//! transaction), fifty times over.

use jemput_tests::{Client, Server};
use serde_json::json;

const ROUNDS: usize = 50;

#[test]
fn a_visit_and_a_sync_on_one_home_lose_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "43"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let url = server.url();
    let home = Client::new(tmp.path().join("home"));
    let other = Client::new(tmp.path().join("other"));
    for c in [&home, &other] {
        c.login(&url, "demo-kader-rw01", "jemput-demo");
        c.sync();
    }
    let id = home.households()[0]["id"].as_str().expect("id").to_string();
    for _ in 0..ROUNDS {
        // The server gets another device's visit; this home pulls it while it records
        // its own.
        other.visit(&id, "found", json!({"meals_per_day": 1}));
        other.sync();
        let sync = home
            .command()
            .arg("sync")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start sync");
        home.visit(&id, "found", json!({"meals_per_day": 2}));
        let out = sync.wait_with_output().expect("sync");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    home.sync();
    other.sync();
    assert_eq!(home.visit_count(&id), 2 * ROUNDS, "every visit on the home");
    assert_eq!(other.visit_count(&id), 2 * ROUNDS, "and on the server");
    assert_eq!(home.show(&id), other.show(&id));
}
