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
