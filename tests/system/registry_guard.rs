//! Whole-file checks of the registry import with the real binaries (issue 12): a file
//! that is empty under its header, rejects every row, or is not this kelurahan's
//! registry stops with exit code 2 and changes nothing; one that would mark many
//! households missing stops with exit code 3, printing the number, until that exact
//! number is confirmed. The server's command line and the operator's device agree.

use std::path::Path;
use std::process::{Command, Output};

use jemput_tests::{bin, read_rows, run, stderr, stdout, write_rows, Client, Server};

const KEL: &str = "35.73.01.1007";

/// `jemput-sync-server --data DATA import FILE --kelurahan KEL EXTRA…`, whatever its
/// exit code. Only the first import names the BPS code its rows carry (`--bps`): the
/// later ones find it on the households stored.
/// It speaks Indonesian, as the command lines do without `JEMPUT_LANG`.
fn import(data: &Path, file: &Path, extra: &[&str]) -> Output {
    import_in("id", data, file, extra)
}

fn import_in(lang: &str, data: &Path, file: &Path, extra: &[&str]) -> Output {
    run(Command::new(bin("jemput-sync-server"))
        .env("JEMPUT_LANG", lang)
        .args(jemput_tests::store_args(data))
        .args(["import", file.to_str().expect("path"), "--kelurahan", KEL])
        .args(extra))
}

/// An operator of the kelurahan, logged in on a device in `dir/ops`, and the running
/// server it talks to (kept alive by the caller).
fn operator(data: &Path, dir: &Path) -> (Server, Client) {
    Server::admin(
        data,
        &[
            "user",
            "add",
            "ops",
            "--role",
            "operator",
            "--password",
            "rahasia-123",
        ],
    );
    Server::admin(data, &["assign", "ops", "--kelurahan", KEL]);
    let server = Server::start(data, "127.0.0.1:0");
    let ops = Client::new(dir.join("ops"));
    ops.login(&server.url(), "ops", "rahasia-123");
    (server, ops)
}

/// Every household's heads on the server: equal before and after means nothing changed.
fn heads(data: &Path) -> String {
    stdout(&Server::admin(data, &["heads"]))
}

fn demo_file(data: &Path, out: &Path, households: &str, seed: &str) {
    Server::admin(
        data,
        &[
            "demo-registry",
            "--out",
            out.to_str().expect("path"),
            "--households",
            households,
            "--seed",
            seed,
        ],
    );
}

