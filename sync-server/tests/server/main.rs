//! Sync through the storage directly (no HTTP), deterministic: devices and the server
//! exchange messages until quiescent; pages are made small to exercise `more`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use jemput_core::household::{Author, Household, VisitInput};
use jemput_core::store::{ListFilter, Store};
use jemput_core::sync::{apply_response, build_request, decode, encode, Area, SyncResponse};
use jemput_core::IndicatorSet;
use jemput_core::SystemClock;
use jemput_sync_server::guard::Limits;
use jemput_sync_server::service::{Role, Session};
use jemput_sync_server::{demo, testing, SqliteStorage, Storage};
use rand::SeedableRng;

struct Device {
    store: Store,
    session: Session,
    author: Author,
}

impl Device {
    fn new(storage: &dyn Storage, user: &str, actor: u8) -> Device {
        let author = Author::new(&format!("{actor:02x}{}", "cd".repeat(15)), user).unwrap();
        let ok = storage
            .login(
                user,
                "kata-sandi-uji",
                "test",
                None,
                std::slice::from_ref(&author.actor),
                true,
            )
            .unwrap()
            .expect("login");
        Device {
            store: Store::open_in_memory().unwrap(),
            session: storage
                .authenticate(&ok.token)
                .unwrap()
                .expect("token works"),
            author,
        }
    }

    /// Syncs until the server has nothing more; returns the number of round trips.
    fn sync(&mut self, storage: &dyn Storage, page: usize) -> usize {
        let set = IndicatorSet::bps14();
        for round in 1..1000 {
            let out = build_request(&self.store, usize::MAX).unwrap();
            // Through the wire encoding, as over HTTP.
            let req = decode(&encode(&out.request)).unwrap();
            let resp: SyncResponse =
                decode(&encode(&storage.sync(&self.session, &req, page).unwrap())).unwrap();
            apply_response(&mut self.store, &out, &resp, &set, &self.author).unwrap();
            if !resp.more {
                return round;
            }
        }
        panic!("sync never finished");
    }

    fn ids(&self) -> Vec<String> {
        self.store
            .list(None, ListFilter::All, "2026-01-01")
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    }
}

/// The store under test: SQLite in the folder, or a fresh PostgreSQL database when the
/// tests run against one (`JEMPUT_TEST_DATABASE`).
fn setup() -> (tempfile::TempDir, Box<dyn Storage>) {
    let dir = tempfile::tempdir().unwrap();
    let storage = testing::open(dir.path(), Limits::default()).unwrap();
    storage
        .insert_households(&demo::households(3).unwrap())
        .unwrap();
    for u in ["op-1", "op-2"] {
        storage
            .add_user(u, Role::Operator, "kata-sandi-uji")
            .unwrap();
        storage
            .assign(
                u,
                &Area {
                    kelurahan: demo::KELURAHAN.into(),
                    rw: None,
                },
            )
            .unwrap();
    }
    (dir, storage)
}

