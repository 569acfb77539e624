//! The audit log: logins, failures, revocations, user changes and exports are recorded
//! in hash chains; `audit verify` passes on the log as written and names an altered
//! entry, and last entries cut off even when the store's heads are rewritten with them
//! (the heads file outside the store still knows).

use jemput_tests::{bin, run, stderr, stdout, Client, Server};

fn verify(data: &std::path::Path) -> std::process::Output {
    run(std::process::Command::new(bin("jemput-sync-server"))
        .arg("--data")
        .arg(data)
        .args(["audit", "verify"]))
}

#[test]
fn security_events_are_chained_and_tampering_is_found() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "52"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    let wrong = k.cmd(&[
        "login",
        "--server",
        &server.url(),
        "--user",
        "demo-kader-rw01",
        "--password",
        "tebakan-salah",
    ]);
    assert!(!wrong.status.success());
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    let status: serde_json::Value =
        serde_json::from_str(&k.ok(&["status", "--json"])).expect("json");
    Server::admin(
        &data,
        &["revoke", status["device"].as_str().expect("device")],
    );
    Server::admin(
        &data,
        &[
            "user",
            "add",
            "kader-baru",
            "--role",
            "kader",
            "--password",
            "rahasia-baru-1",
        ],
    );
    let out = tmp.path().join("update.csv");
    Server::admin(
        &data,
        &[
            "export",
            "--kelurahan",
            "35.73.01.1007",
            "--cutoff",
            "2099-01-01",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    drop(server);

    let shown = stdout(&Server::admin(&data, &["audit", "show"]));
    let kinds: Vec<String> = shown
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json line")["kind"]
                .as_str()
                .expect("kind")
                .to_string()
        })
        .collect();
    for kind in [
        "login_failed",
        "login",
        "device_revoked",
        "user_changed",
        "export",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    assert!(
        !shown.contains("jemput-demo") && !shown.contains("rahasia-baru-1"),
        "a password in the log"
    );
    let ok = verify(&data);
    assert!(ok.status.success(), "{}", stderr(&ok));

    // Someone with the database alters an entry (the table refuses updates: they must
    // drop its guard first).
    let db_path = data.join("jemput-server.db");
    std::fs::copy(&db_path, tmp.path().join("clean.db")).expect("backup");
    let db = rusqlite::Connection::open(&db_path).expect("db");
    assert!(
        db.execute(
            "UPDATE audit SET by = 'orang-lain' WHERE kind = 'login'",
            []
        )
        .is_err(),
        "the log is append-only"
    );
    db.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET by = 'orang-lain' WHERE kind = 'login';",
    )
    .expect("tamper");
    drop(db);
    let bad = verify(&data);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("altered"), "{}", stderr(&bad));

    // Or cuts off the last entry and rewrites the store's head to match.
    std::fs::copy(tmp.path().join("clean.db"), &db_path).expect("restore");
    let _ = std::fs::remove_file(data.join("jemput-server.db-wal"));
    let db = rusqlite::Connection::open(&db_path).expect("db");
    db.execute_batch(
        "DROP TRIGGER audit_no_delete;
         DELETE FROM audit WHERE chain = 'server' AND seq = (SELECT max(seq) FROM audit WHERE chain = 'server');
         UPDATE audit_heads SET seq = seq - 1,
             hash = (SELECT hash FROM audit a WHERE a.chain = 'server' ORDER BY seq DESC LIMIT 1)
         WHERE chain = 'server';",
    )
    .expect("cut");
    drop(db);
    let bad = verify(&data);
    assert!(!bad.status.success(), "a cut-off end went unnoticed");
    assert!(
        stderr(&bad).contains("audit-heads.json"),
        "{}",
        stderr(&bad)
    );
}
