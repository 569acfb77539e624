//! Sessions that end: a token lives 24 h and the device renews it with its key after
//! any time offline; a password change, a disabled user, a logout or a user left with
//! no area each end the session as they should, and the phone keeps its unsent work
//! unless the office ended the device itself.

use std::io::Write;
use std::process::{Command, Stdio};

use jemput_tests::{bin, stderr, stdout, Client, Server};

const KEL: &str = "35.73.01.1007";

/// Runs `cmd` with `input` on its stdin (passwords never in argv).
fn with_stdin(mut cmd: Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

/// A server admin command with `input` on its stdin, insisting on success.
fn admin_with_stdin(data: &std::path::Path, args: &[&str], input: &str) -> String {
    let mut cmd = Command::new(bin("jemput-sync-server"));
    cmd.args(jemput_tests::store_args(data)).args(args);
    let out = with_stdin(cmd, input);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A day passes for this device's token (the server's record of it).
fn expire_tokens(data: &std::path::Path) {
    jemput_sync_server::testing::execute(data, "UPDATE devices SET token_expires_ms = 1")
        .expect("expire");
}

/// The server's record of a device: (token hash, token expiry).
fn token_of(data: &std::path::Path, device: &str) -> (Vec<u8>, i64) {
    jemput_sync_server::testing::device_token(data, device)
        .expect("the test's store")
        .expect("device")
}

fn device_of(c: &Client) -> String {
    let s: serde_json::Value = serde_json::from_str(&c.ok(&["status", "--json"])).expect("json");
    s["device"].as_str().expect("device").to_string()
}

fn pending(c: &Client) -> u64 {
    let s: serde_json::Value = serde_json::from_str(&c.ok(&["status", "--json"])).expect("json");
    s["pending"].as_u64().expect("pending")
}

#[test]
fn sessions_end_and_renew_as_the_office_decides() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "50"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let url = server.url();

    // After a day offline the token has expired: the next sync renews it with the
    // device key and goes on; the visit arrives.
    let k1 = Client::new(tmp.path().join("k1"));
    k1.login(&url, "demo-kader-rw01", "jemput-demo");
    k1.sync();
    let device = device_of(&k1);
    let before = token_of(&data, &device);
    let id = k1.households()[0]["id"].as_str().expect("id").to_string();
    k1.visit(&id, "found", serde_json::json!({}));
    // Meanwhile the office shortened the kelurahan's lock time: the renewal brings it.
    let kelurahan = jemput_sync_server::demo::KELURAHAN;
    Server::admin(
        &data,
        &["kelurahan", "set", kelurahan, "--lock-minutes", "2"],
    );
    expire_tokens(&data);
    let out = k1.sync();
    assert!(out.contains("accepted 1"), "{out}");
    let after = token_of(&data, &device);
    assert_ne!(before.0, after.0, "a new token replaced the old one");
    assert!(after.1 > before.1, "living 24 h from now");
    let config = std::fs::read_to_string(k1.home.join("config.json")).expect("config");
    assert!(config.contains("\"lock_minutes\": 2"), "{config}");

    // A password change ends every session of the user: the phone keeps its work and
    // asks for the new password.
    k1.visit(&id, "found", serde_json::json!({}));
    admin_with_stdin(
        &data,
        &["user", "passwd", "demo-kader-rw01", "--password-stdin"],
        "kata-sandi-baru\n",
    );
    let out = k1.cmd(&["sync"]);
    assert!(
        !out.status.success(),
        "the old session goes on after a password change"
    );
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
    assert_eq!(pending(&k1), 1, "the unsent visit is kept");
    assert!(k1.households().len() > 10, "the households are kept");
    let login = k1.cmd(&[
        "login",
        "--server",
        &url,
        "--user",
        "demo-kader-rw01",
        "--password",
        "jemput-demo",
    ]);
    assert!(!login.status.success(), "the old password is refused");
    let mut login = k1.command();
    login.args([
        "login",
        "--server",
        &url,
        "--user",
        "demo-kader-rw01",
        "--password-stdin",
    ]);
    assert!(with_stdin(login, "kata-sandi-baru\n").status.success());
    assert!(k1.sync().contains("accepted 1"), "the kept visit goes");

    // Logout ends the token on the server; the store stays.
    let device = device_of(&k1);
    k1.ok(&["logout"]);
    assert_eq!(
        token_of(&data, &device).1,
        0,
        "the token ended with the logout"
    );
    let out = k1.cmd(&["sync"]);
    assert!(!out.status.success(), "logged out");
    assert!(k1.households().len() > 10);

    // A disabled user cannot log in, and its devices erase their data at next contact.
    let k2 = Client::new(tmp.path().join("k2"));
    k2.login(&url, "demo-kader-rw02", "jemput-demo");
    k2.sync();
    Server::admin(&data, &["user", "disable", "demo-kader-rw02"]);
    let out = k2.cmd(&["sync"]);
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    assert_eq!(k2.households().len(), 0);
    let k2b = Client::new(tmp.path().join("k2b"));
    assert!(!k2b
        .cmd(&[
            "login",
            "--server",
            &url,
            "--user",
            "demo-kader-rw02",
            "--password",
            "jemput-demo"
        ])
        .status
        .success());
    Server::admin(&data, &["user", "enable", "demo-kader-rw02"]);
    k2b.login(&url, "demo-kader-rw02", "jemput-demo");

    // A kader left with no area: the session stops, and no new one starts.
    let k3 = Client::new(tmp.path().join("k3"));
    k3.login(&url, "demo-kader-rw03", "jemput-demo");
    k3.sync();
    Server::admin(
        &data,
        &[
            "unassign",
            "demo-kader-rw03",
            "--kelurahan",
            KEL,
            "--rw",
            "3",
        ],
    );
    let out = k3.cmd(&["sync"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no area"), "{}", stderr(&out));
    let k3b = Client::new(tmp.path().join("k3b"));
    assert!(!k3b
        .cmd(&[
            "login",
            "--server",
            &url,
            "--user",
            "demo-kader-rw03",
            "--password",
            "jemput-demo"
        ])
        .status
        .success());

    // The office sees every device with its last contact.
    let list: serde_json::Value = serde_json::from_slice(
        &Server::admin(&data, &["devices", "--user", "demo-kader-rw01", "--json"]).stdout,
    )
    .expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2, "two password logins of rw01: {list:?}");
    assert!(list.iter().all(|d| d["last_seen_ms"].as_i64() > Some(0)));
}
