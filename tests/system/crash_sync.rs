//! Kill the client, and separately the server, at random points during sync (many
//! seeds): after a restart everything converges, nothing lost, nothing doubled.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use jemput_tests::{Client, Server};
use rand::{Rng, SeedableRng};
use serde_json::json;

fn heads(out: &str) -> BTreeMap<String, Vec<String>> {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("heads: {e}"))
}

#[test]
fn syncs_killed_at_random_points_still_converge() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "51"]);
    let mut server = Server::start(&data, "127.0.0.1:0");
    let a = Client::new(tmp.path().join("a"));
    let b = Client::new(tmp.path().join("b"));
    for c in [&a, &b] {
        c.login(&server.url(), "demo-kader-rw02", "jemput-demo");
        c.sync();
    }
    let ids: Vec<String> = a
        .households()
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for seed in 0..12u64 {
        // Both devices add work offline.
        for c in [&a, &b] {
            let id = &ids[rng.gen_range(0..ids.len())];
            c.visit(id, "found", json!({"meals_per_day": 2}));
            *expected.entry(id.clone()).or_default() += 1;
        }
        let delay = Duration::from_millis(rng.gen_range(0..120));
        if seed % 2 == 0 {
            // The client dies mid-sync.
            let mut child = a
                .command()
                .arg("sync")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sync");
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
        } else {
            // The server dies mid-sync (SIGKILL), and comes back on the same address.
            let mut child = b
                .command()
                .args(["sync", "--retry-for", "60"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sync");
            std::thread::sleep(delay);
            server.restart();
            let status = child.wait().expect("sync finishes");
            assert!(
                status.success(),
                "seed {seed}: the sync resumes once the server is back"
            );
        }
        assert!(
            a.ok(&["check"]).contains("consistent"),
            "seed {seed}: store intact"
        );
    }
    for c in [&a, &b, &a] {
        c.sync();
    }
    let on_server = heads(&String::from_utf8_lossy(
        &Server::admin(&data, &["heads"]).stdout,
    ));
    for c in [&a, &b] {
        for (id, h) in heads(&c.ok(&["heads", "--json"])) {
            assert_eq!(
                Some(&h),
                on_server.get(&id),
                "{id} converged with the server"
            );
            let visits = c.visit_count(&id);
            assert_eq!(
                visits,
                expected.get(&id).copied().unwrap_or(0),
                "{id}: nothing lost or doubled"
            );
        }
    }
}