#[test]
fn small_pages_deliver_everything_exactly_once() {
    let (_dir, storage) = setup();
    let total = storage.household_count().unwrap() as usize;
    let mut a = Device::new(&*storage, "op-1", 1);
    let mut b = Device::new(&*storage, "op-2", 2);
    let rounds = a.sync(&*storage, 7);
    assert_eq!(a.ids().len(), total, "every household arrived");
    assert!(
        rounds >= total / 7,
        "paged: {rounds} rounds for {total} households"
    );
    b.sync(&*storage, 1000);
    assert_eq!(a.ids(), b.ids());

    // b visits 20 households; a pulls them 3 at a time.
    let set = IndicatorSet::bps14();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for id in b.ids().into_iter().take(20) {
        let mut hh = Household::load_as(&b.store.get_doc(&id).unwrap(), &b.author).unwrap();
        let mut input = VisitInput {
            result: "found".into(),
            ..VisitInput::default()
        };
        set.mark_unanswered_unknown(&mut input.answers);
        hh.record_visit(&input, &set, &b.author, &SystemClock, &mut rng)
            .unwrap();
        b.store.save_local(&mut hh, &set).unwrap();
    }
    b.sync(&*storage, 1000);
    let rounds = a.sync(&*storage, 3);
    assert!(rounds >= 7, "20 changes in pages of 3: {rounds}");
    let visited = a
        .store
        .list(None, ListFilter::All, "2026-01-01")
        .unwrap()
        .iter()
        .filter(|r| r.status.is_some())
        .count();
    assert_eq!(visited, 20);
    for id in a.ids() {
        let va = Household::load(&a.store.get_doc(&id).unwrap())
            .unwrap()
            .view(&set);
        let vb = Household::load(&b.store.get_doc(&id).unwrap())
            .unwrap()
            .view(&set);
        assert_eq!(va, vb, "{id} converged");
    }
    // Quiescent: another sync pushes and pulls nothing.
    let out = build_request(&a.store, usize::MAX).unwrap();
    assert!(out.request.push.is_empty());
    let resp = storage.sync(&a.session, &out.request, 1000).unwrap();
    assert!(
        resp.docs.is_empty() && !resp.more,
        "own and old changes are not sent again"
    );
}

/// A wrong password for a known user and any password for an unknown one take the same
/// time (one argon2 check each): user names cannot be enumerated by timing.
#[test]
fn unknown_and_known_users_take_the_same_time() {
    let (_dir, storage) = setup();
    let time = |user: &str| {
        let started = std::time::Instant::now();
        let ok = storage
            .login(user, "salah-tebak", "t", None, &[], false)
            .unwrap();
        assert!(ok.is_none());
        started.elapsed().as_secs_f64()
    };
    assert!(
        storage.credentials("op-1").unwrap().is_some(),
        "a known user"
    );
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..40 {
        // Alternated, so a busy moment of the machine hits both alike.
        known.push(time("op-1"));
        unknown.push(time(&format!("tidak-ada-{i}")));
    }
    // The fastest of each: other tests running beside this one only ever add time, so
    // the minimum is each path's own cost (a median moved by 10 % under load).
    let fastest = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (k, u) = (fastest(&known), fastest(&unknown));
    eprintln!(
        "fastest wrong password {:.1} ms, unknown user {:.1} ms",
        k * 1e3,
        u * 1e3
    );
    assert!((u - k).abs() <= 0.1 * k, "known {k:.4} s, unknown {u:.4} s");
}