#[test]
fn a_file_that_would_wipe_the_kelurahan_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("dtks.csv");
    // Written beside another server: this one does not know the kelurahan's BPS code.
    demo_file(&tmp.path().join("gen"), &file, "60", "3");
    // Into an empty kelurahan whose BPS code the server does not know, rows carrying
    // that code need it once: the refusal names both codes and the fix (and exits 2,
    // every row refused).
    let out = import(&data, &file, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let rejected =
        std::fs::read_to_string(tmp.path().join("dtks.csv.rejected.csv")).expect("rejected rows");
    assert!(
        rejected.contains(
            "region 3573010007, not to kelurahan 35.73.01.1007 (its BPS code is not known yet: if 3573010007 is it, import with --bps 3573010007)"
        ),
        "{}",
        rejected.lines().nth(1).unwrap_or_default()
    );
    let out = import(&data, &file, &["--bps", "3573010007"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.contains("60 created")
            && line.contains("the file holds 0 of the 0 registry households stored"),
        "the summary line keeps its form, then the share: {line}"
    );
    let rows = read_rows(&file);
    let before = heads(&data);
    let out = import(&data, &file, &[]);
    assert!(
        stdout(&out).contains("60 unchanged") && stdout(&out).contains("0 rows rejected"),
        "again without --bps: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(heads(&data), before);

    // A header-only file: exit 2, not "60 marked missing".
    let empty = tmp.path().join("header-only.csv");
    write_rows(&empty, &rows[..1]);
    let out = import(&data, &empty, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("berkas tidak punya baris data"),
        "{}",
        stderr(&out)
    );
    assert_eq!(heads(&data), before, "nothing changed");

    // Every row rejected (the NIKs mangled by a spreadsheet): exit 2, and no NIK echoed.
    let mut mangled = rows.clone();
    for r in mangled.iter_mut().skip(1) {
        r[3] = "3.57301E+15".into();
    }
    let bad = tmp.path().join("all-bad.csv");
    write_rows(&bad, &mangled);
    // A dry run stops the same way and writes nothing, not even the rejected rows.
    let out = import(&data, &bad, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!tmp.path().join("all-bad.csv.rejected.csv").exists());
    assert!(!tmp.path().join("all-bad.csv.rejected.xlsx").exists());
    let out = import(&data, &bad, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "semua {} baris data berkas ditolak",
            rows.len() - 1
        )) && stderr(&out).contains("all-bad.csv.rejected.xlsx"),
        "{}",
        stderr(&out)
    );
    assert!(tmp.path().join("all-bad.csv.rejected.csv").exists());
    let out = import_in("en", &data, &bad, &[]);
    assert!(
        stderr(&out).contains(&format!(
            "all {} data rows of the file were rejected",
            rows.len() - 1
        )),
        "JEMPUT_LANG=en: {}",
        stderr(&out)
    );
    assert_eq!(heads(&data), before);

    // Another kelurahan's file without a region column (its ID DTKS start with its
    // own code): it holds none of the stored keys, so it stops before building.
    let other = tmp.path().join("other.csv");
    demo_file(&tmp.path().join("elsewhere"), &other, "80", "11");
    let foreign: Vec<Vec<String>> = read_rows(&other)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if i > 0 {
                r[0] = r[0].replacen("3573010007", "3573010008", 1);
            }
            r.remove(12); // Kode Wilayah
            r
        })
        .collect();
    write_rows(&other, &foreign);
    let out = import(&data, &other, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("memuat 0 dari 60 rumah tangga registri yang tersimpan"),
        "{}",
        stderr(&out)
    );
    assert_eq!(heads(&data), before);

    // Ten households gone (17 % of 60): the number is printed, exit 3, nothing changed,
    // until exactly that number is confirmed.
    let gone: std::collections::BTreeSet<String> = rows[1..]
        .iter()
        .map(|r| r[0].clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(10)
        .collect();
    let kept: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| *i == 0 || !gone.contains(&r[0]))
        .map(|(_, r)| r.clone())
        .collect();
    let fewer = tmp.path().join("fewer.csv");
    write_rows(&fewer, &kept);
    let out = import(&data, &fewer, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("akan menandai 10 dari 60 rumah tangga tersimpan")
            && stderr(&out).contains("--confirm-missing 10"),
        "{}",
        stderr(&out)
    );
    assert_eq!(heads(&data), before);
    let out = import(&data, &fewer, &["--confirm-missing", "9"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a wrong number: {}",
        stderr(&out)
    );
    assert_eq!(heads(&data), before);
    let out = import(&data, &fewer, &["--confirm-missing", "10", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("dry run, nothing written")
            && stdout(&out).contains("10 marked missing")
            && stdout(&out)
                .contains("the file holds 50 of the 60 registry households stored (83 %)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(heads(&data), before, "a dry run writes nothing");
    let out = import(&data, &fewer, &["--confirm-missing", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("10 marked missing"),
        "{}",
        stdout(&out)
    );
    assert_ne!(heads(&data), before);

    // The operator's device applies the same checks, with the same exit codes.
    let after = heads(&data);
    let (_server, ops) = operator(&data, tmp.path());
    ops.sync();
    let out = ops.cmd(&["import", empty.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = ops.cmd(&["import", other.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A file without a header row: said in JEMPUT_LANG on both command lines.
    let junk = tmp.path().join("junk.csv");
    std::fs::write(&junk, "a;b;c\n1;2;3\n").expect("write");
    let out = ops.cmd(&["import", junk.to_str().expect("path")]);
    assert!(
        stderr(&out).contains("tidak ada baris judul kolom di 30 baris pertama"),
        "{}",
        stderr(&out)
    );
    let out = import(&data, &junk, &[]);
    assert!(
        stderr(&out).contains("tidak ada baris judul kolom"),
        "{}",
        stderr(&out)
    );
    let out = import_in("en", &data, &junk, &[]);
    assert!(
        stderr(&out).contains("no header row found in the first 30 rows"),
        "{}",
        stderr(&out)
    );
    // The whole file again, as a dry run: the ten are in the registry again (updated,
    // not created twice), nothing is marked missing.
    let line = ops.ok(&["import", file.to_str().expect("path"), "--dry-run"]);
    assert!(
        line.contains("0 created") && line.contains("0 marked missing"),
        "{line}"
    );
    let out = ops.cmd(&["import", bad.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stderr(&out).contains("35730"), "no NIK in the error");
    ops.sync();
    assert_eq!(heads(&data), after, "nothing reached the server");

    // An export with the device's own work unsent says so, and `--sync-first` sends it.
    let line = ops.ok(&["import", file.to_str().expect("path")]);
    assert!(line.contains("10 updated"), "{line}");
    let out_file = tmp.path().join("update.csv");
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--cutoff",
            "2099-12-31",
            "--out",
            out_file.to_str().expect("path"),
        ];
        args.extend_from_slice(extra);
        ops.cmd(&args)
    };
    let out = export(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "warning: 10 households on this device have work the server does not hold yet"
        ),
        "{}",
        stderr(&out)
    );
    let out = export(&["--sync-first"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert_ne!(heads(&data), after, "the sync sent the import first");
    // The summary says when the last change it holds arrived (the import just sent).
    let summary = std::fs::read_to_string(out_file.with_extension("summary.csv")).expect("summary");
    let last = summary
        .lines()
        .find_map(|l| l.strip_prefix("Perubahan terakhir diterima,"))
        .unwrap_or_else(|| panic!("no last arrival: {summary}"));
    assert!(last.starts_with("20") && last.contains(" WIB"), "{last}");
}

/// A file with the 2025 national registry's (DTSEN) column names imports without
/// `--map`; a column the office needs under an unknown name stops the import (exit 2)
/// and names the field and the column.
#[test]
fn dtsen_names_read_and_an_unknown_needed_column_stops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("dtks.csv");
    demo_file(&data, &file, "40", "5");
    let mut rows = read_rows(&file);
    let dtsen = [
        ("ID DTKS", "id_keluarga"),
        ("NIK", "nomor_induk_kependudukan"),
        ("No KK", "nomor_kartu_keluarga"),
        ("Nama", "nama"),
        ("Hubungan dengan KRT/KK", "status_hubungan_keluarga"),
        ("Jenis Kelamin", "jenis_kelamin"),
        ("Tanggal Lahir", "tanggal_lahir"),
        ("Kode Wilayah", "kode_kelurahan_desa"),
        ("Desil", "desil_nasional"),
    ];
    for cell in rows[0].iter_mut() {
        if let Some((_, to)) = dtsen.iter().find(|(from, _)| cell == from) {
            *cell = to.to_string();
        }
    }
    let named = tmp.path().join("dtsen.csv");
    write_rows(&named, &rows);
    let out = import(&data, &named, &["--bps", "3573010007"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("40 created") && stdout(&out).contains("0 rows rejected"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stderr(&out).contains("columns not read"),
        "{}",
        stderr(&out)
    );

    let sex = rows[0]
        .iter()
        .position(|c| c == "jenis_kelamin")
        .expect("sex column");
    rows[0][sex] = "JNS KLMN".into();
    let unknown = tmp.path().join("unknown.csv");
    write_rows(&unknown, &rows);
    let before = heads(&data);
    let out = import_in("en", &data, &unknown, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no column gives sex, and columns JNS KLMN were not recognised"),
        "{}",
        stderr(&out)
    );
    assert_eq!(heads(&data), before, "nothing changed");
    let out = import(&data, &unknown, &["--map", "JNS KLMN=sex"]);
    assert!(out.status.success(), "mapped: {}", stderr(&out));
    assert!(stdout(&out).contains("40 unchanged"), "{}", stdout(&out));
}

/// Cut-offs are days in the kelurahan's zone: with `--cutoff 2026-10-31`, a change that
/// arrived at 23:30 WIB that day is in the export and one at 00:30 WIB on 1 November is
/// not; the summary says which zone. Set to WITA, the same day ends an hour earlier.
#[test]
fn a_days_cut_off_ends_at_midnight_in_the_kelurahans_zone() {
    const AT_2330_WIB: &str = "1793464200000"; // 2026-10-31T16:30:00Z
    const AT_0030_WIB: &str = "1793467800000"; // 2026-10-31T17:30:00Z
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("dtks.csv");
    demo_file(&data, &file, "10", "7");
    let at = |when: &str, file: &Path| {
        let out = run(Command::new(bin("jemput-sync-server"))
            .env("JEMPUT_TEST_NOW_MS", when)
            .args(jemput_tests::store_args(&data))
            .args(["import", file.to_str().expect("path"), "--kelurahan", KEL])
            .args(["--bps", "3573010007"]));
        assert!(out.status.success(), "{}", stderr(&out));
    };
    at(AT_2330_WIB, &file);
    // The next file changes the first household's desil, arriving after midnight WIB.
    let mut rows = read_rows(&file);
    let desil = rows[0].iter().position(|c| c == "Desil").expect("desil");
    let first = rows[1][0].clone();
    let before = rows[1][desil].clone();
    let after = if before == "4" { "1" } else { "4" }.to_string();
    for r in rows.iter_mut().skip(1).filter(|r| r[0] == first) {
        r[desil].clone_from(&after);
    }
    let next = tmp.path().join("dtks-next.csv");
    write_rows(&next, &rows);
    at(AT_0030_WIB, &next);

    let export = |cutoff: &str, name: &str| -> (Vec<Vec<String>>, String) {
        let out = tmp.path().join(name);
        Server::admin(
            &data,
            &[
                "export",
                "--kelurahan",
                KEL,
                "--cutoff",
                cutoff,
                "--out",
                out.to_str().expect("path"),
            ],
        );
        let text = std::fs::read_to_string(&out).expect("export");
        let rows = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.expect("row").iter().map(String::from).collect())
            .collect();
        let summary = std::fs::read_to_string(out.with_extension("summary.csv")).expect("summary");
        (rows, summary)
    };
    let desil_of = |rows: &[Vec<String>]| -> String {
        rows.iter()
            .find(|r| r[0] == first)
            .map(|r| r[8].clone())
            .expect("the first household")
    };
    let (rows, summary) = export("2026-10-31", "oct.csv");
    assert_eq!(rows.len(), 10, "23:30 WIB on 31 October is inside the day");
    assert_eq!(desil_of(&rows), before, "00:30 WIB on 1 November is not");
    assert!(
        summary.contains("Zona waktu,WIB (UTC+07:00)")
            && summary.contains("Batas waktu (cut-off),2026-10-31 23:59:59 WIB")
            && summary.contains("Jumlah rumah tangga,10")
            && summary.contains("Perubahan terakhir diterima,2026-10-31 23:30:00 WIB"),
        "{summary}"
    );
    let (rows, summary) = export("2026-11-01", "nov.csv");
    assert_eq!(desil_of(&rows), after);
    assert!(
        summary.contains("Perubahan terakhir diterima,2026-11-01 00:30:00 WIB"),
        "{summary}"
    );

    Server::admin(&data, &["kelurahan", "set", KEL, "--zone", "WITA"]);
    let (rows, summary) = export("2026-10-31", "oct-wita.csv");
    assert!(rows.is_empty(), "23:30 WIB is 00:30 WITA on 1 November");
    assert!(
        summary.contains("Zona waktu,WITA (UTC+08:00)")
            && summary.contains("Perubahan terakhir diterima,-"),
        "{summary}"
    );
}

/// The same people grouped by No KK instead of ID DTKS are the same households: a
/// re-import grouped differently matches the stored households by their members' NIKs
/// (and KK), creating none twice and marking none missing.
#[test]
fn a_file_grouped_by_another_key_matches_the_same_households() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("dtks.csv");
    demo_file(&data, &file, "30", "9");
    let out = import(&data, &file, &["--bps", "3573010007"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let households = |data: &Path| -> usize {
        let heads: serde_json::Value = serde_json::from_str(&heads(data)).expect("heads json");
        heads.as_object().map_or(0, |o| o.len())
    };
    assert_eq!(households(&data), 30);
    // The file again without its ID DTKS and IDBDT columns: rows group by No KK.
    let by_kk: Vec<Vec<String>> = read_rows(&file)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .enumerate()
                .filter(|(i, _)| *i > 1)
                .map(|(_, c)| c)
                .collect()
        })
        .collect();
    assert_eq!(by_kk[0][0], "ID ART", "{:?}", by_kk[0]);
    let regrouped = tmp.path().join("by-kk.csv");
    write_rows(&regrouped, &by_kk);
    let out = import(&data, &regrouped, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.contains("30 households")
            && line.contains("0 created")
            && line.contains("0 marked missing")
            && line.contains("the file holds 30 of the 30 registry households stored"),
        "{line}"
    );
    assert_eq!(households(&data), 30, "no household made twice");
}

/// Two first imports of one household: the server's command line imports a file while
/// the operator's device, not synced since, imports the same file. The device's pushes
/// of the households it created are refused (`already_held`); the server's copies,
/// whether they arrive before or after this device's push of the same household (400
/// households take several pushes and pull pages), replace the device's in the same
/// sync, and every document keeps one first change.
#[test]
fn two_first_imports_of_one_household_keep_one_document() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let file = tmp.path().join("all.csv");
    demo_file(&data, &file, "420", "13");
    // The first 20 households go in first; the whole file adds the other 400.
    let rows = read_rows(&file);
    let keys: Vec<&String> = {
        let mut k: Vec<&String> = rows.iter().skip(1).map(|r| &r[0]).collect();
        k.dedup();
        k
    };
    assert_eq!(keys.len(), 420);
    let first: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .filter(|(i, r)| *i == 0 || keys[..20].contains(&&r[0]))
        .map(|(_, r)| r.clone())
        .collect();
    let part = tmp.path().join("first.csv");
    write_rows(&part, &first);
    let out = import(&data, &part, &["--bps", "3573010007"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_server, ops) = operator(&data, tmp.path());
    ops.sync();

    // The race: both import the whole file, each creating the same 400 households.
    let out = import(&data, &file, &[]);
    assert!(stdout(&out).contains("400 created"), "{}", stdout(&out));
    let line = ops.ok(&["import", file.to_str().expect("path")]);
    assert!(line.contains("400 created"), "{line}");
    let before = heads(&data);
    let report = ops.sync();
    assert!(
        report.contains("rejected 0") && report.contains("replaced by the server's copy 400"),
        "{report}"
    );
    let requests: usize = report
        .split("; requests ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(requests > 1, "the pushes took several requests: {report}");
    assert_eq!(
        heads(&data),
        before,
        "the device's copies never reached the server"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ops.ok(&["status", "--json"])).expect("status");
    assert_eq!(
        (status["pending"].as_u64(), status["rejected"].as_u64()),
        (Some(0), Some(0)),
        "{status}"
    );
    // The device holds what the server holds, document by document.
    let mut on_server: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&before).expect("heads");
    for h in on_server.values_mut() {
        h.sort();
    }
    let on_device = ops.device().heads().expect("device heads");
    assert_eq!(on_device, on_server);
    // One first change per document on the server (every 20th household).
    for id in on_server.keys().step_by(20) {
        let path = tmp.path().join("doc.bin");
        Server::admin(&data, &["doc", id, "--out", path.to_str().expect("path")]);
        let mut doc =
            automerge::AutoCommit::load(&std::fs::read(&path).expect("doc")).expect("load");
        let roots = doc
            .get_changes(&[])
            .iter()
            .filter(|c| c.deps().is_empty())
            .count();
        assert_eq!(roots, 1, "{id}");
    }
}

/// The server knows both codes of a kelurahan: set once (`kelurahan set CODE --bps`),
/// its devices take the BPS code at login, so a first import into an empty kelurahan
/// reads rows carrying it without `--bps`, on the device as on the server. The
/// project's own demo file imports without the flag.
#[test]
fn a_kelurahan_knows_its_bps_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("dtks.csv");
    // The demo file, written with a server: that server reads it without --bps.
    let demo = tmp.path().join("demo");
    demo_file(&demo, &file, "12", "21");
    let out = import(&demo, &file, &[]);
    assert!(
        out.status.success() && stdout(&out).contains("12 created"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    let data = tmp.path().join("server");
    let out = run(Command::new(bin("jemput-sync-server"))
        .args(jemput_tests::store_args(&data))
        .args(["kelurahan", "set", KEL, "--bps", "35730"]));
    assert!(
        !out.status.success() && stderr(&out).contains("a BPS code has 10 digits"),
        "{}",
        stderr(&out)
    );
    let out = Server::admin(&data, &["kelurahan", "set", KEL, "--bps", "3573010007"]);
    assert!(
        stdout(&out).contains("BPS code 3573010007"),
        "{}",
        stdout(&out)
    );
    let (_server, ops) = operator(&data, tmp.path());
    ops.sync();
    assert!(ops.households().is_empty(), "an empty kelurahan");
    let line = ops.ok(&["import", file.to_str().expect("path")]);
    assert!(
        line.contains("12 created") && line.contains("0 rows rejected"),
        "{line}"
    );
    ops.sync();
    let out = import(&data, &file, &[]);
    assert!(
        stdout(&out).contains("12 unchanged") && stdout(&out).contains("0 rows rejected"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
