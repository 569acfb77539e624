//! Household documents: visits, concurrent conflicts, NIK warnings; shared fixtures.
use jemput_core::household::{Author, Clock, Household, Identity, Member, Registry, VisitInput};
use jemput_core::IndicatorSet;
use rand::SeedableRng;

pub struct FixedClock(pub i64);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

pub fn author(n: u8, user: &str) -> Author {
    Author::new(&format!("{n:02x}{}", "ab".repeat(15)), user).expect("hex actor")
}

pub fn registry_household(id: &str) -> Household {
    let members = vec![(
        "m-head".to_string(),
        Member {
            nik: Some("3573011506900002".into()),
            name: "Kepala Uji".into(),
            sex: None,
            birth_date: Some("1990-06-15".into()),
            relation: "head".into(),
            presence: "lives_here".into(),
        },
    )];
    let identity = Identity {
        kelurahan: "35.73.01.1007".into(),
        rw: 1,
        rt: 2,
        ..Identity::default()
    };
    Household::create(
        id,
        &identity,
        &Registry::default(),
        &members,
        &author(0, "import"),
        1_700_000_000_000,
    )
    .expect("create")
}

/// A visit answering two criteria; the rest are "tidak tahu".
pub fn visit(result: &str) -> VisitInput {
    let mut answers =
        serde_json::from_value(serde_json::json!({"meals_per_day": 2, "toilet": "umum"}))
            .expect("answers");
    IndicatorSet::bps14().mark_unanswered_unknown(&mut answers);
    VisitInput {
        result: result.into(),
        answers,
        ..VisitInput::default()
    }
}

