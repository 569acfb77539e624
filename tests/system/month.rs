//! The Puskesos round with the real binaries: kaders visit and propose, the office's
//! device shows the round's dashboard from its own replica, and its figures are the
//! ones the server's export says at the same cut-off.

use jemput_tests::{http, stderr, stdout, Client, Server};
use serde_json::{json, Value};

const KEL: &str = "35.73.01.1007";
const PASSWORD: &str = "rahasia-123";

/// Answers that meet 10 of the 14 criteria: poor by score.
fn poor_answers() -> Value {
    json!({
        "floor_material": "tanah",
        "wall_material": "bambu",
        "toilet": "tidak ada",
        "lighting": "bukan listrik",
        "drinking_water": "sungai/danau",
        "cooking_fuel": "kayu bakar",
        "protein_per_week": 0,
        "clothes_per_year": 0,
        "meals_per_day": 1,
        "clinic_cost": false,
    })
}

/// The summary lines of an export (`FILE.summary.csv`) by their first cell.
fn summary_lines(path: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u32>> {
    let text = std::fs::read_to_string(path).expect("summary");
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("RW,Rumah Tangga,Dikunjungi Periode Ini,Ditemukan"));
    lines
        .take_while(|l| !l.starts_with(','))
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let numbers = cells[1..]
                .iter()
                .map(|c| c.parse().expect("number"))
                .collect();
            (cells[0].to_string(), numbers)
        })
        .collect()
}

/// A dashboard line's figures in the summary's column order.
fn numbers(f: &Value) -> Vec<u32> {
    [
        "households",
        "visited",
        "found",
        "not_found",
        "moved",
        "died",
        "refused",
        "poor",
        "incomplete",
        "open_conflicts",
        "pending_proposals",
    ]
    .iter()
    .map(|k| f[k].as_u64().unwrap_or_else(|| panic!("no {k} in {f}")) as u32)
    .collect()
}