/// Renewing a token, tried as an attacker would: another key's signature, a challenge
/// used twice, another device's challenge, a made-up device. Each is refused and none
/// yields a token; the device's own signature does, once.
#[test]
fn a_token_is_renewed_only_by_the_device_key_and_only_once() {
    use ed25519_dalek::{Signer, SigningKey};
    use jemput_sync_server::session::{challenge, refresh, Refusal};
    let (_dir, storage) = setup();
    let key = SigningKey::from_bytes(&[21; 32]);
    let ok = storage
        .login(
            "op-1",
            "kata-sandi-uji",
            "hp",
            Some(key.verifying_key().to_bytes()),
            &[],
            false,
        )
        .unwrap()
        .expect("login");
    let other = storage
        .login("op-2", "kata-sandi-uji", "hp", None, &[], false)
        .unwrap()
        .expect("login");
    let now = jemput_sync_server::service::now_ms();
    let sign = |k: &SigningKey, device: &str, c: &[u8]| {
        k.sign(&jemput_core::bundle::refresh_message(device, c))
            .to_bytes()
            .to_vec()
    };

    let c = challenge(&*storage, &ok.device, now).unwrap();
    let thief = SigningKey::from_bytes(&[22; 32]);
    assert_eq!(
        refresh(
            &*storage,
            &ok.device,
            &c,
            &sign(&thief, &ok.device, &c),
            now
        )
        .unwrap(),
        Err(Refusal::Unknown),
        "another key's signature"
    );
    assert_eq!(
        refresh(&*storage, &ok.device, &c, &sign(&key, &ok.device, &c), now).unwrap(),
        Err(Refusal::Unknown),
        "the challenge was used up by the failed try"
    );
    let c = challenge(&*storage, &other.device, now).unwrap();
    assert_eq!(
        refresh(&*storage, &ok.device, &c, &sign(&key, &ok.device, &c), now).unwrap(),
        Err(Refusal::Unknown),
        "another device's challenge"
    );
    let c = challenge(&*storage, "d-made-up", now).unwrap();
    assert_eq!(
        refresh(
            &*storage,
            "d-made-up",
            &c,
            &sign(&key, "d-made-up", &c),
            now
        )
        .unwrap(),
        Err(Refusal::Unknown),
        "a device the server never registered"
    );

    let c = challenge(&*storage, &ok.device, now).unwrap();
    let good = sign(&key, &ok.device, &c);
    let (token, _) = refresh(&*storage, &ok.device, &c, &good, now)
        .unwrap()
        .expect("the device's own signature renews");
    assert!(storage.authenticate(&token).unwrap().is_some());
    assert!(
        storage.authenticate(&ok.token).unwrap().is_none(),
        "the old token ends"
    );
    assert_eq!(
        refresh(&*storage, &ok.device, &c, &good, now).unwrap(),
        Err(Refusal::Unknown),
        "a replayed renewal"
    );
}

#[test]
fn a_login_carries_the_shortest_lock_time_of_the_users_kelurahans() {
    let (_dir, storage) = setup();
    let login = |user: &str| {
        storage
            .login(user, "kata-sandi-uji", "test", None, &[], true)
            .unwrap()
            .expect("login")
    };
    assert_eq!(login("op-1").lock_minutes, 5, "nothing set: 5 minutes");
    storage.set_lock_minutes(demo::KELURAHAN, 12).unwrap();
    assert_eq!(login("op-1").lock_minutes, 12);
    storage
        .assign(
            "op-1",
            &Area {
                kelurahan: "35.73.01.1008".into(),
                rw: None,
            },
        )
        .unwrap();
    storage.set_lock_minutes("35.73.01.1008", 3).unwrap();
    assert_eq!(login("op-1").lock_minutes, 3, "the shortest of two");
    assert_eq!(
        login("op-2").lock_minutes,
        12,
        "another user's kelurahan alone"
    );
    for bad in [0, 31] {
        assert!(storage.set_lock_minutes(demo::KELURAHAN, bad).is_err());
    }
    assert_eq!(
        login("op-2").lock_minutes,
        12,
        "a refused setting changes nothing"
    );
}

#[test]
fn the_server_keys_move_to_their_own_file_and_leave_the_database() {
    // The SQLite store's files are read below: this one is SQLite's on both passes.
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path()).unwrap();
    let before = storage.server_key().unwrap();
    // The bundle key's secret, as the database holds it now.
    let bundle_key = storage.bundle_identity().unwrap();
    drop(storage);
    let file = dir.path().join("keys").join("server-keys.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let storage = SqliteStorage::open(dir.path())
        .unwrap()
        .with_key_file(&file)
        .unwrap();
    assert_eq!(storage.server_key().unwrap(), before, "the same identity");
    assert_eq!(storage.bundle_identity().unwrap(), bundle_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    drop(storage);
    for name in ["jemput-server.db", "jemput-server.db-wal"] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap_or_default();
        assert!(
            !bytes
                .windows(bundle_key.len())
                .any(|w| w == bundle_key.as_bytes()),
            "{name} still holds the bundle key"
        );
    }
    // Opened again with the file: the same keys.
    let storage = SqliteStorage::open(dir.path())
        .unwrap()
        .with_key_file(&file)
        .unwrap();
    assert_eq!(storage.server_key().unwrap(), before);
    drop(storage);
    // Without the file the server has no key, and makes none.
    let plain = SqliteStorage::open(dir.path()).unwrap();
    let err = plain.server_key().unwrap_err().to_string();
    assert!(err.contains("--key-file"), "{err}");
    assert!(plain.bundle_identity().is_err());
    drop(plain);
    let opened = SqliteStorage::open(dir.path())
        .unwrap()
        .with_key_file(&file)
        .unwrap();
    assert_eq!(
        opened.server_key().unwrap(),
        before,
        "with the file, the same keys"
    );
}

