//! Sync by file when no network works: signed bundles, encrypted to the server and the
//! devices of the same area, carried between devices and to the server, merging in any
//! order, any number of times; altered or foreign bundles, and bundles of another area,
//! are refused with nothing applied.

use jemput_tests::{stderr, Client, Server};
use serde_json::json;

#[test]
fn bundles_carry_work_between_devices_and_to_the_server() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    // The server's own keys in a file of their own, as an office would run it.
    let key_file = tmp.path().join("server-keys.json");
    let keys = key_file.to_str().expect("path");
    Server::admin(&data, &["--key-file", keys, "demo", "--seed", "41"]);
    let mut server = Server::start_tls_with(&data, "127.0.0.1:0", false, &["--key-file", keys]);
    let url = server.url();
    let k1 = Client::new(tmp.path().join("k1"));
    let k2 = Client::new(tmp.path().join("k2"));
    let k3 = Client::new(tmp.path().join("k3"));
    // A kader of another RW: bundles of RW 1 are not encrypted to this phone.
    let other_rw = Client::new(tmp.path().join("rw02"));
    for c in [&k1, &k2, &k3] {
        c.login(&url, "demo-kader-rw01", "jemput-demo");
    }
    other_rw.login(&url, "demo-kader-rw02", "jemput-demo");
    // Each device learns the bundle keys of its area's devices at its sync.
    for c in [&k1, &k2, &k3, &other_rw] {
        c.sync();
    }
    // No network from here on.
    server.kill();
    let id = k1.households()[0]["id"].as_str().expect("id").to_string();
    k1.visit(&id, "found", json!({"meals_per_day": 1}));
    let f1 = tmp.path().join("k1.jemput");
    k1.ok(&["bundle", "export", f1.to_str().unwrap_or_default()]);

    // The file shows nothing of the family in clear; a phone of another RW cannot open it.
    let file = std::fs::read(&f1).expect("read bundle");
    let shown = k1.show(&id);
    for m in shown["members"].as_object().expect("members").values() {
        for field in ["name", "nik"] {
            let v = m[field].as_str().unwrap_or_default();
            assert!(
                v.len() < 4 || !jemput_tests::contains(&file, v.as_bytes()),
                "the bundle file shows a member's {field}"
            );
        }
    }
    let out = other_rw.cmd(&["bundle", "import", f1.to_str().unwrap_or_default()]);
    assert!(
        !out.status.success() && stderr(&out).contains("encrypted for other devices"),
        "{}",
        stderr(&out)
    );

    // Any number of times, any order.
    for _ in 0..2 {
        let out = k2.ok(&["bundle", "import", f1.to_str().unwrap_or_default()]);
        assert!(out.contains("applied: 1 households"), "{out}");
    }
    assert_eq!(k2.visit_count(&id), 1, "imported twice, applied once");
    k2.visit(&id, "refused", json!({}));
    let f2 = tmp.path().join("k2.jemput");
    k2.ok(&["bundle", "export", f2.to_str().unwrap_or_default()]);
    k1.ok(&["bundle", "import", f2.to_str().unwrap_or_default()]);
    k3.ok(&["bundle", "import", f2.to_str().unwrap_or_default()]);
    k3.ok(&["bundle", "import", f1.to_str().unwrap_or_default()]);
    assert_eq!(k1.show(&id), k2.show(&id), "merged on both devices");
    assert_eq!(
        k3.show(&id),
        k1.show(&id),
        "the other order gives the same household"
    );
    assert_eq!(k1.visit_count(&id), 2);

    // An altered bundle is refused and nothing of it applied.
    let before = k3.ok(&["heads", "--json"]);
    let mut bytes = std::fs::read(&f1).expect("read");
    let n = bytes.len();
    bytes[n - 40] ^= 0x55;
    let bad = tmp.path().join("altered.jemput");
    std::fs::write(&bad, &bytes).expect("write");
    let out = k3.cmd(&["bundle", "import", bad.to_str().unwrap_or_default()]);
    assert!(!out.status.success(), "an altered bundle is refused");
    let err = stderr(&out);
    assert!(err.contains("altered") || err.contains("damaged"), "{err}");
    assert_eq!(k3.ok(&["heads", "--json"]), before, "nothing applied");

    // A bundle from a device of another server is refused.
    let other_data = tmp.path().join("other");
    Server::admin(&other_data, &["demo", "--seed", "41"]);
    let other = Server::start(&other_data, "127.0.0.1:0");
    let stranger = Client::new(tmp.path().join("stranger"));
    stranger.login(&other.url(), "demo-kader-rw01", "jemput-demo");
    stranger.sync();
    stranger.visit(&id, "died", json!({}));
    let foreign = tmp.path().join("foreign.jemput");
    stranger.ok(&["bundle", "export", foreign.to_str().unwrap_or_default()]);
    drop(other);
    // Encrypted to the other server's devices, it does not even open here.
    let out = k3.cmd(&["bundle", "import", foreign.to_str().unwrap_or_default()]);
    assert!(
        !out.status.success() && stderr(&out).contains("encrypted for other devices"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        k3.ok(&["heads", "--json"]),
        before,
        "nothing of a foreign bundle applied"
    );
    let out = std::process::Command::new(jemput_tests::bin("jemput-sync-server"))
        .args(jemput_tests::store_args(&data))
        .args([
            "--key-file",
            keys,
            "bundle-import",
            foreign.to_str().unwrap_or_default(),
        ])
        .output()
        .expect("run");
    assert!(
        !out.status.success() && stderr(&out).contains("encrypted for other devices"),
        "the server refuses a foreign bundle too: {}",
        stderr(&out)
    );

    // The server takes a bundle from an operator's hands; devices relay what they got.
    let k4 = Client::new(tmp.path().join("k4"));
    let id2 = k1.households()[1]["id"].as_str().expect("id").to_string();
    k1.visit(&id2, "moved", json!({}));
    let f3 = tmp.path().join("k1-second.jemput");
    k1.ok(&["bundle", "export", f3.to_str().unwrap_or_default()]);
    let out = Server::admin(
        &data,
        &[
            "--key-file",
            keys,
            "bundle-import",
            f3.to_str().unwrap_or_default(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 households accepted"));
    let server = Server::start_tls_with(&data, "127.0.0.1:0", false, &["--key-file", keys]);
    k4.login(&server.url(), "demo-operator", "jemput-demo");
    k4.sync();
    assert_eq!(
        k4.visit_count(&id),
        2,
        "the server has both devices' visits"
    );
    assert_eq!(k4.visit_count(&id2), 1);
    for c in [&k1, &k2, &k3] {
        let cfg = c.home.join("config.json");
        let text = std::fs::read_to_string(&cfg).expect("config");
        let old = text
            .split("\"server\": \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        std::fs::write(&cfg, text.replace(&old, &server.url()))
            .expect("point at the restarted server");
        c.sync();
    }
    assert_eq!(
        k3.show(&id),
        k4.show(&id),
        "every device converged after the link returned"
    );
    assert_eq!(k2.show(&id2), k4.show(&id2));
}
