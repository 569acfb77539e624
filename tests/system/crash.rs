//! A process killed mid-write never leaves a half-written household.

use std::process::Stdio;
use std::time::Duration;

use jemput_tests::{Client, Server};
use rand::{Rng, SeedableRng};

#[test]
fn killing_the_client_while_it_writes_never_corrupts_the_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let k = Client::new(tmp.path().join("k"));
    k.login(&server.url(), "demo-kader-rw03", "jemput-demo");
    k.sync();
    drop(server);
    let id = k.households()[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let answers = k.home.join("answers.json");
    std::fs::write(&answers, k.ok(&["answers-template"])).expect("write");

    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut visits_before = 0;
    for round in 0..12 {
        let mut child = k
            .command()
            .args([
                "visit",
                &id,
                "--answers",
                answers.to_str().unwrap_or_default(),
                "--repeat",
                "1000",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..400)));
        child.kill().expect("kill");
        child.wait().expect("reap");
        let report = k.ok(&["check"]);
        assert!(report.contains("consistent"), "round {round}: {report}");
        let visits = k.visit_count(&id);
        assert!(
            visits >= visits_before,
            "round {round}: committed visits never disappear"
        );
        visits_before = visits;
    }
    assert!(
        visits_before > 0,
        "the writer got some visits in before being killed"
    );
}