#[test]
fn bundle_keys_go_only_to_devices_that_hold_every_area_of_the_writer() {
    let (_dir, storage) = setup();
    let area = |rw: Option<u16>| Area {
        kelurahan: demo::KELURAHAN.into(),
        rw,
    };
    for (u, rw) in [("kader-1", 1), ("kader-1b", 1), ("kader-2", 2)] {
        storage.add_user(u, Role::Kader, "kata-sandi-uji").unwrap();
        storage.assign(u, &area(Some(rw))).unwrap();
    }
    let device = |user: &str| {
        let ok = storage
            .login(user, "kata-sandi-uji", "test", None, &[], true)
            .unwrap()
            .expect("login");
        let (_, key) = jemput_core::bundle::new_identity();
        storage.set_device_recipient(&ok.device, &key).unwrap();
        (ok.device, key)
    };
    let (_, op) = device("op-1");
    let (_, k1) = device("kader-1");
    let (k1b_device, k1b) = device("kader-1b");
    let (_, k2) = device("kader-2");
    let keys = |user: &str| storage.area_recipients(user).unwrap();
    let mut rw1 = vec![op.clone(), k1.clone(), k1b.clone()];
    rw1.sort();
    assert_eq!(keys("kader-1"), rw1, "RW 1: its kaders and the office");
    let mut rw2 = vec![op.clone(), k2.clone()];
    rw2.sort();
    assert_eq!(keys("kader-2"), rw2, "RW 2 reads none of RW 1's bundles");
    // The office's bundles may hold any RW: only the office reads them.
    assert_eq!(keys("op-1"), vec![op.clone()]);
    // RW 1 of another kelurahan is another area.
    storage
        .add_user("kader-lain", Role::Kader, "kata-sandi-uji")
        .unwrap();
    let elsewhere = Area {
        kelurahan: "35.73.01.1008".into(),
        rw: Some(1),
    };
    storage.assign("kader-lain", &elsewhere).unwrap();
    let (_, lain) = device("kader-lain");
    assert!(!keys("kader-1").contains(&lain));
    assert_eq!(keys("kader-lain"), vec![lain.clone()]);
    // A kader holding RW 1 and 2 writes bundles only the office (holding both) reads.
    storage.assign("kader-2", &area(Some(1))).unwrap();
    assert!(keys("kader-2").contains(&op) && !keys("kader-2").contains(&k1));
    // A revoked install is out even through another (older or newer) row of its key.
    let again = storage
        .login("kader-1b", "kata-sandi-uji", "test", None, &[], true)
        .unwrap()
        .expect("login");
    storage.set_device_recipient(&again.device, &k1b).unwrap();
    storage.revoke_device(&k1b_device).unwrap();
    assert!(!keys("kader-1").contains(&k1b), "a revoked phone's key");
    // A logged-out device is out.
    storage.set_token(&again.device, None, 0).unwrap();
    let (k1_device2, k1_new) = device("kader-1");
    assert!(keys("kader-1").contains(&k1_new));
    storage.set_token(&k1_device2, None, 0).unwrap();
    assert!(
        !keys("kader-1").contains(&k1_new),
        "a logged-out phone's key"
    );
    // A disabled user's devices are out.
    storage.set_disabled("op-1", true).unwrap();
    assert!(!keys("kader-1").contains(&op));
}
