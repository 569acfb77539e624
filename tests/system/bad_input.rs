//! Bad input to the command-line tools: a non-zero exit and one line saying why.

use jemput_tests::{stderr, Client, Server};

fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "must fail");
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn unreachable_server_and_bad_files_fail_with_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    let out = k.cmd(&[
        "login",
        "--server",
        &server.url(),
        "--user",
        "demo-kader-rw02",
        "--password",
        "salah-sekali",
    ]);
    assert!(one_line_error(&out).contains("wrong user name or password"));
    k.login(&server.url(), "demo-kader-rw02", "jemput-demo");
    k.sync();
    let id = k.households()[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let bad = k.home.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"result": "found", "answers": {"floor_material": "emas"}}"#,
    )
    .expect("write");
    let err =
        one_line_error(&k.cmd(&["visit", &id, "--answers", bad.to_str().unwrap_or_default()]));
    assert!(err.contains("floor_material"), "names the criterion: {err}");
    std::fs::write(&bad, r#"{"result": "hilang"}"#).expect("write");
    let err =
        one_line_error(&k.cmd(&["visit", &id, "--answers", bad.to_str().unwrap_or_default()]));
    assert!(err.contains("result"), "{err}");
    std::fs::write(&bad, r#"{"result": "found", "answ"#).expect("write");
    one_line_error(&k.cmd(&["visit", &id, "--answers", bad.to_str().unwrap_or_default()]));
    let err = one_line_error(&k.cmd(&[
        "propose",
        "--head-name",
        "Uji",
        "--address",
        "x",
        "--rw",
        "2",
        "--rt",
        "1",
        "--nik",
        "3.57301E+15",
    ]));
    assert!(err.contains("scientific"), "{err}");
    assert!(!err.contains("3573"), "no NIK echoed: {err}");
    assert_eq!(
        k.households()
            .iter()
            .filter(|r| r["last_visit"].is_string())
            .count(),
        0,
        "nothing was written"
    );

    drop(server);
    let err = one_line_error(&k.cmd(&["sync"]));
    assert!(err.contains("cannot reach server"), "{err}");
}

/// Hostile requests over real HTTP: a million tiny documents, a body too big to send,
/// a zstd bomb. Each gets a clear refusal at once, and the server keeps serving.
#[test]
fn oversized_requests_are_refused_and_the_server_keeps_serving() {
    use jemput_core::sync::{encode, PushDoc, SyncRequest};
    use jemput_tests::http;
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "12"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/login",
        &[("content-type", "application/json")],
        br#"{"user": "demo-kader-rw01", "password": "jemput-demo", "device_name": "x"}"#,
    )
    .expect("login answers");
    assert_eq!(status, 200);
    let token = serde_json::from_slice::<serde_json::Value>(&body).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", jemput_core::sync::CONTENT_TYPE),
    ];
    let send = |body: &[u8]| -> (u16, String) {
        let (status, body) =
            http(&server.addr, "POST", "/v1/sync", &headers, body).expect("server answers");
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    // 100,000 tiny documents: far over 500 per request.
    let many = SyncRequest {
        push: (0..100_000)
            .map(|i| PushDoc {
                id: format!("hh-{i}"),
                changes: serde_bytes::ByteBuf::new(),
            })
            .collect(),
        ..SyncRequest::default()
    };
    let started = std::time::Instant::now();
    let (status, body) = send(&encode(&many));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("too_many"), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // 3 MB of incompressible bytes: over the 2 MiB body cap.
    let noise: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    // The server may answer before reading the whole body: write what it takes.
    let status = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&server.addr).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let head = format!(
            "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            noise.len()
        );
        s.write_all(head.as_bytes()).expect("head");
        let _ = s.write_all(&noise);
        let mut resp = Vec::new();
        let _ = s.read_to_end(&mut resp);
        String::from_utf8_lossy(&resp)
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .expect("a status line")
    };
    assert_eq!(status, 413);
    // A zstd bomb: 64 MB of zeros in a few KB.
    let bomb = zstd::bulk::compress(&vec![0u8; 64 * 1024 * 1024], 19).expect("zstd");
    let (status, body) = send(&bomb);
    assert_eq!(status, 413, "{body}");
    // Still serving.
    let (status, _) = http(&server.addr, "GET", "/healthz", &[], b"").expect("healthz");
    assert_eq!(status, 200);
}

#[test]
fn answers_with_a_result_that_has_no_criteria_are_ignored_with_a_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "57"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    k.login(&server.url(), "demo-kader-rw01", "jemput-demo");
    k.sync();
    let id = k.households()[0]["id"].as_str().expect("id").to_string();
    let file = tmp.path().join("moved.json");
    std::fs::write(
        &file,
        r#"{"result": "moved", "answers": {"meals_per_day": 1, "toilet": "umum"}}"#,
    )
    .expect("write");
    let out = k.cmd(&["visit", &id, "--answers", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "warning: a visit with result moved has no criteria: its 2 answers are ignored"
        ),
        "{}",
        stderr(&out)
    );
    let printed = jemput_tests::stdout(&out);
    assert!(printed.contains("no score"), "{printed}");
    let vid = printed
        .split_whitespace()
        .nth(1)
        .expect("visit id")
        .to_string();
    let shown = k.show(&id);
    let visit = &shown["visits"][&vid];
    assert_eq!(visit["result"], "moved");
    assert_eq!(visit["score"], serde_json::Value::Null);
    assert_eq!(visit["poor"], serde_json::Value::Null);
    assert_eq!(visit["answers"], serde_json::json!({}));
}
