//! Registry import from messy files, each fixture generated here (no real person's
//! data): which rows are taken, which are rejected and why, and how a re-import merges
//! with field work.

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::ActorId;
use jemput_core::household::{Author, Household, VisitInput};
use jemput_core::registry::read::{read_csv, Cell, Sheet};
use jemput_core::registry::{
    self, export::ExportRow, parse_sheets, ImportContext, ImportOptions, Mapping, Parsed,
    RegistryError,
};
use jemput_core::IndicatorSet;

use crate::household::FixedClock;

const KEL: &str = "35.73.01.1007";
const BPS: &str = "3573010007";

/// A valid-format NIK that belongs to nobody: region 357301, a birth date, a serial.
fn nik(female: bool, d: u32, m: u32, yy: u32, serial: u32) -> String {
    let day = if female { d + 40 } else { d };
    format!("357301{day:02}{m:02}{yy:02}{serial:04}")
}

fn kk(serial: u32) -> String {
    format!("3573010101{:02}{serial:04}", 10 + serial % 10)
}

fn opts(partial: bool) -> ImportOptions {
    ImportOptions {
        kelurahan: KEL.into(),
        kelurahan_bps: Some(BPS.into()),
        partial,
        mapping: Mapping::default(),
        today: "2026-11-28".into(),
    }
}

fn parse_csv(text: &str, o: &ImportOptions) -> Result<Parsed, RegistryError> {
    parse_sheets(&[read_csv(text.as_bytes(), "registry").expect("csv")], o)
}

fn names(p: &Parsed) -> BTreeSet<String> {
    p.households
        .iter()
        .flat_map(|h| h.members.iter().map(|m| m.name.clone()))
        .collect()
}

/// (row, reason) of every rejected row.
fn rejected(p: &Parsed) -> Vec<(usize, String)> {
    p.rejected
        .iter()
        .map(|r| (r.row, r.reason.to_string()))
        .collect()
}

fn assert_rejected(p: &Parsed, expected: &[(usize, &str)]) {
    let got = rejected(p);
    assert_eq!(
        got.len(),
        expected.len(),
        "rejected rows: {got:#?}, expected {expected:#?}"
    );
    for ((row, reason), (erow, part)) in got.iter().zip(expected) {
        assert_eq!(row, erow, "{got:#?}");
        assert!(
            reason.contains(part),
            "row {row}: `{reason}` should say `{part}`"
        );
    }
}

