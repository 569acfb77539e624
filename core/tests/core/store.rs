//! The local store: search, filters, schema versions.

use jemput_core::store::{ListFilter, Store, StoreError};
use jemput_core::IndicatorSet;
use rand::SeedableRng;

use crate::household::{author, registry_household, visit, FixedClock};

#[test]
fn search_finds_by_name_nik_kk_and_address_and_filters_narrow() {
    let set = IndicatorSet::bps14();
    let mut store = Store::open_in_memory().expect("store");
    let mut h1 = registry_household("hh-a");
    store.save_local(&mut h1, &set).expect("save");
    let mut h2 = registry_household("hh-b");
    let a = author(1, "kader-a");
    let mut h2 = jemput_core::Household::load_as(&h2.save(), &a).expect("load");
    let answers = serde_json::json!({
        "floor_material": "tanah", "wall_material": "bambu", "toilet": "umum",
        "lighting": "bukan listrik", "drinking_water": "sungai/danau", "cooking_fuel": "kayu bakar",
        "protein_per_week": 0, "clothes_per_year": 0, "meals_per_day": 1
    });
    let mut input = visit("found");
    input.answers = serde_json::from_value(answers).expect("answers");
    set.mark_unanswered_unknown(&mut input.answers);
    h2.record_visit(
        &input,
        &set,
        &a,
        &FixedClock(1_764_000_000_000),
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .expect("visit");
    store.save_local(&mut h2, &set).expect("save");

    let ids = |q: Option<&str>, f: ListFilter| -> Vec<String> {
        store
            .list(q, f, "2025-11-01")
            .expect("list")
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(
        ids(Some("kepala"), ListFilter::All).len(),
        2,
        "name prefix, case-insensitive"
    );
    assert_eq!(
        ids(Some("35730115"), ListFilter::All).len(),
        2,
        "NIK prefix"
    );
    assert!(ids(Some("tidak-ada-orang"), ListFilter::All).is_empty());
    assert_eq!(
        ids(None, ListFilter::Poor),
        vec!["hh-b"],
        "9 criteria met = poor"
    );
    assert_eq!(ids(None, ListFilter::NotVisited), vec!["hh-a"]);
    let rows = store
        .list(None, ListFilter::All, "2025-11-01")
        .expect("list");
    let b = rows.iter().find(|r| r.id == "hh-b").expect("row");
    assert_eq!(
        (b.score, b.status.as_deref(), b.last_visit.as_deref()),
        (Some(9), Some("found"), Some("2025-11-24"))
    );
    assert!(b.pending, "a local visit waits for sync");
}

#[test]
fn a_database_from_a_newer_jemput_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jemput.db");
    drop(Store::open(&path).expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    match Store::open(&path) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        other => panic!("expected TooNew, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn possible_duplicates_by_nik_and_by_a_proposals_head() {
    use jemput_core::conflicts::ConflictKind;
    use jemput_core::household::{Household, Proposal};
    let set = IndicatorSet::bps14();
    let mut store = Store::open_in_memory().expect("store");
    // Two registry households that both list the same person (same NIK).
    let mut a = registry_household("hh-a");
    let mut b = registry_household("hh-b");
    store.save_local(&mut a, &set).expect("save");
    store.save_local(&mut b, &set).expect("save");
    // A proposal whose head has the name and birth date of a registry head.
    let proposal = Proposal {
        head_name: "kepala uji".into(),
        head_birth_date: Some("1990-06-15".into()),
        nik: None,
        kk: None,
        address: "Jl. Usulan".into(),
        kelurahan: "35.73.01.1007".into(),
        rw: 1,
        rt: 2,
    };
    let mut p = Household::propose(
        "hh-p",
        &proposal,
        &author(3, "kader-c"),
        0,
        &mut rand::rngs::StdRng::seed_from_u64(4),
    )
    .expect("propose");
    store.save_local(&mut p, &set).expect("save");
    let dups = store
        .list_conflicts(None, Some(ConflictKind::PossibleDuplicate))
        .expect("list");
    let mut found: Vec<(String, String, String)> = dups
        .iter()
        .map(|c| {
            let other = c.choices[1].other_household.clone().unwrap_or_default();
            (
                c.path.clone().unwrap_or_default(),
                c.household.clone(),
                other,
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("head".to_string(), "hh-p".to_string(), "hh-a".to_string()),
            ("head".to_string(), "hh-p".to_string(), "hh-b".to_string()),
            ("nik".to_string(), "hh-a".to_string(), "hh-b".to_string()),
        ],
        "the proposal is the one that may be a duplicate"
    );
}

/// One pulled document that cannot be merged is quarantined with its reason; the rest
/// of the response commits, and the next request reports it to the server once.
#[test]
fn a_bad_pulled_document_is_quarantined_and_the_rest_commits() {
    use jemput_core::sync::{apply_response, build_request, Outgoing, PullDoc, SyncResponse};
    use serde_bytes::ByteBuf;
    let set = IndicatorSet::bps14();
    let mut store = Store::open_in_memory().expect("store");
    let snapshot = |id: &str| {
        let mut h = registry_household(id);
        ByteBuf::from(h.save_nocompress())
    };
    let doc = |id: &str, data: ByteBuf| PullDoc {
        id: id.into(),
        kelurahan: "35.73.01.1007".into(),
        rw: 1,
        data,
        snapshot: true,
        heads: Vec::new(),
    };
    let resp = SyncResponse {
        scope: vec!["35.73.01.1007/1".into()],
        docs: vec![
            doc("hh-good", snapshot("hh-good")),
            doc(
                "hh-garbage",
                ByteBuf::from(b"not an automerge document".to_vec()),
            ),
            doc("hh-later", snapshot("hh-later")),
        ],
        cursors: [("35.73.01.1007/1".to_string(), 42)].into_iter().collect(),
        ..SyncResponse::default()
    };
    let me = author(9, "kader-a");
    let applied = apply_response(&mut store, &Outgoing::default(), &resp, &set, &me)
        .expect("one bad document does not fail the response");
    assert_eq!(applied.quarantined, 1);
    assert_eq!(applied.docs_pulled, 2);
    assert!(store.get_doc("hh-good").is_ok() && store.get_doc("hh-later").is_ok());
    assert!(store.get_doc("hh-garbage").is_err());
    let q = store.quarantined(false).expect("quarantine");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, "hh-garbage");
    assert!(!q[0].1.is_empty());
    assert_eq!(
        store.cursors().expect("cursors"),
        vec![("35.73.01.1007/1".to_string(), 42)]
    );

    // Changes that merge into a household no reader could use: quarantined too.
    let mut bad =
        automerge::AutoCommit::load(&store.get_doc("hh-good").expect("doc")).expect("load");
    let heads = bad.get_heads();
    automerge::transaction::Transactable::put(&mut bad, automerge::ROOT, "visits", "gone")
        .expect("put");
    let change: Vec<u8> = bad
        .get_changes(&heads)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let resp = SyncResponse {
        scope: vec!["35.73.01.1007/1".into()],
        docs: vec![PullDoc {
            snapshot: false,
            ..doc("hh-good", ByteBuf::from(change))
        }],
        cursors: [("35.73.01.1007/1".to_string(), 43)].into_iter().collect(),
        ..SyncResponse::default()
    };
    apply_response(&mut store, &Outgoing::default(), &resp, &set, &me).expect("applied");
    assert_eq!(store.quarantined(false).expect("quarantine").len(), 2);

    // Reported at the next sync, once.
    let out = build_request(&store, usize::MAX).expect("request");
    assert_eq!(out.request.quarantined.len(), 2);
    apply_response(
        &mut store,
        &out,
        &SyncResponse {
            scope: resp.scope.clone(),
            ..SyncResponse::default()
        },
        &set,
        &me,
    )
    .expect("applied");
    let again = build_request(&store, usize::MAX).expect("request");
    assert!(again.request.quarantined.is_empty());
    assert_eq!(store.quarantined(false).expect("still listed").len(), 2);
}

/// A peer's bundle is judged on the device with the rule book for the role the server
/// certified: a kader's edit of a head's NIK never enters; an honest visit does.
#[test]
fn a_bundle_is_judged_before_it_enters_the_device() {
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;
    use ed25519_dalek::SigningKey;
    use jemput_core::bundle::{apply, certify, read, write, BundlePayload};
    use jemput_core::rules::Role;
    use jemput_core::sync::{apply_response, Outgoing, PushDoc, SyncResponse};
    use serde_bytes::ByteBuf;
    let set = IndicatorSet::bps14();
    let mut store = Store::open_in_memory().expect("store");
    for id in ["hh-a", "hh-b"] {
        store
            .save_local(&mut registry_household(id), &set)
            .expect("save");
    }
    let scope = SyncResponse {
        scope: vec!["35.73.01.1007/1".into()],
        cursors: [("35.73.01.1007/1".to_string(), 1)].into_iter().collect(),
        ..SyncResponse::default()
    };
    let me = author(9, "kader-a");
    apply_response(&mut store, &Outgoing::default(), &scope, &set, &me).expect("scope");

    let peer = author(7, "kader-b");
    let changes_of = |id: &str, edit: &dyn Fn(&mut jemput_core::Household)| {
        let mut hh =
            jemput_core::Household::load_as(&store.get_doc(id).expect("doc"), &peer).expect("load");
        let before = hh.heads();
        edit(&mut hh);
        let bytes: Vec<u8> = hh
            .doc_mut()
            .get_changes(&before)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        PushDoc {
            id: id.into(),
            changes: ByteBuf::from(bytes),
        }
    };
    let forged = changes_of("hh-a", &|hh| {
        let d = hh.doc_mut();
        let m = d
            .get(automerge::ROOT, "members")
            .expect("get")
            .expect("members")
            .1;
        let head = d.get(&m, "m-head").expect("get").expect("head").1;
        d.put(&head, "nik", "3573014506900002").expect("put");
        d.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_message("visit by kader-b")
                .with_time(1_764_000_000_000),
        );
    });
    let honest = changes_of("hh-b", &|hh| {
        hh.record_visit(
            &visit("found"),
            &set,
            &peer,
            &FixedClock(1_764_000_000_000),
            &mut rand::rngs::StdRng::seed_from_u64(3),
        )
        .expect("visit");
    });
    let server = SigningKey::from_bytes(&[1; 32]);
    let device = SigningKey::from_bytes(&[2; 32]);
    let dk = device.verifying_key().to_bytes().to_vec();
    let payload = BundlePayload {
        device: "d-peer".into(),
        user: "kader-b".into(),
        role: Role::Kader,
        certificate: ByteBuf::from(certify(&server, "d-peer", "kader-b", Role::Kader, &dk)),
        device_key: ByteBuf::from(dk),
        created_at: 1,
        docs: vec![forged, honest],
        relays: Vec::new(),
    };
    let file = write(&payload, &device);
    let a_before = store.get_doc("hh-a").expect("doc");
    let checked = read(&file, &server.verifying_key()).expect("valid bundle");
    let imported = apply(&mut store, &checked, &set).expect("applied");
    assert_eq!((imported.households, imported.skipped), (1, 1));
    assert_eq!(
        store.get_doc("hh-a").expect("doc"),
        a_before,
        "the forged NIK stayed out"
    );
    let b = jemput_core::Household::load(&store.get_doc("hh-b").expect("doc")).expect("load");
    assert_eq!(
        b.status().as_deref(),
        Some("found"),
        "the honest visit entered"
    );

    // A bundle that claims a higher role than the server certified is refused whole.
    let mut lying = payload.clone();
    lying.role = Role::Operator;
    assert!(read(&write(&lying, &device), &server.verifying_key()).is_err());
}

/// A store written before encryption is encrypted in place at its first encrypted open:
/// its households stay, no member's name is left in the file, a wrong key is refused.
#[test]
fn a_plain_store_is_encrypted_in_place() {
    let set = IndicatorSet::bps14();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jemput.db");
    let name = {
        let mut store = Store::open(&path).expect("plain store");
        let mut hh = registry_household("hh-plain");
        store.save_local(&mut hh, &set).expect("save");
        hh.head().0.expect("a head with a name")
    };
    let before = std::fs::read(&path).expect("read");
    assert!(
        before.windows(name.len()).any(|w| w == name.as_bytes()),
        "plain at first"
    );
    let key = [3u8; 32];
    let store = Store::open_encrypted(&path, &key).expect("encrypted");
    assert!(
        store.get_doc("hh-plain").is_ok(),
        "the household is still there"
    );
    drop(store);
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        assert!(
            !bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "a name left in clear"
        );
    }
    assert!(matches!(
        Store::open_encrypted(&path, &[4u8; 32]),
        Err(StoreError::Locked)
    ));
}

#[test]
fn pages_drafts_and_the_inbox_are_device_local_and_exact() {
    use jemput_core::conflicts::Decision;
    use jemput_core::store::ListQuery;
    let set = IndicatorSet::bps14();
    let mut store = Store::open_in_memory().expect("store");
    for i in 0..25 {
        let mut h = registry_household(&format!("hh-{i:02}"));
        store.save_local(&mut h, &set).expect("save");
    }
    // Pages: exact slices of the whole ordered list, with the total.
    let all = store
        .list(None, ListFilter::All, "2025-11-01")
        .expect("all");
    let page = |offset, limit| {
        store
            .list_page(
                &ListQuery {
                    offset,
                    limit,
                    ..ListQuery::default()
                },
                "2025-11-01",
                Some("kader-a"),
            )
            .expect("page")
    };
    let p = page(20, 10);
    assert_eq!((p.total, p.rows.len()), (25, 5));
    assert_eq!(p.rows[0].id, all[20].id);
    assert_eq!(page(0, 10).rows.len(), 10);

    // A draft: kept as given, marked in the list, gone with the visit that saves it.
    let body = serde_json::json!({"result": "found", "answers": {"toilet": "umum"}});
    store.put_draft("hh-03", &body, 1_000).expect("draft");
    assert_eq!(store.draft("hh-03").expect("get"), Some((body, 1_000)));
    assert!(
        store.put_draft("hh-zz", &serde_json::json!({}), 1).is_err(),
        "no such household"
    );
    assert!(
        store
            .put_draft("hh-03", &serde_json::json!("x".repeat(70_000)), 1)
            .is_err(),
        "not an object, too big"
    );
    fn row(store: &Store, id: &str) -> jemput_core::store::HouseholdRow {
        store
            .list(None, ListFilter::All, "2025-11-01")
            .expect("list")
            .into_iter()
            .find(|r| r.id == id)
            .expect("row")
    }
    assert!(row(&store, "hh-03").draft);
    let a = author(1, "kader-a");
    let mut hh =
        jemput_core::Household::load_as(&store.get_doc("hh-03").expect("doc"), &a).expect("load");
    hh.record_visit(
        &visit("found"),
        &set,
        &a,
        &FixedClock(1_764_000_000_000),
        &mut rand::rngs::StdRng::seed_from_u64(3),
    )
    .expect("visit");
    store.save_visit(&mut hh, &set).expect("save visit");
    assert_eq!(store.draft("hh-03").expect("get"), None);
    let r = row(&store, "hh-03");
    assert!(!r.draft && r.pending && r.incomplete, "{r:?}");
    let out = store.outbox().expect("outbox");
    let o = out.iter().find(|o| o.id == "hh-03").expect("in the outbox");
    assert_eq!(o.visits, 1);

    // The fasilitator's note: unread in the list and the inbox until looked at; the
    // kader's own notes never are.
    let f = author(2, "fasil");
    let base = store.get_doc("hh-05").expect("doc");
    let mut hf = jemput_core::Household::load_as(&base, &f).expect("load");
    hf.edit("identity.address", "Jl. Baru 1", 1_764_000_000_000)
        .expect("edit");
    let mut hk = jemput_core::Household::load_as(&base, &a).expect("load");
    hk.edit("identity.address", "Jl. Lain 2", 1_764_000_000_000)
        .expect("edit");
    hf.doc_mut().merge(hk.doc_mut()).expect("merge");
    let item = hf
        .open_conflicts(&set)
        .into_iter()
        .next()
        .expect("a conflict");
    hf.resolve(
        &item,
        &Decision::Pick(1),
        Some("Cek KTP"),
        &f,
        1_764_000_100_000,
    )
    .expect("resolve");
    store.save_local(&mut hf, &set).expect("save");
    assert!(
        row(&store, "hh-05").unread,
        "from someone else, after the last look"
    );
    let inbox = store.inbox(Some("kader-a"), 50).expect("inbox");
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(inbox.iter().all(|i| i.unread && i.by == "fasil"));
    let note = inbox.iter().find(|i| i.kind == "note").expect("note");
    assert_eq!(note.item["text"], "Cek KTP");
    assert!(store.inbox(Some("fasil"), 50).expect("own").is_empty());
    store.mark_inbox_seen(1_764_000_200_000).expect("seen");
    assert!(!row(&store, "hh-05").unread);
    assert!(store
        .inbox(Some("kader-a"), 50)
        .expect("inbox")
        .iter()
        .all(|i| !i.unread));
}
