//! A restore from last night's backup loses nothing any device still holds: back up
//! while a kader syncs, sync more visits (one by a device that logs in only after the
//! backup) and a proposed household, restore, sync — every visit is on the server
//! again.
//! On SQLite with `backup`/`restore`; on PostgreSQL with pg_dump, pg_restore and
//! `restored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use jemput_tests::{run, stderr, Client, Server};
use serde_json::{json, Value};

const KEL: &str = "35.73.01.1007";
const PW: &str = "rahasia-uji-123";

fn ids_in_rw(c: &Client, rw: u64) -> Vec<String> {
    c.households()
        .iter()
        .filter(|r| r["rw"].as_u64() == Some(rw))
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect()
}

fn status(c: &Client) -> Value {
    serde_json::from_str(&c.ok(&["status"])).expect("status JSON")
}

/// Debian's PostgreSQL client tools (not on PATH).
fn pg_tool(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL installed")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().expect("pg tool")
}

/// Backs the store up to `file` (while it serves).
fn backup(data: &Path, file: &Path) {
    match jemput_sync_server::testing::database_for(data).expect("test database") {
        Some(url) => {
            let out = run(Command::new(pg_tool("pg_dump"))
                .args(["--format=custom", "--file"])
                .arg(file)
                .arg(&url));
            assert!(out.status.success(), "pg_dump: {}", stderr(&out));
        }
        None => {
            let out = Server::admin(data, &["backup", "--out", &file.to_string_lossy()]);
            assert!(
                jemput_tests::stdout(&out).contains("backup written"),
                "{}",
                jemput_tests::stdout(&out)
            );
        }
    }
}

/// Restores `file` over the store (the server stopped) and gives it a new identity.
fn restore(data: &Path, file: &Path) {
    match jemput_sync_server::testing::database_for(data).expect("test database") {
        Some(url) => {
            let out = run(Command::new(pg_tool("pg_restore"))
                .args(["--clean", "--if-exists", "--single-transaction", "--dbname"])
                .arg(&url)
                .arg(file));
            assert!(out.status.success(), "pg_restore: {}", stderr(&out));
            Server::admin(data, &["restored"]);
        }
        None => {
            Server::admin(data, &["restore", &file.to_string_lossy()]);
        }
    }
}

