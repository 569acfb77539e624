//! The fasilitator sees exactly the conflicts two kaders and the office created
//! offline, decides them, and the decisions and notes reach every device.

use jemput_tests::{stderr, summary_number, Client, Server};
use serde_json::{json, Value};

const KEL: &str = "35.73.01.1007";
const PW: &str = "rahasia-uji-123";

fn conflicts(c: &Client) -> Vec<Value> {
    let out = c.ok(&["conflicts", "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("conflicts JSON: {e}: {out}"))
}

fn summary(list: &[Value]) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = list
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or("").to_string(),
                c["household"].as_str().unwrap_or("").to_string(),
                c["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pick_where(c: &Value, f: impl Fn(&Value) -> bool) -> String {
    c["choices"]
        .as_array()
        .and_then(|cs| cs.iter().find(|x| f(x)))
        .map(|x| x["n"].to_string())
        .unwrap_or_else(|| panic!("no matching choice in {c}"))
}

#[test]
fn fasilitator_sees_exactly_the_conflicts_decides_and_the_field_gets_the_note() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "21"]);
    for name in ["kader-a", "kader-b", "kader-c"] {
        Server::admin(
            &data,
            &["user", "add", name, "--role", "kader", "--password", PW],
        );
        Server::admin(&data, &["assign", name, "--kelurahan", KEL, "--rw", "1"]);
    }
    let server = Server::start(&data, "127.0.0.1:0");
    let url = server.url();
    let a = Client::new(tmp.path().join("a"));
    let b = Client::new(tmp.path().join("b"));
    let op = Client::new(tmp.path().join("op"));
    let fas = Client::new(tmp.path().join("fas"));
    a.login(&url, "kader-a", PW);
    b.login(&url, "kader-b", PW);
    op.login(&url, "demo-operator", "jemput-demo");
    fas.login(&url, "demo-fasilitator", "jemput-demo");
    for c in [&a, &b, &op, &fas] {
        c.sync();
    }
    assert!(
        conflicts(&fas).is_empty(),
        "a fresh registry has no conflicts"
    );

    // Offline, concurrently: two kaders visit h1 with different results and different
    // presence for one member; both visit other households (no conflict); the operator
    // and the fasilitator correct h2's address differently; kader-a proposes a household
    // with the KK of h3.
    let rows = a.households();
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    let (h1, h2, h3, h4) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let member = fas.show(h1)["members"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("h1 has a member");
    let visit = |c: &Client, id: &str, result: &str, presence: Option<&str>| {
        let file = c.home.join("v.json");
        let mut answers = serde_json::from_value(json!({"meals_per_day": 2})).expect("answers");
        jemput_core::IndicatorSet::bps14().mark_unanswered_unknown(&mut answers);
        let mut body = json!({"result": result, "answers": answers});
        if let Some(p) = presence {
            body["member_changes"] = json!({ member.clone(): p });
        }
        std::fs::write(&file, body.to_string()).expect("write");
        c.ok(&["visit", id, "--answers", file.to_str().unwrap_or_default()]);
    };
    visit(&a, h1, "found", Some("moved"));
    visit(&b, h1, "moved", Some("died"));
    visit(&a, h4, "found", None);
    visit(&b, &ids[4], "refused", None);
    op.ok(&["edit", h2, "identity.address", "Jl. Koreksi Operator No. 1"]);
    fas.ok(&[
        "edit",
        h2,
        "identity.address",
        "Jl. Koreksi Fasilitator No. 2",
    ]);
    op.ok(&["edit", h4, "identity.address", "Jl. Tidak Bentrok No. 4"]);
    let kk = fas.show(h3)["identity"]["kk"]
        .as_str()
        .expect("kk")
        .to_string();
    a.ok(&[
        "propose",
        "--head-name",
        "Keluarga Usulan Uji",
        "--kk",
        &kk,
        "--address",
        "Jl. Uji",
        "--rw",
        "1",
        "--rt",
        "1",
    ]);
    for c in [&a, &b, &op, &fas, &a, &b, &op] {
        c.sync();
    }

    // Exactly these conflicts, with the same ids on every office device.
    let open = conflicts(&fas);
    let proposal = a
        .households()
        .iter()
        .find(|r| r["proposal"] == true)
        .and_then(|r| r["id"].as_str().map(String::from))
        .expect("the proposal synced");
    let mut expected = vec![
        ("divergent_visits".to_string(), h1.clone(), String::new()),
        (
            "field".to_string(),
            h1.clone(),
            format!("members.{member}.presence"),
        ),
        ("field".to_string(), h1.clone(), "status".to_string()),
        (
            "field".to_string(),
            h2.clone(),
            "identity.address".to_string(),
        ),
        (
            "possible_duplicate".to_string(),
            proposal.clone(),
            "kk".to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(
        summary(&open),
        expected,
        "no false conflicts from edits to different fields"
    );
    let mut ids_fas: Vec<&str> = open.iter().filter_map(|c| c["id"].as_str()).collect();
    let op_open = conflicts(&op);
    let mut ids_op: Vec<&str> = op_open.iter().filter_map(|c| c["id"].as_str()).collect();
    ids_fas.sort();
    ids_op.sort();
    assert_eq!(
        ids_fas, ids_op,
        "a conflict has the same id on every device"
    );
    let status = open
        .iter()
        .find(|c| c["path"] == "status")
        .expect("status conflict");
    // The field in words beside its path.
    assert_eq!(status["label"], "Status kunjungan");
    let address = open
        .iter()
        .find(|c| c["path"] == "identity.address")
        .expect("address conflict");
    assert_eq!(address["label"], "Alamat");
    let dup = open
        .iter()
        .find(|c| c["kind"] == "possible_duplicate")
        .expect("duplicate");
    assert_eq!(dup["label"], "Kemungkinan duplikat (KK sama)");
    for choice in status["choices"].as_array().expect("choices") {
        assert!(
            choice["by"].is_string() && choice["at"].as_i64() > Some(0),
            "who and when: {choice}"
        );
        assert!(
            choice["visit"].is_string(),
            "which visit wrote it: {choice}"
        );
    }

    // A kader may not decide: refused on the device, and by the server when forced.
    let by_a = a.cmd(&[
        "resolve",
        status["id"].as_str().unwrap_or_default(),
        "--pick",
        "1",
    ]);
    assert!(
        !by_a.status.success() && stderr(&by_a).contains("fasilitator"),
        "{}",
        stderr(&by_a)
    );
    let c = Client::new(tmp.path().join("c"));
    c.login(&url, "kader-c", PW);
    c.sync();
    let cfg_path = c.home.join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).expect("config");
    std::fs::write(&cfg_path, cfg.replace("\"kader\"", "\"fasilitator\"")).expect("impersonate");
    c.ok(&[
        "resolve",
        status["id"].as_str().unwrap_or_default(),
        "--pick",
        "1",
        "--note",
        "palsu",
    ]);
    let line = c.sync();
    assert_eq!(
        summary_number(&line, "rejected"),
        1,
        "the server refuses a kader's resolution: {line}"
    );
    let refused = c
        .households()
        .into_iter()
        .find(|r| r["id"] == h1.as_str())
        .expect("h1");
    assert!(
        refused["rejected"]
            .as_str()
            .is_some_and(|r| r.contains("forbidden")),
        "{refused}"
    );

    // The fasilitator decides each one; one note travels to the field.
    let id = |c: &Value| c["id"].as_str().unwrap_or_default().to_string();
    let note = "Sudah dicek ke lokasi: keluarga pindah ke luar kota";
    let moved = pick_where(status, |x| x["value"] == "moved");
    fas.ok(&["resolve", &id(status), "--pick", &moved, "--note", note]);
    let presence = open
        .iter()
        .find(|c| c["path"].as_str().is_some_and(|p| p.ends_with("presence")))
        .expect("presence");
    fas.ok(&["resolve", &id(presence), "--value", "moved"]);
    let divergent = open
        .iter()
        .find(|c| c["kind"] == "divergent_visits")
        .expect("divergent");
    let by_b = pick_where(divergent, |x| x["by"] == "kader-b");
    fas.ok(&["resolve", &id(divergent), "--pick", &by_b]);
    let address = open
        .iter()
        .find(|c| c["path"] == "identity.address")
        .expect("address");
    fas.ok(&[
        "resolve",
        &id(address),
        "--value",
        "Jl. Keputusan Akhir No. 3",
    ]);
    let dup = open
        .iter()
        .find(|c| c["kind"] == "possible_duplicate")
        .expect("duplicate");
    fas.ok(&["resolve", &id(dup), "--pick", "2"]);
    assert!(
        conflicts(&fas).is_empty(),
        "decided on the fasilitator's device at once"
    );
    let bad = fas.cmd(&["resolve", "c-tidak-ada", "--pick", "1"]);
    assert!(!bad.status.success(), "an unknown conflict is an error");

    for c in [&fas, &a, &b, &op] {
        c.sync();
    }
    for (name, c) in [
        ("kader-a", &a),
        ("kader-b", &b),
        ("operator", &op),
        ("fasilitator", &fas),
    ] {
        assert!(
            conflicts(c).is_empty(),
            "{name} has no open conflict: {:?}",
            summary(&conflicts(c))
        );
    }
    // The kader's inbox has the decisions and the note, unread until looked at.
    let inbox: Vec<Value> = serde_json::from_str(&a.ok(&["inbox", "--json"])).expect("inbox");
    let note_item = inbox
        .iter()
        .find(|i| i["kind"] == "note")
        .unwrap_or_else(|| panic!("the note in the inbox: {inbox:?}"));
    assert_eq!(note_item["by"], json!("demo-fasilitator"));
    assert_eq!(note_item["unread"], json!(true));
    assert!(inbox.iter().any(|i| i["kind"] == "decision"));
    let listed: Vec<Value> =
        serde_json::from_str(&a.ok(&["households", "--json"])).expect("households");
    assert!(
        listed.iter().any(|r| r["unread"] == json!(true)),
        "a household in the list is marked"
    );
    a.ok(&["inbox", "--seen"]);
    let inbox: Vec<Value> = serde_json::from_str(&a.ok(&["inbox", "--json"])).expect("inbox");
    assert!(
        inbox.iter().all(|i| i["unread"] == json!(false)),
        "read now"
    );
    let on_a = a.show(h1);
    assert_eq!(
        on_a,
        b.show(h1),
        "every device shows the same decided household"
    );
    assert_eq!(on_a, fas.show(h1));
    assert_eq!(on_a["status"], json!("moved"));
    assert_eq!(on_a["members"][&member]["presence"], json!("moved"));
    let notes: Vec<&Value> = on_a["notes"]
        .as_object()
        .map(|n| n.values().collect())
        .unwrap_or_default();
    assert_eq!(
        notes.len(),
        1,
        "the note reached the kader: {}",
        on_a["notes"]
    );
    assert_eq!(notes[0]["text"], json!(note));
    assert_eq!(notes[0]["by"], json!("demo-fasilitator"));
    assert_eq!(
        a.show(h2)["identity"]["address"],
        json!("Jl. Keputusan Akhir No. 3")
    );
    assert_eq!(op.show(&proposal)["duplicate_of"], json!(h3));

    // History: every value ever set on h1's status, with its author.
    let out = fas.ok(&["history", h1, "--json"]);
    let history: Vec<Value> = serde_json::from_str(&out).expect("history JSON");
    let set_status: Vec<(String, String)> = history
        .iter()
        .flat_map(|e| {
            let by = e["by"].as_str().unwrap_or("").to_string();
            e["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["path"] == "status" && c["op"] == "set")
                .map(move |c| (by.clone(), c["value"].as_str().unwrap_or("").to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        set_status.contains(&("kader-a".into(), "found".into())),
        "{set_status:?}"
    );
    assert!(
        set_status.contains(&("kader-b".into(), "moved".into())),
        "{set_status:?}"
    );
    // Typed values, times as numbers, and a sentence in the CLI's language.
    assert!(history.iter().all(|e| e["at"].is_i64()), "at is a number");
    assert!(
        history.iter().any(|e| e["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(
                |c| c["path"].as_str().is_some_and(|p| p.ends_with(".size")) && c["value"].is_i64()
            )),
        "a number stays a number"
    );
    let texts: Vec<&str> = history.iter().filter_map(|e| e["text"].as_str()).collect();
    assert!(
        texts.contains(&"kader-b mencatat kunjungan: Pindah"),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("demo-fasilitator memutuskan konflik")),
        "{texts:?}"
    );
    let english = fas
        .command()
        .env("JEMPUT_LANG", "en")
        .args(["history", h1, "--json"])
        .output()
        .expect("history in English");
    let english: Vec<Value> = serde_json::from_slice(&english.stdout).expect("history JSON");
    assert!(
        english
            .iter()
            .any(|e| e["text"] == "kader-b recorded a visit: Moved"),
        "English on request"
    );
    let plain = fas.ok(&["history", h1]);
    assert!(!plain.contains("Timestamp"), "{plain}");
    assert!(
        plain.contains(" WIB  "),
        "times in the kelurahan's clock: {plain}"
    );
    assert!(
        set_status.iter().any(|(by, _)| by == "demo-fasilitator"),
        "the decision: {set_status:?}"
    );
    let before: Value =
        serde_json::from_str(&fas.ok(&["history", h1, "--as-of", "2026-01-06"])).expect("as-of");
    assert_eq!(
        before["status"],
        Value::Null,
        "before the visits there was no status"
    );
    assert_eq!(before["visits"], json!({}));

    // The decisions are in the kelurahan's audit chain, by the fasilitator.
    let audit = jemput_tests::stdout(&Server::admin(&data, &["audit", "show"]));
    let decisions: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "decision")
        .collect();
    assert!(!decisions.is_empty(), "{audit}");
    assert!(decisions
        .iter()
        .all(|e| e["by"] == "demo-fasilitator" && e["chain"] == KEL));
    Server::admin(&data, &["audit", "verify"]);
}
