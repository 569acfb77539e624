//! A lost phone: the office revokes its device, and at its next contact the device
//! erases its households, keys and token at once, says so, and counts the unsent work
//! that went with them (the office visits again).

use jemput_tests::{contains, stderr, Client, Server};

#[test]
fn a_revoked_device_erases_everything_at_its_next_sync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "49"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    k.sync();
    let households = k.households();
    assert!(households.len() > 10);
    // What must not survive: the names and NIKs this device held.
    let mut secrets: Vec<String> = Vec::new();
    for h in households.iter().take(10) {
        let shown = k.show(h["id"].as_str().expect("id"));
        for m in shown["members"].as_object().expect("members").values() {
            for f in ["nik", "name"] {
                if let Some(v) = m[f].as_str().filter(|v| v.len() >= 6) {
                    secrets.push(v.to_string());
                }
            }
        }
    }
    assert!(secrets.len() > 10);
    // Two visits that never reach the server.
    for h in households.iter().take(2) {
        k.visit(
            h["id"].as_str().expect("id"),
            "found",
            serde_json::json!({}),
        );
    }
    let status: serde_json::Value =
        serde_json::from_str(&k.ok(&["status", "--json"])).expect("status json");
    let device = status["device"].as_str().expect("device").to_string();
    Server::admin(&data, &["revoke", &device]);

    let out = k.cmd(&["sync"]);
    assert!(!out.status.success(), "a revoked device does not sync");
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    assert_eq!(k.households().len(), 0, "its households are gone");
    let status: serde_json::Value =
        serde_json::from_str(&k.ok(&["status", "--json"])).expect("status json");
    assert_eq!(status["state"], "revoked", "{status}");
    assert_eq!(status["discarded_visits"], 2, "{status}");
    assert!(!k.home.join("config.json").exists(), "the token is gone");
    // Nothing of the families is left in the home folder, byte by byte.
    for entry in std::fs::read_dir(&k.home).expect("home") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            for s in &secrets {
                assert!(
                    !contains(&bytes, s.as_bytes()),
                    "{} still holds family data",
                    path.display()
                );
            }
        }
    }
    // The same phone can be let in again, as a new device.
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    k.sync();
    assert_eq!(k.households().len(), households.len());
}