#[test]
fn messy_semicolon_csv_row_by_row() {
    let (a, b, c, d) = (
        nik(false, 12, 5, 80, 1),
        nik(true, 12, 6, 82, 2),
        nik(true, 3, 3, 80, 3),
        nik(false, 15, 8, 10, 4),
    );
    let (e, g, h, i, j) = (
        nik(false, 1, 1, 70, 5),
        nik(false, 1, 1, 71, 6),
        nik(false, 1, 1, 1, 7),
        nik(false, 2, 2, 72, 8),
        nik(false, 3, 3, 73, 9),
    );
    let (k1, k2, k3, k4, k5, k6) = (kk(1), kk(2), kk(3), kk(4), kk(5), kk(6));
    let text = format!(
        "\u{feff}DAFTAR KELUARGA DTKS;;;\n\
         Kelurahan Purwantoro, Kota Malang;;;\n\
         \n\
         ID DTKS;NIK;No KK;Nama;Hubungan dengan KRT/KK;Jenis Kelamin;Tgl Lahir;Alamat;RT;RW;Kode Wilayah;Desil;PKH\n\
         D1;{a};{k1};Ahmad Santoso;1. Kepala Rumah Tangga;L;1980-05-12;Jl. Mawar 1;001;002;{BPS};2;Ya\n\
         D1;  {b}  ; {k1} ;  Siti Aminah   ;2. Istri/Suami;P;12-06-1982;Jl. Mawar 1;001;002;{BPS};2;Ya\n\
         D1;3.57301E+15;{k1};Rina Santoso;3. Anak;P;2005-01-01;Jl. Mawar 1;001;002;{BPS};2;Ya\n\
         D2;357301120580000;{k2};Budi Prasetyo;1;L;1980-05-12;Jl. Melati 2;003;004;{BPS};1;Tidak\n\
         D2;{c};{k2};Dewi Lestari;2;P;31-02-1980;Jl. Melati 2;003;004;{BPS};1;Tidak\n\
         D2;{d};{k2};Joko Prasetyo;3;L;15/08/2010;Jl. Melati 2;003;004;{BPS};1;Tidak\n\
         D3;{a};{k3};Tono Wijaya;1;L;1980-05-12;Jl. Kenanga 3;002;004;{BPS};3;Tidak\n\
         D4;{e};{k4};Orang Lain;1;L;1970-01-01;Jl. Jauh;001;001;3573010008;1;Tidak\n\
         ;{g};{k5};Tanpa Keluarga;1;L;1971-01-01;Jl. Anggrek;001;001;{BPS};1;Tidak\n\
         D5;{h};{k5};Belum Lahir;1;L;2031-01-01;Jl. Anggrek;001;001;{BPS};1;Tidak\n\
         D1;{i};{k1};Pindah RW;3;L;1972-02-02;Jl. Mawar 1;001;005;{BPS};2;Ya\n\
         D2;;{k2};Bayi Prasetyo;3;P;2024-02-29;Jl. Melati 2;003;004;{BPS};1;Tidak\n\
         D6;{j};1234;Salah KK;1;L;1973-03-03;Jl. Dahlia;001;003;{BPS};1;Tidak\n\
         D7;{j};{k6};Kelamin Aneh;1;X;1973-03-03;Jl. Dahlia;001;003;{BPS};1;Tidak\n\
         D7;;{k6};Desil Aneh;3;L;2000-01-01;Jl. Dahlia;001;003;{BPS};11;Tidak\n"
    );
    let p = parse_csv(&text, &opts(false)).expect("parsed");
    assert_eq!(
        names(&p),
        [
            "Ahmad Santoso",
            "Siti Aminah",
            "Joko Prasetyo",
            "Bayi Prasetyo"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    assert_rejected(
        &p,
        &[
            (7, "scientific notation"),
            (8, "exactly 16 digits"),
            (9, "not a real date"),
            (11, "NIK already belongs to another household (row 5)"),
            (12, "region 3573010008"),
            (13, "ID DTKS is empty"),
            (14, "in the future"),
            (15, "RT 001/RW 002 on row 5"),
            (17, "No KK must be exactly 16 digits"),
            (18, "neither L"),
            (19, "desil `11`"),
        ],
    );
    assert_eq!(p.rows, 15);
    assert_eq!(p.households.len(), 2);
    let d1 = &p.households[0];
    assert_eq!(d1.key, "D1");
    assert_eq!((d1.identity.rw, d1.identity.rt), (2, 1));
    assert_eq!(d1.identity.kk.as_deref(), Some(k1.as_str()));
    assert!(d1.registry.pkh);
    assert_eq!(
        d1.members[1].nik.as_deref(),
        Some(b.as_str()),
        "padding trimmed"
    );
    assert_eq!(d1.members[1].birth_date.as_deref(), Some("1982-06-12"));
    assert_eq!(d1.members[1].relation, "spouse");
    let bayi = &p.households[1].members[1];
    assert_eq!(
        (bayi.nik.as_deref(), bayi.birth_date.as_deref()),
        (None, Some("2024-02-29"))
    );
    // Households with a rejected row are not trusted to list all their members.
    for key in ["D1", "D2", "D3", "D7"] {
        assert!(p.uncertain.contains(key), "{key}");
    }
}

#[test]
fn windows_1252_comma_csv_and_an_unrecognised_column_mapped() {
    let n = nik(true, 9, 9, 90, 11);
    let mut bytes = b"ID DTKS,Nomor Induk,Nama,RW,RT\n".to_vec();
    bytes.extend_from_slice(format!("X1,{n},Ren").as_bytes());
    bytes.push(0xE9); // é in Windows-1252
    bytes.extend_from_slice(b" Putri,7,2\n");
    let sheet = read_csv(&bytes, "f").expect("csv");
    let p = parse_sheets(std::slice::from_ref(&sheet), &opts(false)).expect("parsed");
    assert_eq!(p.households[0].members[0].name, "Ren\u{e9} Putri");
    assert_eq!(
        p.households[0].members[0].nik, None,
        "not recognised, not read"
    );
    assert_eq!(p.unrecognised, vec!["Nomor Induk".to_string()]);
    let mut o = opts(false);
    o.mapping.set("NOMOR INDUK", "nik").expect("mapping");
    let p = parse_sheets(&[sheet], &o).expect("parsed");
    assert_eq!(p.households[0].members[0].nik.as_deref(), Some(n.as_str()));
    assert!(p.unrecognised.is_empty());
}

#[test]
fn whole_file_errors_change_nothing_and_say_why() {
    let e = parse_csv("a,b,c\n1,2,3\n", &opts(false)).expect_err("no header");
    assert!(matches!(e, RegistryError::NoHeader(_)), "{e}");
    // Without a header the cells are not echoed: they may be NIKs and names.
    let n = nik(true, 17, 8, 90, 3);
    let e = parse_csv(&format!("a,b,c\n{n},Warga Uji,3\n"), &opts(false)).expect_err("no header");
    let shown = e.to_string();
    assert!(
        !shown.contains(&n) && !shown.contains("Warga") && shown.contains("2 rows"),
        "{shown}"
    );
    let e = parse_csv("ID DTKS,NIK,Nama\nD1,,Ani\n", &opts(false)).expect_err("no RW");
    assert!(e.to_string().contains("no RW column"), "{e}");
    let e = parse_csv("NIK,Nama,RW,RT\n,Ani,1,1\n", &opts(false)).expect_err("no key");
    assert!(e.to_string().contains("ID DTKS, IDBDT or No KK"), "{e}");
    let broken = b"ID DTKS,Nama,RW\nD1,\"Ani,1\n";
    let e = read_csv(broken, "x").and_then(|s| parse_sheets(&[s], &opts(false)));
    // An unterminated quote reads to the end of the file: one row, taken whole or not.
    if let Ok(p) = e {
        assert!(p.households.len() <= 1);
    }
}

/// A workbook written by rust_xlsxwriter, read back by calamine: numeric cells as
/// Excel stores them.
#[test]
fn xlsx_numeric_ids_and_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("dtks.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    ws.write_string(0, 0, "Laporan DTKS Kelurahan Purwantoro")
        .expect("x");
    let header = [
        "IDBDT",
        "NIK",
        "No KK",
        "Nama",
        "Hub KRT",
        "JK",
        "Tanggal Lahir",
        "RT",
        "RW",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(2, c as u16, *h).expect("x");
    }
    let n1 = nik(false, 1, 2, 75, 21);
    let n2 = nik(true, 5, 6, 78, 22);
    let n3 = nik(false, 7, 8, 79, 23);
    type Row<'a> = (&'a str, &'a str, &'a str, &'a str, (u16, u8, u8));
    let rows: [Row<'_>; 3] = [
        ("B1", n1.as_str(), "Numerik Benar", "1", (1975, 2, 1)),
        ("B1", n2.as_str(), "Teks Benar", "2", (1978, 6, 5)),
        ("B2", n3.as_str(), "KK Numerik", "1", (1979, 8, 7)),
    ];
    for (i, (id, n, name, rel, (y, m, d))) in rows.iter().enumerate() {
        let r = i as u32 + 3;
        ws.write_string(r, 0, *id).expect("x");
        if i == 0 {
            // A 16-digit NIK typed into a General cell: Excel keeps 15 significant digits.
            ws.write_number(r, 1, n.parse::<f64>().expect("num"))
                .expect("x");
        } else {
            ws.write_string(r, 1, *n).expect("x");
        }
        if i == 2 {
            ws.write_number(r, 2, kk(9).parse::<f64>().expect("num"))
                .expect("x");
        } else {
            ws.write_string(r, 2, kk(8)).expect("x");
        }
        ws.write_string(r, 3, *name).expect("x");
        ws.write_string(r, 4, *rel).expect("x");
        ws.write_string(r, 5, "L").expect("x");
        let dt = ExcelDateTime::from_ymd(*y, *m, *d).expect("date");
        ws.write_datetime_with_format(r, 6, &dt, &date).expect("x");
        ws.write_number(r, 7, 3.0).expect("x");
        ws.write_number(r, 8, 12.0).expect("x");
    }
    wb.save(&path).expect("save");
    let p = registry::parse_file(&path, &opts(false)).expect("parsed");
    assert_eq!(names(&p), ["Teks Benar".to_string()].into_iter().collect());
    assert_rejected(
        &p,
        &[
            (4, "NIK is stored as a number"),
            (6, "No KK is stored as a number"),
        ],
    );
    let m = &p.households[0].members[0];
    assert_eq!(
        m.birth_date.as_deref(),
        Some("1978-06-05"),
        "date cell read as a date"
    );
    assert_eq!(
        (p.households[0].identity.rw, p.households[0].identity.rt),
        (12, 3)
    );
    // The rejected rows, beside the input: a CSV (UTF-8 with BOM, original cells, the
    // reason in Indonesian then English) and an XLSX of text cells.
    let out = registry::write_rejected(&path, &p)
        .expect("write")
        .expect("some rejected");
    assert_eq!(out.csv, dir.path().join("dtks.xlsx.rejected.csv"));
    assert_eq!(out.xlsx, dir.path().join("dtks.xlsx.rejected.xlsx"));
    let bytes = std::fs::read(&out.csv).expect("read");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "row,IDBDT,NIK,No KK,Nama,Hub KRT,JK,Tanggal Lahir,RT,RW,alasan,reason"
    );
    // The NIK Excel stored as a number, and the KK: in the form Excel keeps as text.
    let n1_excel = format!("\"=\"\"{n1}\"\"\"");
    assert!(
        lines[1].starts_with(&format!("4,B1,{n1_excel},")),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(
            "Numerik Benar,1,L,1975-02-01,3,12,NIK tersimpan sebagai angka di spreadsheet"
        ) && lines[1].ends_with("(format the column as text)"),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let reasons = l.rsplitn(3, ',').take(2).collect::<Vec<_>>().join(",");
        assert!(!reasons.contains(&n1) && !reasons.contains(&kk(9)), "{l}");
    }
    // Read back by Jemput's own reader, the Excel-safe cells are the NIKs again.
    let again = read_csv(&bytes, "again").expect("csv");
    assert_eq!(again.rows[1][2].text().as_deref(), Some(n1.as_str()));
    assert_eq!(again.rows[2][3].text(), Some(kk(9)));
    // The workbook: one sheet, every cell text, the NIK whole.
    let book = registry::read::read_file(&out.xlsx).expect("xlsx");
    assert_eq!(book.len(), 1);
    let rows = &book[0].rows;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .flatten()
            .all(|c| matches!(c, Cell::Text(_) | Cell::Empty)),
        "{rows:?}"
    );
    assert_eq!(rows[1][2].text().as_deref(), Some(n1.as_str()));
    assert_eq!(rows[0][10].text().as_deref(), Some("alasan"));
    assert_eq!(rows[2][11].text().as_deref(), Some(
        "No KK is stored as a number in the spreadsheet; its last digits cannot be trusted (format the column as text)"
    ));
    // An import without rejected rows removes both files of the earlier one.
    let mut clean = p.clone();
    clean.rejected.clear();
    assert_eq!(
        registry::write_rejected(&path, &clean).expect("write"),
        None
    );
    assert!(!out.csv.exists() && !out.xlsx.exists());
}

