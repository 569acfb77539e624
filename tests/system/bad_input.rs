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
