//! The office's registry cycle with the real binaries: an admin imports the Dinas
//! Sosial file on the server, kaders work in the field, the registry file comes again
//! (with messy rows and a household gone), an operator imports a partial file on
//! their device, and the periodic export at a cut-off stays the same however much
//! arrives after it.

use std::path::Path;

use jemput_core::registry::read::{read_file, Cell};
use jemput_tests::{read_rows, stdout, summary_number, write_rows, Client, Server};
use serde_json::json;

const KEL: &str = "35.73.01.1007";

fn now_rfc3339() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// The export CSV as rows keyed by the Jemput id (last column).
fn export_by_id(path: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).expect("export");
    let text = text.strip_prefix('\u{feff}').expect("BOM");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header[13], "Hasil Kunjungan");
    r.records()
        .map(|rec| {
            let rec: Vec<String> = rec.expect("row").iter().map(String::from).collect();
            (rec[rec.len() - 1].clone(), rec)
        })
        .collect()
}

#[test]
fn import_field_work_reimport_and_export_at_a_cutoff() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("dtks-2026-10.csv");
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
    for (user, role, rw) in [("ops", "operator", None), ("kader1", "kader", Some("1"))] {
        Server::admin(
            &data,
            &[
                "user",
                "add",
                user,
                "--role",
                role,
                "--password",
                "rahasia-123",
            ],
        );
        let mut args = vec!["assign", user, "--kelurahan", KEL];
        if let Some(rw) = rw {
            args.extend(["--rw", rw]);
        }
        Server::admin(&data, &args);
    }
    let rows = read_rows(&file);
    let households_in_rw1: std::collections::BTreeSet<&str> = rows[1..]
        .iter()
        .filter(|r| r[11] == "001")
        .map(|r| r[0].as_str())
        .collect();
    assert!(
        !households_in_rw1.is_empty(),
        "seed 3 puts households in RW 1"
    );

    // 1. The admin imports the whole registry.
    let out = Server::admin(
        &data,
        &[
            "import",
            file.to_str().expect("path"),
            "--kelurahan",
            KEL,
            "--bps",
            "3573010007",
        ],
    );
    let line = stdout(&out);
    assert!(
        line.contains("60 households")
            && line.contains("60 created")
            && line.contains("0 rows rejected"),
        "{line}"
    );
    assert!(!tmp.path().join("dtks-2026-10.csv.rejected.csv").exists());

    // 2. Field work: the kader of RW 1 gets exactly RW 1 and records a household moved.
    let mut server = Server::start(&data, "127.0.0.1:0");
    let kader = Client::new(tmp.path().join("kader1"));
    kader.login(&server.url(), "kader1", "rahasia-123");
    kader.sync();
    let list = kader.households();
    assert_eq!(list.len(), households_in_rw1.len());
    let moved_id = list[0]["id"].as_str().expect("id").to_string();
    kader.visit(&moved_id, "moved", json!({}));
    kader.sync();

    // 3. Export at a cut-off, then more work arrives, then the same cut-off again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let cutoff = now_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let first = tmp.path().join("update-1.csv");
    Server::admin(
        &data,
        &[
            "export",
            "--kelurahan",
            KEL,
            "--cutoff",
            &cutoff,
            "--out",
            first.to_str().expect("path"),
        ],
    );
    let rows_at = export_by_id(&first);
    assert_eq!(rows_at.len(), 60);
    assert_eq!(rows_at[&moved_id][13], "Pindah");
    assert_eq!(rows_at[&moved_id][23], "Usulan hapus");
    let summary =
        std::fs::read_to_string(tmp.path().join("update-1.summary.csv")).expect("summary");
    let rw1 = summary
        .lines()
        .find(|l| l.starts_with("001,"))
        .expect("RW 001 line");
    let cells: Vec<&str> = rw1.split(',').collect();
    assert_eq!(
        (cells[1], cells[2], cells[5]),
        (households_in_rw1.len().to_string().as_str(), "1", "1"),
        "{rw1}"
    );

    let died_id = list[1]["id"].as_str().expect("id").to_string();
    kader.visit(&died_id, "died", json!({}));
    kader.sync();
    let again = tmp.path().join("update-2.csv");
    Server::admin(
        &data,
        &[
            "export",
            "--kelurahan",
            KEL,
            "--cutoff",
            &cutoff,
            "--out",
            again.to_str().expect("path"),
        ],
    );
    assert_eq!(
        std::fs::read(&first).expect("first"),
        std::fs::read(&again).expect("again"),
        "a change arriving after the cut-off does not alter the export"
    );
    let later = tmp.path().join("update-3.xlsx");
    Server::admin(
        &data,
        &[
            "export",
            "--kelurahan",
            KEL,
            "--cutoff",
            "2099-12-31",
            "--out",
            later.to_str().expect("path"),
        ],
    );
    let sheets = read_file(&later).expect("xlsx");
    assert_eq!(
        sheets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["Rumah Tangga", "Ringkasan per RW"]
    );
    let died_row = sheets[0]
        .rows
        .iter()
        .find(|r| r.last() == Some(&Cell::Text(died_id.clone())))
        .expect("died household in the xlsx");
    assert_eq!(died_row[13], Cell::Text("Meninggal".into()));
    // Typed cells Excel cannot ruin: identifiers stay text (16 digits intact), RT, RW
    // and desil are numbers, the visit's date is a date.
    assert!(
        matches!(&died_row[4], Cell::Text(nik) if nik.len() == 16),
        "{:?}",
        died_row[4].original().len()
    );
    assert!(matches!(died_row[6], Cell::Number(_)) && matches!(died_row[7], Cell::Number(_)));
    assert!(matches!(died_row[8], Cell::Number(d) if (1.0..=10.0).contains(&d)));
    assert!(
        matches!(died_row[14], Cell::Date(y, _, _) if y >= 2026),
        "{:?}",
        died_row[14]
    );

    // 4. The next registry file: one household's desil changed, one household gone,
    // and a NIK mangled by a spreadsheet.
    let moved_dtks = rows_at[&moved_id][0].clone();
    let mut next = rows.clone();
    for r in next.iter_mut().filter(|r| r[0] == moved_dtks) {
        r[13] = if r[13] == "4" { "1".into() } else { "4".into() };
    }
    let gone_dtks = next[next.len() - 1][0].clone();
    next.retain(|r| r[0] != gone_dtks);
    let mangled = next.len() - 1;
    next[mangled][3] = "3.57301E+15".into();
    let file2 = tmp.path().join("dtks-2026-11.csv");
    write_rows(&file2, &next);
    let out = Server::admin(
        &data,
        &[
            "import",
            file2.to_str().expect("path"),
            "--kelurahan",
            KEL,
            "--bps",
            "3573010007",
        ],
    );
    let line = stdout(&out);
    assert!(
        line.contains("1 updated")
            && line.contains("1 marked missing")
            && line.contains("1 rows rejected"),
        "{line}"
    );
    let rejected = std::fs::read_to_string(tmp.path().join("dtks-2026-11.csv.rejected.csv"))
        .expect("rejected file");
    assert!(rejected.starts_with('\u{feff}'));
    let lines: Vec<&str> = rejected.lines().collect();
    assert_eq!(lines.len(), 2, "{rejected}");
    assert!(
        lines[1].starts_with(&format!("{},", mangled + 1))
            && lines[1].contains("notasi ilmiah")
            && lines[1].contains("scientific notation"),
        "{}",
        lines[1]
    );
    assert!(lines[0].ends_with(",alasan,reason"), "{}", lines[0]);
    // The row's 16-digit KK in the form Excel keeps as text; the workbook beside it
    // holds the same row in text cells.
    let kk_col = next[0]
        .iter()
        .position(|h| h == "nomor_kartu_keluarga" || h == "No KK");
    let kk = &next[mangled][kk_col.expect("a KK column")];
    assert!(
        lines[1].contains(&format!("\"=\"\"{kk}\"\"\"")),
        "{}",
        lines[1]
    );
    let book = read_file(&tmp.path().join("dtks-2026-11.csv.rejected.xlsx")).expect("xlsx");
    let cells = &book[0].rows[1];
    assert!(
        cells
            .iter()
            .all(|c| matches!(c, Cell::Text(_) | Cell::Empty)),
        "{cells:?}"
    );
    assert_eq!(cells[kk_col.expect("col") + 1].text().as_ref(), Some(kk));

    kader.sync();
    let shown = kader.show(&moved_id);
    assert_eq!(shown["status"], "moved", "field work kept");
    assert!(
        shown["registry"]["imported"]
            .as_i64()
            .is_some_and(|ms| ms > 1_700_000_000_000),
        "the desil carries when its file was imported: {}",
        shown["registry"]["imported"]
    );
    assert_ne!(
        shown["registry"]["desil"],
        json!(rows_at[&moved_id][8].parse::<i64>().expect("desil")),
        "registry update arrived"
    );

    // 5. An operator imports a partial file on their device; it reaches the server by
    // sync. A kader may not import or export.
    let ops = Client::new(tmp.path().join("ops"));
    ops.login(&server.url(), "ops", "rahasia-123");
    ops.sync();
    let address_dtks = rows[1][0].clone();
    let mut part: Vec<Vec<String>> = vec![rows[0].clone()];
    part.extend(
        rows[1..]
            .iter()
            .filter(|r| r[0] == address_dtks)
            .cloned()
            .map(|mut r| {
                r[9] = "Jl. Pembaruan No. 1".into();
                r
            }),
    );
    let file3 = tmp.path().join("koreksi.csv");
    write_rows(&file3, &part);
    let line = ops.ok(&["import", file3.to_str().expect("path"), "--partial"]);
    assert!(
        line.contains("1 updated") && line.contains("0 marked missing"),
        "{line}"
    );
    let line = ops.sync();
    assert!(summary_number(&line, "accepted") >= 1, "{line}");
    let out = kader.cmd(&["import", file3.to_str().expect("path"), "--partial"]);
    assert!(!out.status.success());
    let xlsx = tmp.path().join("ops-update.xlsx");
    let line = ops.ok(&[
        "export",
        "--cutoff",
        "2099-12-31",
        "--out",
        xlsx.to_str().expect("path"),
    ]);
    assert!(line.contains("60 households"), "{line}");
    let sheets = read_file(&xlsx).expect("xlsx");
    assert!(sheets[0]
        .rows
        .iter()
        .any(|r| r.get(5) == Some(&Cell::Text("Jl. Pembaruan No. 1".into()))));
    let out = kader.cmd(&[
        "export",
        "--cutoff",
        "2099-12-31",
        "--out",
        xlsx.to_str().expect("path"),
    ]);
    assert!(!out.status.success() && jemput_tests::stderr(&out).contains("office work"));

    // 6. Nothing of the import is lost to a server restart.
    server.restart();
    let heads = stdout(&Server::admin(&data, &["heads"]));
    let heads: serde_json::Value = serde_json::from_str(&heads).expect("heads");
    assert_eq!(heads.as_object().map(|o| o.len()), Some(60));
}