#[test]
fn the_dashboard_shows_the_round_and_equals_the_export_at_the_same_cutoff() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("dtks.csv");
    Server::admin(
        &data,
        &[
            "demo-registry",
            "--out",
            file.to_str().expect("path"),
            "--households",
            "60",
            "--rws",
            "3",
            "--seed",
            "3",
        ],
    );
    Server::admin(
        &data,
        &["import", file.to_str().expect("path"), "--kelurahan", KEL],
    );
    for (user, role, rw) in [
        ("ops", "operator", None),
        ("fasil", "fasilitator", None),
        ("kader1", "kader", Some("1")),
        ("kader2", "kader", Some("2")),
    ] {
        Server::admin(
            &data,
            &["user", "add", user, "--role", role, "--password", PASSWORD],
        );
        let mut args = vec!["assign", user, "--kelurahan", KEL];
        args.extend(rw.map(|rw| ["--rw", rw]).into_iter().flatten());
        Server::admin(&data, &args);
    }
    let mut server = Server::start(&data, "127.0.0.1:0");

    // The field: kader1 finds a poor household, one moved and one refusing, and
    // proposes a new one; kader2 finds one died, one not found and one answered
    // "tidak tahu" throughout (an incomplete visit).
    let k1 = Client::new(tmp.path().join("kader1"));
    k1.login(&server.url(), "kader1", PASSWORD);
    k1.sync();
    let rw1: Vec<String> = k1
        .households()
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_string())
        .collect();
    k1.visit(&rw1[0], "found", poor_answers());
    k1.visit(&rw1[1], "moved", json!({}));
    k1.visit(&rw1[2], "refused", json!({}));
    k1.ok(&[
        "propose",
        "--head-name",
        "Keluarga Usulan",
        "--address",
        "Jl. Uji No. 1",
        "--rw",
        "1",
        "--rt",
        "2",
    ]);
    k1.sync();
    let k2 = Client::new(tmp.path().join("kader2"));
    k2.login(&server.url(), "kader2", PASSWORD);
    k2.sync();
    let rw2: Vec<String> = k2
        .households()
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_string())
        .collect();
    k2.visit(&rw2[0], "died", json!({}));
    k2.visit(&rw2[1], "not_found", json!({}));
    k2.visit(&rw2[2], "found", json!({}));
    k2.sync();

    // The office's device.
    let ops = Client::new(tmp.path().join("ops"));
    ops.login(&server.url(), "ops", PASSWORD);
    ops.sync();
    let d: Value = serde_json::from_str(&ops.ok(&["dashboard", "--json"])).expect("json");
    let today = ops.device().today();
    assert_eq!(d["period"]["start"], json!(format!("{}-01", &today[..7])));
    assert!(d["period"]["end"].as_str().expect("end") >= today.as_str());
    assert_eq!(d["period"]["zone"], json!("WIB"));
    let rw = |n: u64| {
        d["rws"]
            .as_array()
            .expect("rws")
            .iter()
            .find(|r| r["rw"] == json!(n))
            .unwrap_or_else(|| panic!("RW {n} in {d}"))
            .clone()
    };
    let (one, two) = (rw(1), rw(2));
    assert_eq!(
        one["households"],
        json!(rw1.len() + 1),
        "the proposal counts"
    );
    assert_eq!(
        (
            &one["visited"],
            &one["found"],
            &one["moved"],
            &one["refused"]
        ),
        (&json!(3), &json!(1), &json!(1), &json!(1))
    );
    assert_eq!(
        (&one["poor"], &one["pending_proposals"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(
        (
            &two["visited"],
            &two["died"],
            &two["not_found"],
            &two["found"]
        ),
        (&json!(3), &json!(1), &json!(1), &json!(1))
    );
    assert_eq!((&two["poor"], &two["incomplete"]), (&json!(0), &json!(1)));
    let kader = |name: &str| {
        d["kaders"]
            .as_array()
            .expect("kaders")
            .iter()
            .find(|k| k["user"] == json!(name))
            .unwrap_or_else(|| panic!("{name} in {d}"))
            .clone()
    };
    assert_eq!(kader("kader1")["visits"], json!(3));
    assert_eq!(
        (&kader("kader2")["visits"], &kader("kader2")["households"]),
        (&json!(3), &json!(3))
    );
    let rts: u64 = d["rts"]
        .as_array()
        .expect("rts")
        .iter()
        .map(|r| r["visited"].as_u64().expect("visited"))
        .sum();
    assert_eq!(rts, 6, "the RT lines add up to the visits");

    // The export at a cut-off of now says the same, line by line.
    let out = tmp.path().join("update.csv");
    let cutoff = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now");
    Server::admin(
        &data,
        &[
            "export",
            "--kelurahan",
            KEL,
            "--cutoff",
            &cutoff,
            "--out",
            out.to_str().expect("path"),
        ],
    );
    let summary = summary_lines(&out.with_extension("summary.csv"));
    for f in d["rws"].as_array().expect("rws") {
        let key = format!("{:03}", f["rw"].as_u64().expect("rw"));
        assert_eq!(summary[&key], numbers(f), "RW {key}");
    }
    assert_eq!(summary["Jumlah"], numbers(&d["total"]));

    // Another round: nothing was visited in January; a bad period is a clear error.
    let jan: Value = serde_json::from_str(&ops.ok(&["dashboard", "--period", "2026-01", "--json"]))
        .expect("json");
    assert_eq!(jan["total"]["visited"], json!(0));
    assert_eq!(jan["total"]["households"], d["total"]["households"]);
    let bad = ops.cmd(&["dashboard", "--period", "2026-13"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("is not a period"), "{}", stderr(&bad));

    // The kelurahan counts by quarter: devices take it at their next login.
    Server::admin(&data, &["kelurahan", "set", KEL, "--period", "quarter"]);
    let fasil = Client::new(tmp.path().join("fasil"));
    fasil.login(&server.url(), "fasil", PASSWORD);
    fasil.sync();
    let q: Value = serde_json::from_str(&fasil.ok(&["dashboard", "--json"])).expect("json");
    let month: u32 = today[5..7].parse().expect("month");
    let first = (month - 1) / 3 * 3 + 1;
    assert_eq!(
        q["period"]["start"],
        json!(format!("{}-{first:02}-01", &today[..4]))
    );
    assert_eq!(q["total"], d["total"], "every visit is in the quarter too");

    // A kader has no dashboard.
    let refused = k1.cmd(&["dashboard"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("office work"),
        "{}",
        stdout(&refused)
    );

    muskel_decides_the_proposals(&tmp, &server, &ops, &fasil, (&rw1, &rw2));
    // The kelurahan gives complaints 21 days.
    let out = Server::admin(&data, &["kelurahan", "set", KEL, "--complaint-days", "21"]);
    assert!(
        stdout(&out).contains("complaints due in 21 days"),
        "{}",
        stdout(&out)
    );
    let out = jemput_tests::run(
        std::process::Command::new(jemput_tests::bin("jemput-sync-server"))
            .args(jemput_tests::store_args(&data))
            .args(["kelurahan", "set", KEL, "--muskel-day", "31"]),
    );
    assert!(!out.status.success(), "day 31 is refused");
    assert!(stderr(&out).contains("1 to 28"), "{}", stderr(&out));
    complaints_are_tracked_to_closure(&mut server, &ops, (&k1, &k2), &rw1[0]);
}

/// A sanggah received in the field and an usul received offline are assigned, visited
/// and closed; the dashboard counts what is open; scopes and roles hold.
fn complaints_are_tracked_to_closure(
    server: &mut Server,
    ops: &Client,
    (k1, k2): (&Client, &Client),
    household: &str,
) {
    let sanggah = k1
        .ok(&[
            "complaint",
            "add",
            "--category",
            "sanggah",
            "--household",
            household,
            "--text",
            "Tetangga melapor: keluarga ini mampu",
        ])
        .trim()
        .to_string();
    // A hostile device: a case received "in 1970" (it would be overdue at once) and a
    // case for an RW the kader does not hold are refused, nothing stored.
    let token = login_token(server, "kader1");
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    for (body, status) in [
        (
            format!(
                r#"{{"id": "cs-lama", "category": "sanggah", "household": "{household}", "text": "x", "received_ms": 0}}"#
            ),
            400,
        ),
        (
            format!(
                r#"{{"id": "cs-rw2", "category": "usul", "rw": 2, "text": "x", "received_ms": {now}}}"#
            ),
            403,
        ),
    ] {
        let (got, _) =
            http(&server.addr, "POST", "/v1/cases", &headers, body.as_bytes()).expect("answer");
        assert_eq!(got, status, "{body}");
    }

    // Offline: kept on the phone, sent at the next sync.
    server.kill();
    let out = k2.cmd(&[
        "complaint",
        "add",
        "--category",
        "usul",
        "--rw",
        "2",
        "--from",
        "Ibu Sri",
        "--text",
        "Belum terdaftar, janda dengan tiga anak",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("offline: kept"), "{}", stderr(&out));
    let usul = stdout(&out).trim().to_string();
    server.restart();
    let line = k2.sync();
    assert!(line.contains("complaints sent: 1"), "{line}");

    let cases = |who: &Client, args: &[&str]| -> Vec<Value> {
        let mut all = vec!["complaints", "--json"];
        all.extend(args);
        serde_json::from_str::<Value>(&who.ok(&all))
            .expect("json")
            .as_array()
            .expect("list")
            .clone()
    };
    let all = cases(ops, &[]);
    let ids: Vec<&str> = all.iter().map(|c| c["id"].as_str().expect("id")).collect();
    assert_eq!(ids, [sanggah.as_str(), usul.as_str()]);
    assert!(all.iter().all(|c| c["status"] == json!("open")));
    let received = time::Date::parse(
        &ops.device().today(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .expect("today");
    let due = (received + time::Duration::days(21)).to_string();
    assert_eq!(all[0]["due"], json!(due), "the kelurahan's 21 days");
    assert_eq!(all[1]["complainant"], json!("Ibu Sri"));
    assert!(
        all[0].get("complainant").is_none_or(Value::is_null),
        "anonymous"
    );
    let k2_sees: Vec<Value> = cases(k2, &[]);
    assert_eq!(k2_sees.len(), 1, "RW 2's kader sees RW 2's case only");
    let d: Value = serde_json::from_str(&ops.ok(&["dashboard", "--json"])).expect("json");
    assert_eq!(d["total"]["open_complaints"], json!(2));

    // Roles and scopes: a kader assigns nothing; a kader of another RW is refused.
    let out = k1.cmd(&["complaint", "assign", &sanggah, "--kader", "kader1"]);
    assert!(stderr(&out).contains("does not assign"), "{}", stderr(&out));
    let out = ops.cmd(&["complaint", "assign", &sanggah, "--kader", "kader2"]);
    assert!(
        stderr(&out).contains("no kader of RW 001"),
        "{}",
        stderr(&out)
    );
    ops.ok(&["complaint", "assign", &sanggah, "--kader", "kader1"]);

    // The assigned kader visits; the visit is linked once the server holds it.
    let line = k1.visit(household, "found", poor_answers());
    let visit = line
        .split_whitespace()
        .nth(1)
        .expect("visit id")
        .to_string();
    let out = k1.cmd(&["complaint", "visit", &sanggah, "--visit", &visit]);
    assert!(stderr(&out).contains("sync it first"), "{}", stderr(&out));
    k1.sync();
    k1.ok(&["complaint", "visit", &sanggah, "--visit", &visit]);
    ops.ok(&[
        "complaint",
        "close",
        &sanggah,
        "--outcome",
        "Tetap layak",
        "--note",
        "Kunjungan ulang: rumah tanah, tanpa listrik",
    ]);
    let out = ops.cmd(&[
        "complaint",
        "close",
        &sanggah,
        "--outcome",
        "x",
        "--note",
        "y",
    ]);
    assert!(stderr(&out).contains("closed"), "{}", stderr(&out));
    let open = cases(ops, &["--status", "open"]);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], json!(usul));
    let closed = cases(ops, &["--status", "closed"]);
    assert_eq!(closed[0]["visit"], json!(visit));
    let trail: Vec<&str> = closed[0]["trail"]
        .as_array()
        .expect("trail")
        .iter()
        .map(|e| e["what"].as_str().expect("what"))
        .collect();
    assert_eq!(
        trail,
        [
            "received",
            "assigned kader1",
            &format!("visit {visit}"),
            "closed"
        ]
    );
    assert!(
        cases(ops, &["--status", "overdue"]).is_empty(),
        "due in 30 days"
    );
}

fn login_token(server: &Server, user: &str) -> String {
    let body = format!(r#"{{"user": "{user}", "password": "{PASSWORD}", "device_name": "uji"}}"#);
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/login",
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
    .expect("login answers");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).expect("json");
    v["token"].as_str().expect("token").to_string()
}

/// The office's proposals go to a Muskel; its minutes and the SIKS-NG list come out.
fn muskel_decides_the_proposals(
    tmp: &tempfile::TempDir,
    server: &Server,
    ops: &Client,
    fasil: &Client,
    (rw1, rw2): (&[String], &[String]),
) {
    // Proposals: the household proposed in the field (add); moved, died and not found
    // (remove). The refusing household and the incomplete visit propose nothing.
    let proposals: Value = serde_json::from_str(&ops.ok(&["proposals", "--json"])).expect("json");
    let list = proposals.as_array().expect("proposals");
    let of = |household: &str| {
        list.iter()
            .find(|p| p["household"] == json!(household))
            .unwrap_or_else(|| panic!("no proposal of {household} in {proposals}"))
            .clone()
    };
    assert_eq!(list.len(), 4, "{proposals}");
    let added = list
        .iter()
        .find(|p| p["kind"] == json!("add"))
        .expect("the field's proposal")
        .clone();
    assert_eq!(added["head_name"], json!("Keluarga Usulan"));
    assert_eq!(of(&rw1[1])["reason"], json!("moved"));
    assert_eq!(of(&rw2[0])["reason"], json!("died"));
    assert_eq!(of(&rw2[1])["reason"], json!("not_found"));
    assert!(list.iter().all(|p| p["status"] == json!("draft")));
    let names: std::collections::BTreeMap<String, String> = ops
        .households()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().expect("id").to_string(),
                h["head_name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();

    // The operator opens a session; the fasilitator decides with them.
    let today = ops.device().today();
    let id = ops
        .ok(&[
            "muskel",
            "new",
            "--date",
            &today,
            "--place",
            "Balai Kelurahan Purwantoro",
            "--attendees",
            "23",
            "--official",
            "Sutrisno Hadi:Lurah",
            "--official",
            "Wahyuni:Ketua Puskesos",
        ])
        .trim()
        .to_string();
    let decide = |who: &Client, household: &str, kind: &str, outcome: &str, reason: &str| {
        who.cmd(&[
            "muskel",
            "decide",
            &id,
            "--household",
            household,
            "--kind",
            kind,
            "--outcome",
            outcome,
            "--reason",
            reason,
        ])
    };
    let added_id = added["household"].as_str().expect("id");
    for (who, household, kind, outcome, reason) in [
        (ops, added_id, "add", "approved", "Layak masuk DTSEN"),
        (
            fasil,
            rw1[1].as_str(),
            "remove",
            "approved",
            "Sudah pindah ke Malang",
        ),
        (
            ops,
            rw2[0].as_str(),
            "remove",
            "approved",
            "Akta kematian ada",
        ),
        (
            fasil,
            rw2[1].as_str(),
            "remove",
            "deferred",
            "Dicari lagi bulan depan",
        ),
    ] {
        let out = decide(who, household, kind, outcome, reason);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // What no household stands for is refused, whoever asks.
    let out = decide(ops, &rw1[0], "remove", "approved", "x");
    assert!(
        stderr(&out).contains("stands for no remove proposal"),
        "{}",
        stderr(&out)
    );
    let out = decide(ops, "h-tidak-ada", "remove", "approved", "x");
    assert!(stderr(&out).contains("no household"), "{}", stderr(&out));

    // An attacker with a kader's token: no list, no decision, no new session.
    let token = login_token(server, "kader1");
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, _) = http(&server.addr, "GET", "/v1/muskel", &headers, b"").expect("answer");
    assert_eq!(status, 403, "a kader holds no whole kelurahan");
    let body = format!(
        r#"{{"household": "{}", "kind": "remove", "outcome": "rejected", "reason": "x"}}"#,
        rw1[1]
    );
    let path = format!("/v1/muskel/{id}/decide");
    let (status, _) = http(&server.addr, "POST", &path, &headers, body.as_bytes()).expect("answer");
    assert_eq!(status, 403);
    let (status, _) =
        http(&server.addr, "POST", "/v1/muskel", &headers, b"{not json").expect("answer");
    assert_eq!(status, 400, "a broken body is a clear 400");

    let out = ops.ok(&["muskel", "close", &id]);
    assert!(out.contains("3 approved, 0 rejected, 1 deferred"), "{out}");
    let out = decide(fasil, &rw2[1], "remove", "approved", "x");
    assert!(stderr(&out).contains("is closed"), "{}", stderr(&out));

    // Statuses follow the session on every office device.
    let again: Value = serde_json::from_str(&fasil.ok(&["proposals", "--json"])).expect("json");
    let status_of = |h: &str| {
        again
            .as_array()
            .expect("list")
            .iter()
            .find(|p| p["household"] == json!(h))
            .map(|p| p["status"].clone())
            .expect("listed")
    };
    assert_eq!(status_of(added_id), json!("approved"));
    assert_eq!(status_of(&rw2[1]), json!("deferred"));

    // The minutes, read back from the PDF: every decision, name and official.
    let pdf = tmp.path().join("berita-acara.pdf");
    ops.ok(&[
        "muskel",
        "minutes",
        &id,
        "--out",
        pdf.to_str().expect("path"),
    ]);
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().expect("path"), "-"])
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "BERITA ACARA",
        "001/BA-MUSKEL/",
        "Balai Kelurahan Purwantoro",
        "23 orang",
        "Sutrisno Hadi",
        "Ketua Puskesos",
        "Keluarga Usulan",
        "Disetujui: Layak masuk DTSEN",
        "Ditunda: Dicari lagi bulan depan",
        "disetujui 3, ditolak 0, ditunda 1",
    ] {
        assert!(
            flat.contains(needle),
            "`{needle}` not in the minutes:\n{text}"
        );
    }
    for h in [&rw1[1], &rw2[0], &rw2[1]] {
        let name = &names[h.as_str()];
        assert!(flat.contains(name.as_str()), "{name} not in the minutes");
    }
    assert!(!flat.contains("3573"), "no NIK on the signed paper");

    // The SIKS-NG list: the three approved, NIK and No KK as text.
    let xlsx = tmp.path().join("siks.xlsx");
    let out = ops.ok(&["muskel", "siks", &id, "--out", xlsx.to_str().expect("path")]);
    assert!(out.contains("3 approved"), "{out}");
    let sheets = jemput_core::registry::read::read_file(&xlsx).expect("reads");
    let rows: Vec<Vec<String>> = sheets[0]
        .rows
        .iter()
        .map(|r| r.iter().map(|c| c.text().unwrap_or_default()).collect())
        .collect();
    assert_eq!(
        rows[0],
        jemput_core::muskel::SIKS_COLUMNS.map(String::from).to_vec()
    );
    assert_eq!(rows.len(), 4, "{rows:?}");
    let died = rows
        .iter()
        .find(|r| r[2] == names[rw2[0].as_str()])
        .expect("the died household");
    assert_eq!(died[7], "Usulan hapus");
    assert!(
        died[0].len() == 16 && died[0].chars().all(|c| c.is_ascii_digit()),
        "NIK as text: {died:?}"
    );
    assert_eq!(died[10], rows[1][10], "one minutes' number");
}
