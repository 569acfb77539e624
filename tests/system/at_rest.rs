//! A phone that can be lost: the device's store is encrypted (SQLCipher), the token is
//! inside it, and nothing in the home folder — read byte by byte — holds a NIK, a
//! member's name or the token. The store opens with its key file (outside the home)
//! or with the PIN it was made with, never with a wrong one.

use jemput_tests::{contains, stderr, Client, Server, Tap};

#[test]
fn the_home_folder_holds_no_nik_name_or_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "53"]);
    let server = Server::start(&data, "127.0.0.1:0");
    // Through a tap on this machine's plain link: the test learns the token the server
    // hands out, to look for it on the disk.
    let tap = Tap::start(&server.addr);
    let k = Client::new(tmp.path().join("k"));
    let out = k.ok(&[
        "login",
        "--server",
        &format!("http://{}", tap.addr),
        "--user",
        "demo-kader-rw01",
        "--password",
        "jemput-demo",
    ]);
    assert!(
        out.contains("key file"),
        "login says where the key is: {out}"
    );
    let seen = String::from_utf8_lossy(&tap.seen()).to_string();
    let token = seen
        .split("\"token\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the token went by")
        .to_string();
    k.sync();
    let households = k.households();
    let id = households[0]["id"].as_str().expect("id").to_string();
    k.visit(&id, "found", serde_json::json!({}));
    let mut secrets = vec![token];
    for h in households.iter().take(15) {
        let shown = k.show(h["id"].as_str().expect("id"));
        for m in shown["members"].as_object().expect("members").values() {
            for f in ["nik", "name"] {
                if let Some(v) = m[f].as_str().filter(|v| v.len() >= 6) {
                    secrets.push(v.to_string());
                }
            }
        }
    }
    assert!(secrets.len() > 20);
    let mut files = 0;
    for entry in std::fs::read_dir(&k.home).expect("home") {
        let path = entry.expect("entry").path();
        if !path.is_file() {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).expect("read");
        for s in &secrets {
            assert!(
                !contains(&bytes, s.as_bytes()),
                "{} holds a secret in clear",
                path.display()
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(
                mode & 0o077,
                0,
                "{} is readable by others ({mode:o})",
                path.display()
            );
        }
    }
    assert!(files >= 3, "store, keys and config at least");
    // Plain SQLite cannot read it.
    let plain = rusqlite::Connection::open(k.home.join("jemput.db")).expect("open");
    assert!(plain
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
        .is_err());

    // Without its key file the store stays shut, with a clear error.
    let key_dir = k.home.with_extension("config");
    std::fs::rename(&key_dir, tmp.path().join("moved-keys")).expect("move keys");
    let out = k.cmd(&["households", "--json"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("key file"), "{}", stderr(&out));
    std::fs::rename(tmp.path().join("moved-keys"), &key_dir).expect("restore keys");
    assert_eq!(k.households().len(), households.len());
}

#[test]
fn a_pin_opens_the_store_and_a_wrong_one_does_not() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("p");
    let run = |pin: Option<&str>, args: &[&str]| {
        let mut cmd = std::process::Command::new(jemput_tests::bin("jemput"));
        cmd.env("XDG_CONFIG_HOME", home.with_extension("config"))
            .env_remove("JEMPUT_PIN")
            .arg("--home")
            .arg(&home)
            .args(args);
        if let Some(p) = pin {
            cmd.env("JEMPUT_PIN", p);
        }
        jemput_tests::run(&mut cmd)
    };
    let short = run(Some("1234"), &["households", "--json"]);
    assert!(!short.status.success());
    assert!(stderr(&short).contains("6 digits"), "{}", stderr(&short));
    assert!(run(Some("482913"), &["households", "--json"])
        .status
        .success());
    let wrong = run(Some("482914"), &["households", "--json"]);
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("wrong PIN"), "{}", stderr(&wrong));
    let none = run(None, &["households", "--json"]);
    assert!(!none.status.success());
    assert!(stderr(&none).contains("PIN"), "{}", stderr(&none));
    assert!(run(Some("482913"), &["households", "--json"])
        .status
        .success());
}

#[test]
fn ten_wrong_pins_in_a_row_erase_the_store_and_say_what_was_lost() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "54"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    // A store made with a PIN: every command gives it.
    let jemput = |pin: &str, args: &[&str]| {
        let mut cmd = k.command();
        jemput_tests::run(cmd.env("JEMPUT_PIN", pin).args(args))
    };
    let ok = |args: &[&str]| {
        let out = jemput("482913", args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        jemput_tests::stdout(&out)
    };
    ok(&jemput_tests::login_args(
        &server.url(),
        None,
        "demo-kader-rw01",
        "jemput-demo",
    ));
    ok(&["sync"]);
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&["households", "--json"])).expect("json");
    let id = list[0]["id"].as_str().expect("id").to_string();
    let answers = tmp.path().join("answers.json");
    let mut filled =
        serde_json::from_value(serde_json::json!({"toilet": "umum"})).expect("answers");
    jemput_core::IndicatorSet::bps14().mark_unanswered_unknown(&mut filled);
    std::fs::write(
        &answers,
        serde_json::json!({"result": "found", "answers": filled}).to_string(),
    )
    .expect("answers");
    ok(&["visit", &id, "--answers", answers.to_str().expect("path")]);
    let with_pin = |pin: &str| jemput(pin, &["households", "--json"]);
    // Stands in for the 30 s each wrong PIN waits from the fifth on: the clock moves.
    let wait_over = || {
        let path = k.home.join("lock.json");
        let mut lock: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("lock.json")).expect("json");
        lock["wait_until_ms"] = 0.into();
        std::fs::write(&path, lock.to_string()).expect("write lock.json");
    };
    for n in 1..=5 {
        let wrong = with_pin("000000");
        assert!(!wrong.status.success());
        assert!(
            stderr(&wrong).contains(&format!("wrong PIN ({n} of 10")),
            "{}",
            stderr(&wrong)
        );
    }
    let during_wait = with_pin("482913");
    assert!(!during_wait.status.success(), "the right PIN waits too");
    assert!(
        stderr(&during_wait).contains("try again in"),
        "{}",
        stderr(&during_wait)
    );
    wait_over();
    assert!(with_pin("482913").status.success(), "the right PIN opens");
    for n in 1..=9 {
        wait_over();
        let wrong = with_pin("000000");
        assert!(
            stderr(&wrong).contains(&format!("wrong PIN ({n} of 10")),
            "{}",
            stderr(&wrong)
        );
    }
    assert!(k.home.join("jemput.db").exists());
    wait_over();
    let tenth = with_pin("000000");
    assert!(!tenth.status.success());
    assert!(
        stderr(&tenth).contains("erased (1 unsent visits lost)"),
        "{}",
        stderr(&tenth)
    );
    for gone in ["keys.json", "jemput.db", "config.json"] {
        assert!(!k.home.join(gone).exists(), "{gone} is still there");
    }
    // Not even the key file opens the old store: a new, empty one is made.
    assert!(k.households().is_empty());
}