#[test]
fn two_concurrent_visits_both_stay_and_leave_a_status_conflict() {
    let set = IndicatorSet::bps14();
    let mut base = registry_household("hh-1");
    let bytes = base.save();
    let (a1, a2) = (author(1, "kader-a"), author(2, "kader-b"));
    let mut a = Household::load_as(&bytes, &a1).expect("load");
    let mut b = Household::load_as(&bytes, &a2).expect("load");
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    a.record_visit(
        &visit("found"),
        &set,
        &a1,
        &FixedClock(1_764_000_000_000),
        &mut rng,
    )
    .expect("visit a");
    b.record_visit(
        &visit("moved"),
        &set,
        &a2,
        &FixedClock(1_764_000_100_000),
        &mut rng,
    )
    .expect("visit b");
    let a_bytes = a.save();
    let b_bytes = b.save();
    a.doc_mut()
        .load_incremental(&b_bytes)
        .expect("merge b into a");
    b.doc_mut()
        .load_incremental(&a_bytes)
        .expect("merge a into b");
    let va = a.view(&set);
    assert_eq!(va, b.view(&set), "both replicas show the same household");
    assert_eq!(
        va["visits"].as_object().map(|v| v.len()),
        Some(2),
        "both visits kept"
    );
    let conflicts = a.conflicts();
    let status = conflicts
        .iter()
        .find(|c| c.path == "status")
        .expect("a conflict on status");
    let mut values: Vec<String> = status
        .values
        .iter()
        .map(|v| v.value.as_str().unwrap_or("").to_string())
        .collect();
    values.sort();
    assert_eq!(values, vec!["found", "moved"]);
    // Authors come from the server's record of actors, never from the change: the
    // devices' actors named as the server would, each value names its author.
    let mut authors = jemput_core::authors::Authors::default();
    authors.insert(&a.doc_mut().get_actor().to_hex_string(), "kader-a");
    authors.insert(&b.doc_mut().get_actor().to_hex_string(), "kader-b");
    let mut view = serde_json::json!({ "conflicts": conflicts });
    authors.name_view(&mut view);
    let mut by: Vec<String> = view["conflicts"]
        .as_array()
        .expect("conflicts")
        .iter()
        .find(|c| c["path"] == "status")
        .expect("status")["values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v["by"].as_str().map(String::from))
        .collect();
    by.sort();
    assert_eq!(
        by,
        vec!["kader-a", "kader-b"],
        "each value names its author"
    );
    assert!(
        status.values.iter().all(|v| v.at >= 1_764_000_000_000),
        "real timestamps, not 0"
    );
}

#[test]
fn a_conflict_survives_save_and_load_and_change_transfer() {
    let set = IndicatorSet::bps14();
    let mut base = registry_household("hh-2");
    let bytes = base.save();
    let base_heads = base.heads();
    let (a1, a2) = (author(1, "kader-a"), author(2, "kader-b"));
    let mut a = Household::load_as(&bytes, &a1).expect("load");
    let mut b = Household::load_as(&bytes, &a2).expect("load");
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    a.record_visit(
        &visit("found"),
        &set,
        &a1,
        &FixedClock(1_764_000_000_000),
        &mut rng,
    )
    .expect("visit a");
    b.record_visit(
        &visit("moved"),
        &set,
        &a2,
        &FixedClock(1_764_000_100_000),
        &mut rng,
    )
    .expect("visit b");
    let raw: Vec<u8> = b
        .doc_mut()
        .get_changes(&base_heads)
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    a.doc_mut()
        .load_incremental(&raw)
        .expect("apply raw changes");
    assert_eq!(a.conflicts().len(), 1, "conflict after raw change transfer");
    let reloaded = Household::load(&a.save()).expect("reload");
    assert_eq!(
        reloaded.conflicts().len(),
        1,
        "conflict after save and load"
    );
}

#[test]
fn concurrent_visits_after_an_earlier_shared_visit_still_conflict() {
    let set = IndicatorSet::bps14();
    let mut base = registry_household("hh-3");
    let (a1, a2) = (author(1, "kader-a"), author(2, "kader-b"));
    let mut a = Household::load_as(&base.save(), &a1).expect("load");
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    a.record_visit(
        &visit("found"),
        &set,
        &a1,
        &FixedClock(1_764_000_000_000),
        &mut rng,
    )
    .expect("first visit");
    let mut b = Household::load_as(&a.save(), &a2).expect("b gets the first visit");
    a.record_visit(
        &visit("found"),
        &set,
        &a1,
        &FixedClock(1_764_000_200_000),
        &mut rng,
    )
    .expect("visit a");
    b.record_visit(
        &visit("moved"),
        &set,
        &a2,
        &FixedClock(1_764_000_100_000),
        &mut rng,
    )
    .expect("visit b");
    let b_bytes = b.save();
    a.doc_mut().load_incremental(&b_bytes).expect("merge");
    let c = a.conflicts();
    assert_eq!(c.len(), 1, "{c:?}");
}

#[test]
fn a_nik_that_disagrees_with_the_record_is_a_warning_in_the_view() {
    let set = IndicatorSet::bps14();
    // The test household's head: NIK encodes 15 June 1990, a man; the record agrees.
    let hh = registry_household("hh-4");
    let view = hh.view(&set);
    assert!(
        view["members"]["m-head"].get("warnings").is_none(),
        "consistent record: no warning"
    );

    let identity = Identity {
        kelurahan: "35.73.01.1007".into(),
        rw: 1,
        rt: 1,
        ..Identity::default()
    };
    let member = Member {
        nik: Some("3573011506900002".into()),
        name: "Anggota Uji".into(),
        sex: Some(jemput_core::nik::Sex::P),
        birth_date: Some("1990-06-16".into()),
        relation: "head".into(),
        presence: "lives_here".into(),
    };
    let hh = Household::create(
        "hh-5",
        &identity,
        &Registry::default(),
        &[("m-1".into(), member)],
        &author(0, "import"),
        0,
    )
    .expect("a mismatch does not block");
    let w = &hh.view(&set)["members"]["m-1"]["warnings"];
    assert_eq!(
        w.as_array().map(Vec::len),
        Some(2),
        "sex and birth date both disagree: {w}"
    );
}

#[test]
fn only_a_household_found_gets_a_score_and_a_verdict() {
    let set = IndicatorSet::bps14();
    let a = author(1, "kader-a");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut visited = |result: &str| {
        let mut hh = Household::load_as(&registry_household("hh-2").save(), &a).expect("load");
        let clock = FixedClock(1_764_000_000_000);
        let vid = hh
            .record_visit(&visit(result), &set, &a, &clock, &mut rng)
            .expect("visit");
        (hh, vid)
    };
    for result in ["not_found", "moved", "died", "duplicate", "refused"] {
        // Answers given with such a result are not kept.
        let (hh, vid) = visited(result);
        let view = hh.view(&set);
        let v = &view["visits"][&vid];
        assert_eq!(v["score"], serde_json::Value::Null, "{result}");
        assert_eq!(v["poor"], serde_json::Value::Null, "{result}");
        assert_eq!(
            v["answers"],
            serde_json::json!({}),
            "{result}: answers dropped"
        );
        let summary = hh.summary(&set);
        assert_eq!((summary.score, summary.poor), (None, false), "{result}");
        // The export leaves "Skor" and "Miskin Menurut Skor" empty beside the result.
        let cells = jemput_core::registry::export::cells(
            &jemput_core::registry::export::ExportRow::of(&hh, &set),
        );
        let col = |name: &str| {
            let i = jemput_core::registry::export::COLUMNS
                .iter()
                .position(|c| *c == name)
                .expect("column");
            cells[i].clone()
        };
        assert_eq!(
            (col("Skor"), col("Miskin Menurut Skor")),
            (String::new(), String::new()),
            "{result}"
        );
        assert_eq!(col("Kriteria Terpenuhi"), "", "{result}");
    }
    let (hh, vid) = visited("found");
    let view = hh.view(&set);
    assert_eq!(view["visits"][&vid]["score"], serde_json::json!(2));
    assert_eq!(view["visits"][&vid]["poor"], serde_json::json!(false));
    assert_eq!(hh.summary(&set).score, Some(2));
    // Twelve criteria were "tidak tahu": the visit says it is incomplete, and so does
    // the export.
    assert_eq!(view["visits"][&vid]["incomplete"], serde_json::json!(true));
    assert_eq!(
        view["visits"][&vid]["unknown"].as_array().map(Vec::len),
        Some(12)
    );
    assert_eq!(view["visits"][&vid]["unanswered"], serde_json::json!([]));
    let row = jemput_core::registry::export::ExportRow::of(&hh, &set);
    let cells = jemput_core::registry::export::cells(&row);
    let i = jemput_core::registry::export::COLUMNS
        .iter()
        .position(|c| *c == "Kunjungan Lengkap")
        .expect("column");
    assert_eq!(cells[i], "Tidak");
}

#[test]
fn a_found_household_is_asked_every_criterion() {
    let set = IndicatorSet::bps14();
    let a = author(1, "kader-a");
    let mut hh = Household::load_as(&registry_household("hh-3").save(), &a).expect("load");
    let clock = FixedClock(1_764_000_000_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    // Two answers, twelve left out: refused, naming what is missing, nothing written.
    let mut input = visit("found");
    input
        .answers
        .retain(|_, v| v.as_str() != Some("tidak_tahu"));
    let before = hh.save();
    match hh.record_visit(&input, &set, &a, &clock, &mut rng) {
        Err(jemput_core::household::HouseholdError::Incomplete(missing)) => {
            assert_eq!(missing.len(), 12);
            assert!(
                missing.contains(&"floor_area_per_person".to_string()),
                "{missing:?}"
            );
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
    assert_eq!(hh.save(), before, "a refused visit writes nothing");
    // Every criterion answered: complete, in the view and the export.
    let all = set.answers_template()["answers"].clone();
    input.answers = serde_json::from_value(all).expect("answers");
    let vid = hh
        .record_visit(&input, &set, &a, &clock, &mut rng)
        .expect("complete visit");
    let view = hh.view(&set);
    assert_eq!(view["visits"][&vid]["incomplete"], serde_json::json!(false));
    assert!(!hh.summary(&set).incomplete);
    let cells = jemput_core::registry::export::cells(
        &jemput_core::registry::export::ExportRow::of(&hh, &set),
    );
    let i = jemput_core::registry::export::COLUMNS
        .iter()
        .position(|c| *c == "Kunjungan Lengkap")
        .expect("column");
    assert_eq!(cells[i], "Ya");
}
