//! Many writers and readers at once, through two server processes on one store, while
//! the office moves households with the admin CLI (a third process): after each round
//! every device holds exactly its area's households, each with the server's heads. A
//! cursor that passed a change committing later with a smaller number would leave a
//! device behind for good; twenty rounds of random schedules (seeds) look for one.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;

use jemput_tests::{Client, RoundRobin, Server};
use rand::{Rng, SeedableRng};
use serde_json::json;

const SEEDS: u64 = 20;
const KEL: &str = "35.73.01.1007";

fn server_heads(data: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    serde_json::from_slice(&Server::admin(data, &["heads"]).stdout).expect("server heads")
}

fn server_rw(data: &std::path::Path, rw: u16) -> BTreeSet<String> {
    let out = Server::admin(
        data,
        &[
            "households",
            "--json",
            "--kelurahan",
            KEL,
            "--rw",
            &rw.to_string(),
        ],
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .expect("households")
        .iter()
        .filter_map(|h| h["id"].as_str().map(String::from))
        .collect()
}

fn device_heads(c: &Client) -> BTreeMap<String, Vec<String>> {
    serde_json::from_str(&c.ok(&["heads", "--json"])).expect("device heads")
}

/// A sync that may meet a busy or restarting store: retried, and it must succeed.
fn sync(c: &Client) {
    c.ok(&["sync", "--retry-for", "60"]);
}

#[test]
fn many_writers_and_readers_on_two_server_processes_lose_no_change() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "61"]);
    // Each write holds up to 150 ms before it commits (PostgreSQL, debug builds): rows
    // numbered in one order commit in another unless the store prevents it.
    let hold = [("JEMPUT_TEST_COMMIT_HOLD_MS", "150")];
    let one = Server::start_with_env(&data, "127.0.0.1:0", &[], &hold);
    let two = Server::start_with_env(&data, "127.0.0.1:0", &[], &hold);
    let relay = RoundRobin::start(&[&one.addr, &two.addr]);
    let url = relay.url();
    let device = |name: &str, user: &str| {
        let c = Client::new(tmp.path().join(name));
        c.login(&url, user, "jemput-demo");
        sync(&c);
        c
    };
    // Writers of RW 1 (three devices of one kader) and RW 2; readers of RW 1, RW 2 and
    // the whole kelurahan.
    let writers = [
        (device("w1", "demo-kader-rw01"), 1),
        (device("w2", "demo-kader-rw01"), 1),
        (device("w3", "demo-kader-rw01"), 1),
        (device("w4", "demo-kader-rw02"), 2),
    ];
    let readers = [
        (device("r1", "demo-kader-rw01"), Some(1)),
        (device("r2", "demo-kader-rw02"), Some(2)),
        (device("r3", "demo-operator"), None),
    ];
    // Writers visit one half of each RW; the office moves the other half between the
    // two RWs (a visit to a household moved away meanwhile would rightly be refused).
    let mut visit_pool: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let mut move_pool: Vec<String> = Vec::new();
    for rw in [1, 2] {
        let ids: Vec<String> = server_rw(&data, rw).into_iter().collect();
        let (visit, moved) = ids.split_at(ids.len() / 2);
        visit_pool.insert(rw, visit.to_vec());
        move_pool.extend(moved.iter().cloned());
    }
    for seed in 0..SEEDS {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        std::thread::scope(|s| {
            for (w, rw) in &writers {
                let pool = &visit_pool[rw];
                let picks: Vec<(String, u64)> = (0..2)
                    .map(|_| {
                        let id = pool[rng.gen_range(0..pool.len())].clone();
                        (id, rng.gen_range(0..40))
                    })
                    .collect();
                s.spawn(move || {
                    for (id, pause) in picks {
                        w.visit(&id, "found", json!({"meals_per_day": 2}));
                        std::thread::sleep(std::time::Duration::from_millis(pause));
                        sync(w);
                    }
                });
            }
            for (r, _) in &readers {
                let pause = rng.gen_range(0..60);
                s.spawn(move || {
                    for _ in 0..6 {
                        std::thread::sleep(std::time::Duration::from_millis(pause));
                        sync(r);
                    }
                });
            }
            let moves: Vec<(String, u16)> = (0..2)
                .map(|_| {
                    let id = move_pool[rng.gen_range(0..move_pool.len())].clone();
                    (id, rng.gen_range(1..=2))
                })
                .collect();
            let data = &data;
            s.spawn(move || {
                for (id, rw) in moves {
                    let rw = rw.to_string();
                    let out = std::process::Command::new(jemput_tests::bin("jemput-sync-server"))
                        .args(jemput_tests::store_args(data))
                        .args(["move", &id, "--rw", &rw, "--rt", "1"])
                        .stdout(Stdio::null())
                        .output()
                        .expect("move");
                    assert!(
                        out.status.success(),
                        "move: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        });
        // Quiet now: everything the server holds reaches every device of its area.
        for c in writers
            .iter()
            .map(|(c, _)| c)
            .chain(readers.iter().map(|(c, _)| c))
        {
            sync(c);
        }
        let heads = server_heads(&data);
        let areas: Vec<(&Client, Option<u16>)> = writers
            .iter()
            .map(|(c, rw)| (c, Some(*rw)))
            .chain(readers.iter().map(|(c, rw)| (c, *rw)))
            .collect();
        for (c, rw) in areas {
            let expected: BTreeMap<String, Vec<String>> = match rw {
                Some(rw) => server_rw(&data, rw)
                    .into_iter()
                    .map(|id| {
                        let h = heads[&id].clone();
                        (id, h)
                    })
                    .collect(),
                None => heads.clone(),
            };
            let mut held = device_heads(c);
            for h in held.values_mut() {
                h.sort();
            }
            assert_eq!(
                held.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "seed {seed}: {} holds other households than its area's",
                c.home.display()
            );
            for (id, h) in &expected {
                assert_eq!(
                    &held[id],
                    h,
                    "seed {seed}: {} is behind on {id}",
                    c.home.display()
                );
            }
        }
    }
}