#[test]
fn a_restore_from_a_backup_loses_nothing_devices_hold() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(
        &data,
        &["demo", "--seed", "5", "--households", "40", "--rws", "2"],
    );
    for (name, role, rw) in [
        ("kader-a", "kader", Some("1")),
        ("kader-b", "kader", Some("1")),
        ("kader-c", "kader", Some("2")),
        ("kader-d", "kader", Some("1")),
        ("operator", "operator", None),
    ] {
        Server::admin(
            &data,
            &["user", "add", name, "--role", role, "--password", PW],
        );
        let mut assign = vec!["assign", name, "--kelurahan", KEL];
        if let Some(rw) = rw {
            assign.extend(["--rw", rw]);
        }
        Server::admin(&data, &assign);
    }
    let mut server = Server::start(&data, "127.0.0.1:0");
    let url = server.url();
    let client = |name: &str| {
        let c = Client::new(tmp.path().join(name));
        c.login(&url, name, PW);
        c.sync();
        c
    };
    let (a, b, c) = (client("kader-a"), client("kader-b"), client("kader-c"));
    let rw1 = ids_in_rw(&a, 1);
    let rw2 = ids_in_rw(&c, 2);
    assert!(
        rw1.len() >= 5 && rw2.len() >= 8,
        "demo RWs: {} and {}",
        rw1.len(),
        rw2.len()
    );
    let id_before = Server::admin(&data, &["server-id"]);
    let id_before = jemput_tests::stdout(&id_before).trim().to_string();

    // Before the backup: a visit the backup holds.
    a.visit(&rw1[0], "found", json!({"meals_per_day": 2}));
    a.sync();

    // The backup, taken while kader-c records and syncs visits in RW 2.
    let file = tmp.path().join("nightly.backup");
    let writer = {
        let c_home = tmp.path().join("kader-c");
        let rw2 = rw2.clone();
        std::thread::spawn(move || {
            let c = Client::new(c_home);
            for id in rw2.iter().take(6) {
                c.visit(id, "found", json!({"savings": 1}));
                c.sync();
            }
        })
    };
    backup(&data, &file);
    writer.join().expect("the writer during the backup");
    c.visit(&rw2[6], "refused", json!({}));
    c.sync();

    // After the backup, all acknowledged by the server:
    // a visits again; b pulls it (a's phone is then lost: b alone holds a's visit).
    a.visit(&rw1[1], "not_found", json!({}));
    a.sync();
    b.sync();
    // b's own visit and a household b proposes.
    b.visit(&rw1[2], "moved", json!({}));
    let proposed = b.ok(&[
        "propose",
        "--head-name",
        "Keluarga Usulan Pulih",
        "--address",
        "Jl. Pulih No. 2",
        "--rw",
        "1",
        "--rt",
        "1",
    ]);
    let proposed = proposed.trim().to_string();
    b.sync();
    // A device that first logs in after the backup: the restored server never met it.
    let d = client("kader-d");
    d.visit(&rw1[3], "died", json!({}));
    d.sync();
    b.sync();
    // What the devices hold: b all of RW 1's new work (d's pulled), c RW 2's.
    let expected: Vec<(String, usize)> = [&rw1[0], &rw1[1], &rw1[2], &rw1[3], &proposed]
        .into_iter()
        .map(|id| (id.clone(), b.visit_count(id)))
        .chain(rw2.iter().take(7).map(|id| (id.clone(), c.visit_count(id))))
        .collect();

    // The server is lost and restored from the night's backup.
    server.kill();
    restore(&data, &file);
    let id_after = jemput_tests::stdout(&Server::admin(&data, &["server-id"]))
        .trim()
        .to_string();
    assert_ne!(id_before, id_after, "a restored store has a new identity");
    let verify = run(Command::new(jemput_tests::bin("jemput-sync-server"))
        .args(jemput_tests::store_args(&data))
        .args(["audit", "verify"]));
    assert!(
        verify.status.success(),
        "audit verify after a restore: {}",
        stderr(&verify)
    );
    server.restart();
    // The restored server lacks what came after the backup.
    let early = client("operator");
    for id in [&rw1[1], &rw1[2], &rw1[3], &rw2[6]] {
        let on_server = early.visit_count(id);
        let held = expected
            .iter()
            .find(|(e, _)| e == id)
            .map_or(0, |(_, n)| *n);
        assert!(
            on_server < held,
            "{id}: the backup has {on_server} visits, devices {held}"
        );
    }
    assert!(
        early.cmd(&["show", &proposed, "--json"]).status.code() != Some(0),
        "the household proposed after the backup is not on the restored server"
    );

    // b starts again: it relays a's visit (a's device is known to the backup) and sends
    // its own; d's visit, by a device the restored server never met, cannot be
    // attributed and stays on b, listed as unconfirmed.
    let line = b.sync();
    assert!(
        line.contains("restored"),
        "b is told the server was restored: {line}"
    );
    let st = status(&b);
    assert_eq!(st["restarting"], json!(false), "{st}");
    assert_eq!(st["unconfirmed"], json!([rw1[3].clone()]), "{st}");

    // c starts again: its visits made during and after the backup go again.
    let line = c.sync();
    assert!(
        line.contains("restored"),
        "c is told the server was restored: {line}"
    );
    // d's token and device are gone with the restore: it logs in again (its work
    // stays) and sends its own visit.
    assert!(
        d.cmd(&["sync"]).status.code() != Some(0),
        "d's session does not exist on the restored server"
    );
    d.login(&url, "kader-d", PW);
    d.sync();
    b.sync();
    assert_eq!(
        status(&b)["unconfirmed"],
        json!([]),
        "d's visit is the server's now"
    );

    // The operator's device (which met the restored server) and a fresh one see every
    // visit any device held.
    early.sync();
    let fresh = Client::new(tmp.path().join("operator-2"));
    fresh.login(&url, "operator", PW);
    fresh.sync();
    for (id, n) in &expected {
        assert_eq!(
            fresh.visit_count(id),
            *n,
            "household {id} after the restore"
        );
        assert_eq!(
            early.visit_count(id),
            *n,
            "household {id} on the early device"
        );
    }
}