#[test]
fn household_sheet_and_member_sheet() {
    let t = |s: &str| Cell::Text(s.into());
    let hh = Sheet {
        name: "Rumah Tangga".into(),
        rows: vec![
            vec![
                t("ID DTKS"),
                t("No KK"),
                t("Alamat"),
                t("RT"),
                t("RW"),
                t("Desil"),
                t("BPNT"),
            ],
            vec![
                t("H1"),
                t(&kk(1)),
                t("Jl. Satu"),
                t("1"),
                t("3"),
                t("2"),
                t("Ya"),
            ],
            vec![
                t("H2"),
                t(&kk(2)),
                t("Jl. Dua"),
                t("2"),
                t("abc"),
                t("1"),
                t("Tidak"),
            ],
        ],
    };
    let members = Sheet {
        name: "Anggota".into(),
        rows: vec![
            vec![
                t("ID DTKS"),
                t("NIK"),
                t("Nama"),
                t("Hubungan"),
                t("Tgl Lahir"),
            ],
            vec![
                t("H1"),
                t(&nik(false, 1, 1, 80, 31)),
                t("Kepala Satu"),
                t("Kepala Keluarga"),
                t("1980-01-01"),
            ],
            vec![
                t("H1"),
                t(&nik(true, 2, 2, 82, 32)),
                t("Istri Satu"),
                t("Istri"),
                t("1982-02-02"),
            ],
            vec![
                t("H2"),
                t(&nik(false, 3, 3, 83, 33)),
                t("Kepala Dua"),
                t("Kepala Keluarga"),
                t("1983-03-03"),
            ],
            vec![
                t("H9"),
                t(&nik(false, 4, 4, 84, 34)),
                t("Tanpa Rumah"),
                t("Kepala Keluarga"),
                t("1984-04-04"),
            ],
        ],
    };
    let p = parse_sheets(&[hh, members], &opts(false)).expect("parsed");
    assert_eq!(
        names(&p),
        ["Kepala Satu", "Istri Satu"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    let got: Vec<(String, usize, String)> = p
        .rejected
        .iter()
        .map(|r| (r.sheet.clone(), r.row, r.reason.to_string()))
        .collect();
    assert_eq!(got.len(), 3, "{got:#?}");
    assert_eq!((got[0].0.as_str(), got[0].1), ("Rumah Tangga", 3));
    assert!(got[0].2.contains("RW `abc`"));
    assert_eq!((got[1].0.as_str(), got[1].1), ("Anggota", 4));
    assert!(got[1]
        .2
        .contains("its household is not on the household sheet"));
    assert!(got[2]
        .2
        .contains("its household is not on the household sheet"));
    let h1 = &p.households[0];
    assert_eq!(
        (h1.identity.rw, h1.identity.rt, h1.registry.desil),
        (3, 1, Some(2))
    );
    assert!(h1.registry.bpnt);
    assert_eq!(h1.members[0].relation, "head");
}

/// A map of stored documents standing in for a store in these tests: the server and
/// device stores are tested against real SQLite elsewhere.
fn import(docs: &mut HashMap<String, Vec<u8>>, parsed: Parsed, partial: bool) -> registry::Counts {
    let author = Author {
        actor: ActorId::random(),
        user: "operator".into(),
    };
    let ctx = ImportContext {
        kelurahan: KEL,
        author: &author,
        now_ms: 1_800_000_000_000,
    };
    let existing: HashSet<String> = docs.keys().cloned().collect();
    let work = registry::plan(parsed, KEL, &existing, partial);
    let snapshot = docs.clone();
    let mut load = |id: &str| Ok(snapshot.get(id).cloned());
    let finish = |mut b: registry::Built| Ok((b.id.clone(), b.household.save()));
    let mut sink = |(id, bytes): (String, Vec<u8>)| {
        docs.insert(id, bytes);
        Ok(())
    };
    registry::run(work, &ctx, &mut load, &finish, &mut sink, &mut |_, _| true).expect("import")
}

fn registry_csv(rows: &[[&str; 7]]) -> String {
    let mut s = "ID DTKS;NIK;Nama;Alamat;RW;RT;Desil\n".to_string();
    for r in rows {
        s.push_str(&r.join(";"));
        s.push('\n');
    }
    s
}

#[test]
fn reimport_merges_on_top_of_the_previous_import() {
    let set = IndicatorSet::bps14();
    let (na, nb, nc) = (
        nik(false, 1, 1, 80, 41),
        nik(true, 2, 2, 82, 42),
        nik(false, 3, 3, 83, 43),
    );
    let v1 = registry_csv(&[
        ["R1", &na, "Agus", "Jl. Lama 1", "1", "1", "2"],
        ["R1", &nb, "Sri", "Jl. Lama 1", "1", "1", "2"],
        ["R2", &nc, "Cahyo", "Jl. Lama 2", "1", "2", "3"],
    ]);
    let mut docs = HashMap::new();
    let c = import(&mut docs, parse_csv(&v1, &opts(false)).expect("v1"), false);
    assert_eq!((c.created, c.updated), (2, 0));
    let r1 = registry::household_id(KEL, registry::Field::IdDtks, "R1");
    let r2 = registry::household_id(KEL, registry::Field::IdDtks, "R2");

    // Field work after the first import: a kader records Sri as moved; an operator
    // corrects R1's address.
    let kader = Author::new("aa01", "kader-rw01").expect("author");
    let mut hh = Household::load_as(&docs[&r1], &kader).expect("load");
    let sri = hh
        .members_index()
        .into_iter()
        .find(|(_, m)| m.name == "Sri")
        .expect("sri")
        .0;
    let mut answers = std::collections::BTreeMap::new();
    set.mark_unanswered_unknown(&mut answers);
    let visit = VisitInput {
        result: "found".into(),
        answers,
        member_changes: [(sri.clone(), "moved".to_string())].into_iter().collect(),
        ..VisitInput::default()
    };
    let mut rng = rand::thread_rng();
    hh.record_visit(
        &visit,
        &set,
        &kader,
        &FixedClock(1_790_000_000_000),
        &mut rng,
    )
    .expect("visit");
    let office = Author::new("bb02", "operator").expect("author");
    let mut hh = Household::load_as(&hh.save(), &office).expect("reload");
    hh.edit(
        "identity.address",
        "Jl. Baru 1 (koreksi)",
        1_790_000_100_000,
    )
    .expect("edit");
    docs.insert(r1.clone(), hh.save());

    // The next file: Sri's name corrected, R1's address changed too, R1's desil
    // changed; R2 gone.
    let v2 = registry_csv(&[
        ["R1", &na, "Agus", "Jl. Lama 1A", "1", "1", "1"],
        ["R1", &nb, "Sri Rahayu", "Jl. Lama 1", "1", "1", "1"],
    ]);
    // A partial file leaves R2 alone …
    let c = import(
        &mut docs.clone(),
        parse_csv(&v2, &opts(true)).expect("v2"),
        true,
    );
    assert_eq!((c.updated, c.missing), (1, 0));
    // … a whole-registry file marks it missing.
    let c = import(&mut docs, parse_csv(&v2, &opts(false)).expect("v2"), false);
    assert_eq!((c.created, c.updated, c.unchanged, c.missing), (0, 1, 0, 1));

    let hh = Household::load(&docs[&r1]).expect("r1");
    let view = hh.view(&set);
    assert_eq!(
        view["registry"]["desil"], 1,
        "changed only by the file: the file wins"
    );
    let members = hh.members_index();
    let sri_now = members
        .iter()
        .find(|(id, _)| *id == sri)
        .expect("sri")
        .1
        .clone();
    assert_eq!(sri_now.name, "Sri Rahayu", "the file's correction");
    assert_eq!(sri_now.presence, "moved", "the kader's finding is kept");
    let conflicts = hh.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    let c = &conflicts[0];
    assert_eq!(c.path, "identity.address");
    let values: BTreeSet<String> = c.values.iter().map(|v| v.value.to_string()).collect();
    assert!(
        values.contains("\"Jl. Baru 1 (koreksi)\"") && values.contains("\"Jl. Lama 1A\""),
        "{values:?}"
    );

    let gone = Household::load(&docs[&r2]).expect("r2");
    let row = ExportRow::of(&gone, &set);
    assert!(!row.in_registry);
    assert_eq!(
        gone.members_index()[0].1.name,
        "Cahyo",
        "marked, not deleted"
    );

    // The same file again changes nothing; R2 back in a later file is listed again.
    let c = import(&mut docs, parse_csv(&v2, &opts(false)).expect("v2"), false);
    assert_eq!((c.updated, c.unchanged), (0, 2));
    let c = import(&mut docs, parse_csv(&v1, &opts(false)).expect("v1"), false);
    assert_eq!(c.updated, 2);
    assert!(ExportRow::of(&Household::load(&docs[&r2]).expect("r2"), &set).in_registry);
}

#[test]
fn cancelling_writes_nothing() {
    let rows: Vec<[String; 7]> = (0..300)
        .map(|i| {
            [
                format!("C{i}"),
                nik(false, 1 + i % 28, 1 + i % 12, 70 + i % 20, 100 + i),
                format!("Orang {i}"),
                "Jl. X".into(),
                "1".into(),
                "1".into(),
                "2".into(),
            ]
        })
        .collect();
    let refs: Vec<[&str; 7]> = rows
        .iter()
        .map(|r| std::array::from_fn(|i| r[i].as_str()))
        .collect();
    let parsed = parse_csv(&registry_csv(&refs), &opts(false)).expect("parsed");
    assert_eq!(parsed.households.len(), 300);
    let author = Author {
        actor: ActorId::random(),
        user: "operator".into(),
    };
    let ctx = ImportContext {
        kelurahan: KEL,
        author: &author,
        now_ms: 1,
    };
    let work = registry::plan(parsed, KEL, &HashSet::new(), false);
    let mut written = 0;
    let mut calls = 0;
    let r = registry::run(
        work,
        &ctx,
        &mut |_| Ok(None),
        &|b: registry::Built| Ok(b.id),
        &mut |_| {
            written += 1;
            Ok(())
        },
        &mut |done, total| {
            calls += 1;
            assert!(done <= total);
            calls < 3
        },
    );
    assert!(matches!(r, Err(RegistryError::Cancelled)), "{r:?}");
    assert!(written < 300, "the caller rolls back what was handed over");
}

#[test]
fn export_row_of_a_new_household_matches_its_document() {
    let set = IndicatorSet::bps14();
    let text = format!(
        "ID DTKS;NIK;No KK;Nama;Hubungan dengan KRT/KK;RW;RT;Alamat;Desil;PKH;KIP\n\
         N1;{};{};Kepala Baru;Kepala Keluarga;4;2;Jl. Baru;3;Ya;Tidak\n\
         N1;;{};Anak Baru;Anak;4;2;Jl. Baru;3;Ya;Tidak\n",
        nik(false, 4, 4, 74, 51),
        kk(7),
        kk(7)
    );
    let parsed = parse_csv(&text, &opts(false)).expect("parsed");
    let author = Author::new("cc03", "operator").expect("author");
    let ctx = ImportContext {
        kelurahan: KEL,
        author: &author,
        now_ms: 5,
    };
    for w in registry::plan(parsed, KEL, &HashSet::new(), false) {
        let built = registry::apply::build(w, None, &ctx).expect("build");
        let fast = built.export_row(&set);
        assert_eq!(fast, ExportRow::of(&built.household, &set));
        assert_eq!(fast.head_name.as_deref(), Some("Kepala Baru"));
        assert_eq!(
            (fast.rw, fast.desil, fast.pkh, fast.kip),
            (4, Some(3), true, false)
        );
    }
}

#[test]
fn export_period_defaults_to_the_cutoffs_month_or_quarter() {
    use jemput_core::dashboard::PeriodKind::{Month, Quarter};
    use jemput_core::registry::export::period;
    use jemput_core::zone::Zone;
    let span = |p: jemput_core::dashboard::Period| (p.start, p.end);
    let cutoff = Zone::Wib.parse_when("2026-11-30T10:00:00Z").expect("when");
    assert_eq!(
        span(period(cutoff, None, Month, Zone::Wib).expect("period")),
        ("2026-11-01".to_string(), "2026-11-30".to_string())
    );
    assert_eq!(
        span(period(cutoff, None, Quarter, Zone::Wib).expect("period")),
        ("2026-10-01".to_string(), "2026-11-30".to_string())
    );
    assert_eq!(
        period(cutoff, Some("2026-09-01"), Month, Zone::Wib)
            .expect("period")
            .start,
        "2026-09-01"
    );
    assert!(period(cutoff, Some("September"), Month, Zone::Wib).is_err());
    // 30 November, 17:30 UTC is already 1 December in WIB: the month of the cut-off is
    // the kelurahan's month.
    let late = Zone::Wib.parse_when("2026-11-30T17:30:00Z").expect("when");
    assert_eq!(
        span(period(late, None, Month, Zone::Wib).expect("period")),
        ("2026-12-01".to_string(), "2026-12-01".to_string())
    );
}

/// A DTSEN (2025) file and a BDT file are read by their own column names, no mapping:
/// sex, relation (the head from it), birth date, region (BPS code) and desil.
#[test]
fn dtsen_and_bdt_headers_read_without_a_mapping() {
    let (n1, n2) = (nik(false, 3, 4, 75, 1), nik(true, 9, 10, 78, 2));
    let dtsen = format!(
        "id_keluarga;nomor_kartu_keluarga;nomor_induk_kependudukan;nama;jenis_kelamin;tanggal_lahir;status_hubungan_keluarga;alamat;rt;rw;kode_kelurahan_desa;desil_nasional\n\
         K1;{kk};{n2};Siti Aminah;Perempuan;09-10-1978;Istri;Jl. Mawar 1;2;3;{BPS};2\n\
         K1;{kk};{n1};Budi Santoso;Laki-laki;03-04-1975;Kepala Keluarga;Jl. Mawar 1;2;3;{BPS};2\n",
        kk = kk(1)
    );
    let bdt = format!(
        "IDBDT;IDARTBDT;NIK;Nama;JNS KEL;Tgl Lahir;HUB KRT;Alamat;RT;RW;Kode Wilayah;Desil\n\
         B1;B101;{n1};Budi Santoso;1;03-04-1975;1;Jl. Mawar 1;2;3;{BPS};2\n\
         B1;B102;{n2};Siti Aminah;2;09-10-1978;2;Jl. Mawar 1;2;3;{BPS};2\n"
    );
    for text in [dtsen, bdt] {
        let p = parse_csv(&text, &opts(false)).expect("parsed");
        assert!(p.unrecognised.is_empty(), "{:?}", p.unrecognised);
        assert!(p.rejected.is_empty(), "{:?}", rejected(&p));
        let h = &p.households[0];
        assert_eq!(h.registry.desil, Some(2));
        let head = h
            .members
            .iter()
            .find(|m| m.relation == "head")
            .expect("head");
        assert_eq!(head.nik.as_deref(), Some(n1.as_str()));
        assert_eq!(head.birth_date.as_deref(), Some("1975-04-03"));
        assert!(
            h.members.iter().all(|m| m.sex.is_some()),
            "sex read for every member"
        );
    }
}