/// An import killed half-way (a closed laptop, Ctrl-C) leaves the server's store
/// exactly as before; the same import then runs whole.
#[test]
fn a_killed_import_changes_nothing() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("besar.csv");
    let file_arg = file.to_str().expect("path");
    Server::admin(
        &data,
        &[
            "demo-registry",
            "--out",
            file_arg,
            "--households",
            "3000",
            "--seed",
            "8",
        ],
    );
    Server::admin(
        &data,
        &[
            "demo-registry",
            "--out",
            tmp.path().join("kecil.csv").to_str().expect("path"),
            "--households",
            "5",
            "--seed",
            "2",
        ],
    );
    Server::admin(
        &data,
        &[
            "import",
            tmp.path().join("kecil.csv").to_str().expect("path"),
            "--kelurahan",
            KEL,
            "--bps",
            "3573010007",
        ],
    );
    let before = stdout(&Server::admin(&data, &["heads"]));

    let mut child = std::process::Command::new(jemput_tests::bin("jemput-sync-server"))
        .args(jemput_tests::store_args(&data))
        .args([
            "import",
            file_arg,
            "--kelurahan",
            KEL,
            "--bps",
            "3573010007",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn import");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let progress = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("import: "))
        .expect("a progress line");
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(
        !progress.contains("100%"),
        "killed before the end: {progress}"
    );
    assert_eq!(
        stdout(&Server::admin(&data, &["heads"])),
        before,
        "nothing of the killed import was kept"
    );

    // The demo numbers ID DTKS from 1 in every file: the five earlier households are the
    // first five of this file, updated; the rest are new.
    let line = stdout(&Server::admin(
        &data,
        &[
            "import",
            file_arg,
            "--kelurahan",
            KEL,
            "--bps",
            "3573010007",
        ],
    ));
    assert!(
        line.contains("2995 created") && line.contains("5 updated"),
        "{line}"
    );
}
