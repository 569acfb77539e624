//! A server answering as many syncs as it may at once (`--max-in-flight`) tells the
//! rest it is busy (`503` with `Retry-After`) rather than queueing them; devices come
//! back after the time it names, and every sync ends complete.

use std::process::Stdio;

use jemput_tests::{contains, Client, Server, Tap};

const DEVICES: usize = 8;

#[test]
fn a_busy_server_says_when_to_come_back_and_every_device_does() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "44"]);
    // One sync at a time, each held 200 ms (debug builds): the others must be told.
    let server = Server::start_with_env(
        &data,
        "127.0.0.1:0",
        &["--max-in-flight", "1"],
        &[("JEMPUT_TEST_SYNC_HOLD_MS", "200")],
    );
    let tap = Tap::start(&server.addr);
    let url = format!("http://{}", tap.addr);
    let clients: Vec<Client> = (0..DEVICES)
        .map(|i| Client::new(tmp.path().join(format!("device-{i}"))))
        .collect();
    for c in &clients {
        c.login(&url, "demo-kader-rw01", "jemput-demo");
    }
    let syncs: Vec<_> = clients
        .iter()
        .map(|c| {
            c.command()
                .arg("sync")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start sync")
        })
        .collect();
    for s in syncs {
        let out = s.wait_with_output().expect("sync");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let seen = tap.seen();
    let busy = seen
        .windows(b"503 Service Unavailable".len())
        .filter(|w| w == b"503 Service Unavailable")
        .count();
    assert!(busy > 0, "no device was told the server is busy");
    assert!(
        contains(&seen, b"retry-after: 1"),
        "503 without Retry-After"
    );
    // Every device holds its RW whole, as the server does.
    let listed = Server::admin(
        &data,
        &[
            "households",
            "--json",
            "--kelurahan",
            "35.73.01.1007",
            "--rw",
            "1",
        ],
    );
    let expected = serde_json::from_slice::<Vec<serde_json::Value>>(&listed.stdout)
        .expect("households json")
        .len();
    assert!(expected > 0);
    for c in &clients {
        assert_eq!(c.households().len(), expected, "a device missed households");
    }
}
