//! The periodic update for Dinas Sosial: one flat row per household, projected from
//! its document whenever it changes (so an export never loads a document), and the
//! CSV and XLSX writers with a summary per RW.

use std::path::Path;

use automerge::{ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use super::RegistryError;
use crate::household::{score_visit, visit_scored, Household};
use crate::indicators::IndicatorSet;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportRow {
    pub id: String,
    pub id_dtks: Option<String>,
    pub idbdt: Option<String>,
    pub kk: Option<String>,
    pub head_name: Option<String>,
    pub head_nik: Option<String>,
    pub address: Option<String>,
    pub rw: u16,
    pub rt: u16,
    pub desil: Option<i64>,
    pub pkh: bool,
    pub bpnt: bool,
    pub pbi: bool,
    pub kip: bool,
    /// The household's status (the last visit's result), `None` if never visited.
    pub status: Option<String>,
    pub last_visit: Option<String>,
    /// Numbers (1–14) of the criteria the last visit met.
    pub met: Vec<u32>,
    pub score: Option<u32>,
    pub poor: bool,
    /// The last visit left some criterion "tidak tahu" (only for a scored visit).
    #[serde(default)]
    pub incomplete: bool,
    /// "Name (NIK)" of members by what happened to them.
    pub died: Vec<String>,
    pub moved: Vec<String>,
    pub not_found: Vec<String>,
    pub new_members: Vec<String>,
    pub proposal: bool,
    pub in_registry: bool,
    pub open_conflicts: usize,
    /// The last visit's result (the status can differ: a decision on divergent visits).
    #[serde(default)]
    pub last_result: Option<String>,
    /// The date of the last `found` visit, and whether it scored poor.
    #[serde(default)]
    pub last_found: Option<String>,
    #[serde(default)]
    pub last_found_poor: bool,
    /// A fasilitator decided the household duplicates another.
    #[serde(default)]
    pub duplicate_of: bool,
    /// Which version of the projection made the row ([`ExportRow::PROJECTION`]): a row
    /// an older server wrote is rebuilt, never derived from.
    #[serde(default)]
    pub projection: u32,
}

/// The numbers (1–14) of the criteria with these ids, as the export lists them.
fn criteria_numbers(set: &IndicatorSet, met: &[String]) -> Vec<u32> {
    met.iter()
        .filter_map(|id| set.criteria.iter().find(|c| &c.id == id).map(|c| c.n))
        .collect()
}

impl ExportRow {
    /// The projection's version: raised whenever [`ExportRow::of`] changes what it
    /// computes, so rows stored before are rebuilt at their household's next change.
    pub const PROJECTION: u32 = 2;

    pub fn of(hh: &Household, set: &IndicatorSet) -> ExportRow {
        let open_conflicts = hh.open_conflicts(set).len();
        let s = hh.summary_with(set, open_conflicts > 0);
        let ident = hh.obj("identity");
        let reg = hh.obj("registry");
        let get = |o: &Option<automerge::ObjId>, k: &str| o.as_ref().and_then(|o| hh.get_str(o, k));
        let scalar = |o: &Option<automerge::ObjId>, k: &str| -> Option<ScalarValue> {
            match hh.doc.get(o.as_ref()?, k).ok().flatten() {
                Some((Value::Scalar(v), _)) => Some(v.into_owned()),
                _ => None,
            }
        };
        let progs = reg
            .as_ref()
            .and_then(|r| match hh.doc.get(r, "programmes") {
                Ok(Some((Value::Object(_), id))) => Some(id),
                _ => None,
            });
        let flag = |k: &str| scalar(&progs, k) == Some(ScalarValue::Boolean(true));
        let met = criteria_numbers(
            set,
            &hh.last_visit()
                .filter(|(_, v)| visit_scored(v))
                .map(|(_, v)| score_visit(set, &v).met)
                .unwrap_or_default(),
        );
        let facts = hh.visit_facts(set);
        let (last, last_found) =
            crate::dashboard::fold_visits(facts.iter().map(|(id, f, _)| (id.as_str(), f)), "9999");
        let mut row = ExportRow {
            id: hh.id().unwrap_or_default(),
            id_dtks: get(&ident, "id_dtks"),
            idbdt: get(&ident, "idbdt"),
            kk: s.kk,
            head_name: s.head_name,
            head_nik: s.head_nik,
            address: s.address,
            rw: s.rw,
            rt: s.rt,
            desil: match scalar(&reg, "desil") {
                Some(ScalarValue::Int(i)) => Some(i),
                Some(ScalarValue::Uint(u)) => i64::try_from(u).ok(),
                _ => None,
            },
            pkh: flag("pkh"),
            bpnt: flag("bpnt"),
            pbi: flag("pbi_jk"),
            kip: flag("kip"),
            status: s.status,
            last_visit: s.last_visit,
            met,
            score: s.score,
            poor: s.poor,
            incomplete: s.incomplete,
            proposal: s.proposal,
            in_registry: scalar(&reg, "in_registry") != Some(ScalarValue::Boolean(false)),
            open_conflicts,
            last_result: last.map(|v| v.result),
            last_found_poor: last_found.as_ref().is_some_and(|(_, p)| *p),
            last_found: last_found.map(|(d, _)| d),
            duplicate_of: hh.duplicate_of().is_some(),
            projection: ExportRow::PROJECTION,
            ..ExportRow::default()
        };
        for (_, m) in hh.members_index() {
            let who = match &m.nik {
                Some(n) => format!("{} ({n})", m.name),
                None => m.name.clone(),
            };
            match m.presence.as_str() {
                "died" => row.died.push(who),
                "moved" => row.moved.push(who),
                "not_found" => row.not_found.push(who),
                "new" => row.new_members.push(who),
                _ => {}
            }
        }
        row
    }

    /// The row after `changes` were applied, from the household's previous row,
    /// without reading the whole document: when the changes only record one new visit
    /// dated in a later month than any earlier one (the household's status with it),
    /// nothing else of the row can have changed — no member, no field conflict, no
    /// second visit in the visit's month — so the row is the previous one with the
    /// new visit's figures. `None` when any of that does not hold: then
    /// [`ExportRow::of`] rebuilds it (a test holds the two equal).
    pub fn after_visit(
        prev: &ExportRow,
        hh: &Household,
        changes: &[automerge::Change],
        set: &IndicatorSet,
    ) -> Option<ExportRow> {
        use automerge::legacy::{Key, ObjectId, OpId};
        if prev.projection != ExportRow::PROJECTION {
            return None;
        }
        let visits = hh.obj("visits")?;
        let visits_id = visits.to_string();
        // Objects these changes make, by op id; and the one visit they add.
        let mut made: std::collections::HashSet<(u64, automerge::ActorId)> = Default::default();
        let mut visit: Option<String> = None;
        // The status as `record_visit` sets it: one delete of one earlier value at most,
        // one put over nothing.
        let (mut status_deletes, mut status_puts) = (0, 0);
        for change in changes.iter().map(automerge::Change::decode) {
            for (i, op) in change.operations.iter().enumerate() {
                let id = (change.start_op.get() + i as u64, change.actor_id.clone());
                let Key::Map(key) = &op.key else { return None };
                let is_make = matches!(op.action, automerge::legacy::OpType::Make(_));
                match &op.obj {
                    ObjectId::Id(OpId(c, a)) if made.contains(&(*c, a.clone())) => {}
                    ObjectId::Id(OpId(c, a))
                        if format!("{c}@{a}") == visits_id
                            && is_make
                            && op.pred.is_empty()
                            && visit.is_none() =>
                    {
                        visit = Some(key.to_string());
                    }
                    ObjectId::Root if key.as_str() == "status" => match op.action {
                        automerge::legacy::OpType::Delete if op.pred.len() <= 1 => {
                            status_deletes += 1
                        }
                        automerge::legacy::OpType::Put(_) if op.pred.is_empty() => status_puts += 1,
                        _ => return None,
                    },
                    _ => return None,
                }
                if is_make {
                    made.insert(id);
                }
            }
        }
        if status_deletes > 1 || status_puts != 1 {
            return None;
        }
        let key = visit?;
        // Neither the visit nor the status stands beside a concurrent value.
        let single = |obj: &automerge::ObjId, k: &str| {
            hh.doc
                .get_all(obj, k)
                .map(|v| v.len() == 1)
                .unwrap_or(false)
        };
        if !single(&visits, &key) || !single(&automerge::ROOT, "status") {
            return None;
        }
        let obj = match hh.doc.get(&visits, key.as_str()) {
            Ok(Some((Value::Object(_), o))) => o,
            _ => return None,
        };
        let date = hh.visit_date(&key, &obj);
        // Alone in its month and the last visit: a later month than the last one.
        let month = |d: &str| d.get(..7).map(str::to_string);
        let new_month = month(&date)?;
        if let Some(last) = prev.last_visit.as_deref() {
            if month(last).is_none_or(|m| m >= new_month) {
                return None;
            }
        }
        let v = crate::household::obj_json(&hh.doc, &obj);
        let score = visit_scored(&v).then(|| score_visit(set, &v));
        let result = v["result"].as_str().map(str::to_string);
        let found = result.as_deref() == Some("found");
        Some(ExportRow {
            status: hh.status(),
            last_found: if found {
                Some(date.clone())
            } else {
                prev.last_found.clone()
            },
            last_found_poor: if found {
                score.as_ref().is_some_and(|s| s.poor)
            } else {
                prev.last_found_poor
            },
            last_result: result,
            last_visit: Some(date),
            met: criteria_numbers(set, score.as_ref().map_or(&[], |s| s.met.as_slice())),
            poor: score.as_ref().is_some_and(|s| s.poor),
            incomplete: score.as_ref().is_some_and(|s| s.incomplete),
            score: score.map(|s| s.score),
            ..prev.clone()
        })
    }

    /// The row of a household just created from the registry, without reading its
    /// document (the same as [`ExportRow::of`] on that document; a test holds them
    /// equal): an import of 100,000 households spends its time on the documents.
    pub fn of_new(id: &str, r: &super::RegistryHousehold) -> ExportRow {
        let head = r.members.iter().find(|m| m.relation == "head");
        ExportRow {
            id: id.to_string(),
            id_dtks: r.identity.id_dtks.clone(),
            idbdt: r.identity.idbdt.clone(),
            kk: r.identity.kk.clone(),
            head_name: head.map(|m| m.name.clone()),
            head_nik: head.and_then(|m| m.nik.clone()),
            address: r.identity.address.clone(),
            rw: r.identity.rw,
            rt: r.identity.rt,
            desil: r.registry.desil.map(i64::from),
            pkh: r.registry.pkh,
            bpnt: r.registry.bpnt,
            pbi: r.registry.pbi_jk,
            kip: r.registry.kip,
            in_registry: true,
            projection: ExportRow::PROJECTION,
            ..ExportRow::default()
        }
    }

    /// Addition (a household found in the field) or removal (died, moved away, not
    /// found, a duplicate), as Dinas Sosial's update form asks.
    pub fn proposal_label(&self) -> &'static str {
        if self.proposal {
            "Usulan tambah"
        } else if matches!(
            self.status.as_deref(),
            Some("died" | "moved" | "not_found" | "duplicate")
        ) {
            "Usulan hapus"
        } else {
            ""
        }
    }
}

pub fn status_label(status: Option<&str>) -> &'static str {
    match status {
        None => "Belum dikunjungi",
        Some("found") => "Ditemukan",
        Some("not_found") => "Tidak ditemukan",
        Some("moved") => "Pindah",
        Some("died") => "Meninggal",
        Some("duplicate") => "Ganda",
        Some("refused") => "Menolak",
        Some(_) => "Lainnya",
    }
}

pub const COLUMNS: [&str; 27] = [
    "ID DTKS",
    "IDBDT",
    "No KK",
    "Nama Kepala Keluarga",
    "NIK Kepala Keluarga",
    "Alamat",
    "RT",
    "RW",
    "Desil",
    "PKH",
    "BPNT",
    "PBI",
    "KIP",
    "Hasil Kunjungan",
    "Tanggal Kunjungan",
    "Kriteria Terpenuhi",
    "Skor",
    "Miskin Menurut Skor",
    "Kunjungan Lengkap",
    "Anggota Meninggal",
    "Anggota Pindah",
    "Anggota Tidak Ditemukan",
    "Anggota Baru",
    "Usulan",
    "Ada di Registri",
    "Konflik Terbuka",
    "ID Jemput",
];

fn ya(b: bool) -> &'static str {
    if b {
        "Ya"
    } else {
        "Tidak"
    }
}

/// Cells of one row, in [`COLUMNS`] order, as text (identifiers stay text).
pub fn cells(r: &ExportRow) -> [String; 27] {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        opt(&r.id_dtks),
        opt(&r.idbdt),
        opt(&r.kk),
        opt(&r.head_name),
        opt(&r.head_nik),
        opt(&r.address),
        format!("{:03}", r.rt),
        format!("{:03}", r.rw),
        r.desil.map(|d| d.to_string()).unwrap_or_default(),
        ya(r.pkh).into(),
        ya(r.bpnt).into(),
        ya(r.pbi).into(),
        ya(r.kip).into(),
        status_label(r.status.as_deref()).into(),
        opt(&r.last_visit),
        r.met
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        r.score.map(|s| s.to_string()).unwrap_or_default(),
        if r.score.is_some() {
            ya(r.poor).into()
        } else {
            String::new()
        },
        if r.score.is_some() {
            ya(!r.incomplete).into()
        } else {
            String::new()
        },
        r.died.join("; "),
        r.moved.join("; "),
        r.not_found.join("; "),
        r.new_members.join("; "),
        r.proposal_label().into(),
        ya(r.in_registry).into(),
        r.open_conflicts.to_string(),
        r.id.clone(),
    ]
}

impl ExportRow {
    /// The household as the dashboard counts it for `period`, from this row (the
    /// household's last row by the cut-off). A row knows the last visit and the last
    /// `found` one: one dated after the period's end hides those before it.
    pub fn standing(&self, period: &crate::dashboard::Period) -> crate::dashboard::Standing {
        use crate::dashboard::{Standing, VisitFact};
        let by_end = |d: &String| d.as_str() <= period.end.as_str();
        Standing {
            rw: self.rw,
            rt: self.rt,
            duplicate: self.duplicate_of || self.status.as_deref() == Some("duplicate"),
            proposal: self.proposal,
            open_conflicts: self.open_conflicts > 0,
            last: self
                .last_visit
                .as_ref()
                .filter(|d| by_end(d))
                .map(|d| VisitFact {
                    date: d.clone(),
                    result: self.last_result.clone().unwrap_or_default(),
                    poor: self.poor,
                    incomplete: self.incomplete,
                }),
            last_found: self
                .last_found
                .as_ref()
                .filter(|d| by_end(d))
                .map(|d| (d.clone(), self.last_found_poor)),
        }
    }
}

/// The period "visited this period" counts: from `since` (a date; default the first
/// day of the kelurahan's month or quarter holding the cut-off) to the cut-off's date
/// in `zone`.
pub fn period(
    cutoff_ms: i64,
    since: Option<&str>,
    kind: crate::dashboard::PeriodKind,
    zone: crate::zone::Zone,
) -> Result<crate::dashboard::Period, String> {
    time::OffsetDateTime::from_unix_timestamp(cutoff_ms.div_euclid(1000))
        .map_err(|e| format!("cut-off out of range: {e}"))?;
    let until = zone.date_of(cutoff_ms);
    let start = match since {
        Some(s) => {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))?;
            s.to_string()
        }
        None => crate::dashboard::Period::containing(&until, kind, zone)?.start,
    };
    Ok(crate::dashboard::Period {
        start,
        end: until,
        zone,
    })
}

/// The summary's columns: the dashboard's figures per RW ([`crate::dashboard::Figures`]).
pub const SUMMARY_COLUMNS: [&str; 12] = [
    "RW",
    "Rumah Tangga",
    "Dikunjungi Periode Ini",
    "Ditemukan",
    "Tidak Ditemukan",
    "Pindah",
    "Meninggal",
    "Menolak",
    "Miskin Menurut Skor",
    "Belum Lengkap",
    "Konflik Terbuka",
    "Usulan Menunggu",
];

/// The dashboard's figures for `period` from the rows (each household's last row by
/// the cut-off): what the device's dashboard shows at the same cut-off.
pub fn summarise(rows: &[ExportRow], period: &crate::dashboard::Period) -> crate::dashboard::Tally {
    crate::dashboard::tally(rows.iter().map(|r| r.standing(period)), period)
}

fn summary_cells(s: &crate::dashboard::Figures) -> [String; 12] {
    [
        s.rw.map_or_else(|| "Jumlah".into(), |rw| format!("{rw:03}")),
        s.households.to_string(),
        s.visited.to_string(),
        s.found.to_string(),
        s.not_found.to_string(),
        s.moved.to_string(),
        s.died.to_string(),
        s.refused.to_string(),
        s.poor.to_string(),
        s.incomplete.to_string(),
        s.open_conflicts.to_string(),
        s.pending_proposals.to_string(),
    ]
}

/// The summary's lines: one per RW, then the whole kelurahan.
fn summary_lines(t: &crate::dashboard::Tally) -> impl Iterator<Item = [String; 12]> + '_ {
    t.rws.iter().chain([&t.total]).map(summary_cells)
}

/// The rows `keep` keeps, and when the last change they show arrived at the server
/// (`None` when none is kept).
pub fn arrived(
    rows: Vec<(ExportRow, i64)>,
    keep: impl Fn(&ExportRow) -> bool,
) -> (Vec<ExportRow>, Option<i64>) {
    let mut last = None;
    let kept = rows
        .into_iter()
        .filter(|(r, _)| keep(r))
        .map(|(r, at)| {
            last = last.max(Some(at));
            r
        })
        .collect();
    (kept, last)
}

/// What an export holds, written below the summary table (sheet and `.summary.csv`).
pub struct About {
    /// The cut-off (by arrival at the server), milliseconds since the epoch.
    pub cutoff_ms: i64,
    /// When the last change the export holds arrived: at or before the cut-off.
    pub last_arrival_ms: Option<i64>,
    /// The period "visited" counts, in the kelurahan's zone (the cut-off's day too).
    pub period: crate::dashboard::Period,
}

impl About {
    /// Label and value pairs, in Indonesian like the sheets.
    fn lines(&self, rows: usize) -> Vec<(String, String)> {
        vec![
            (
                "Batas waktu (cut-off)".into(),
                format_in(self.cutoff_ms, self.period.zone),
            ),
            ("Zona waktu".into(), self.period.zone.describe()),
            (
                "Perubahan terakhir diterima".into(),
                self.last_arrival_ms
                    .map_or_else(|| "-".into(), |ms| format_in(ms, self.period.zone)),
            ),
            (
                "Periode kunjungan".into(),
                format!("{} s.d. {}", self.period.start, self.period.end),
            ),
            ("Jumlah rumah tangga".into(), rows.to_string()),
        ]
    }
}

/// `2026-10-31 23:59:59 WIB`.
fn format_in(ms: i64, zone: crate::zone::Zone) -> String {
    let offset =
        time::UtcOffset::from_hms(zone.offset_hours(), 0, 0).unwrap_or(time::UtcOffset::UTC);
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(t) => {
            let t = t.to_offset(offset);
            format!(
                "{} {:02}:{:02}:{:02} {}",
                t.date(),
                t.hour(),
                t.minute(),
                t.second(),
                zone.name()
            )
        }
        Err(_) => ms.to_string(),
    }
}

/// `out.csv` gets the households, `out.summary.csv` the summary (UTF-8 with BOM).
/// `out.xlsx` gets both, as two sheets. Each file is written whole, then renamed.
pub fn write(
    out: &Path,
    rows: &[ExportRow],
    summary: &crate::dashboard::Tally,
    about: &About,
) -> Result<Vec<std::path::PathBuf>, RegistryError> {
    let footer = about.lines(rows.len());
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => {
            let summary_path = out.with_extension("summary.csv");
            write_csv(out, &COLUMNS, rows.iter().map(cells), &[])?;
            write_csv(
                &summary_path,
                &SUMMARY_COLUMNS,
                summary_lines(summary),
                &footer,
            )?;
            Ok(vec![out.to_path_buf(), summary_path])
        }
        "xlsx" => {
            write_xlsx(out, rows, summary, &footer)?;
            Ok(vec![out.to_path_buf()])
        }
        _ => Err(RegistryError::Unreadable(format!(
            "export file `{}` must end in .xlsx or .csv",
            out.display()
        ))),
    }
}

fn replace(tmp: &Path, path: &Path) -> Result<(), RegistryError> {
    std::fs::rename(tmp, path).map_err(|e| RegistryError::Io(format!("{}: {e}", path.display())))
}

/// A CSV with `header` first; `footer` pairs go below the rows after an empty line,
/// padded to the header's width.
fn write_csv<const N: usize>(
    path: &Path,
    header: &[&str; N],
    rows: impl Iterator<Item = [String; N]>,
    footer: &[(String, String)],
) -> Result<(), RegistryError> {
    let io = |e: &dyn std::fmt::Display| RegistryError::Io(format!("{}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| io(&e))?;
    let mut buf = std::io::BufWriter::new(file);
    std::io::Write::write_all(&mut buf, b"\xEF\xBB\xBF").map_err(|e| io(&e))?;
    let mut w = csv::Writer::from_writer(buf);
    w.write_record(header).map_err(|e| io(&e))?;
    for r in rows {
        w.write_record(&r).map_err(|e| io(&e))?;
    }
    if !footer.is_empty() {
        w.write_record(vec![String::new(); N]).map_err(|e| io(&e))?;
        for (label, value) in footer {
            let mut rec = vec![String::new(); N];
            rec[0].clone_from(label);
            if N > 1 {
                rec[1].clone_from(value);
            }
            w.write_record(&rec).map_err(|e| io(&e))?;
        }
    }
    let buf = w.into_inner().map_err(|e| io(&e))?;
    buf.into_inner()
        .map_err(|e| io(&e))?
        .sync_all()
        .map_err(|e| io(&e))?;
    replace(&tmp, path)
}

fn write_xlsx(
    path: &Path,
    rows: &[ExportRow],
    summary: &crate::dashboard::Tally,
    footer: &[(String, String)],
) -> Result<(), RegistryError> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| RegistryError::Io(format!("{}: {e}", path.display()));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    // Typed cells: numbers and dates as such (RT and RW shown with three digits, as the
    // registry writes them); identifiers — NIK, No KK, ID DTKS — stay text, so Excel
    // never rounds a 16-digit number.
    let three_digits = Format::new().set_num_format("000");
    let plain = Format::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name("Rumah Tangga").map_err(x)?;
        for (c, h) in COLUMNS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(x)?;
        }
        for (i, r) in rows.iter().enumerate() {
            let row = i as u32 + 1;
            for (c, v) in cells(r).iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                let col = c as u16;
                let number = match COLUMNS[c] {
                    "RT" | "RW" => Some(&three_digits),
                    "Desil" | "Skor" | "Konflik Terbuka" => Some(&plain),
                    _ => None,
                };
                match (number, v.parse::<f64>()) {
                    (Some(f), Ok(n)) => {
                        ws.write_number_with_format(row, col, n, f).map_err(x)?;
                    }
                    _ if COLUMNS[c] == "Tanggal Kunjungan" => {
                        match ExcelDateTime::parse_from_str(v) {
                            Ok(d) => ws.write_datetime_with_format(row, col, &d, &date),
                            Err(_) => ws.write_string(row, col, v),
                        }
                        .map_err(x)?;
                    }
                    _ => {
                        ws.write_string(row, col, v).map_err(x)?;
                    }
                }
            }
        }
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("Ringkasan per RW").map_err(x)?;
        for (c, h) in SUMMARY_COLUMNS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(x)?;
        }
        let lines: Vec<[String; 12]> = summary_lines(summary).collect();
        for (i, cells) in lines.iter().enumerate() {
            ws.write_string(i as u32 + 1, 0, &cells[0]).map_err(x)?;
            for (c, v) in cells.iter().enumerate().skip(1) {
                ws.write_number(i as u32 + 1, c as u16, v.parse::<f64>().unwrap_or(0.0))
                    .map_err(x)?;
            }
        }
        // What the export holds, two rows below the table.
        let below = lines.len() as u32 + 2;
        for (i, (label, value)) in footer.iter().enumerate() {
            let r = below + i as u32;
            ws.write_string_with_format(r, 0, label, &bold).map_err(x)?;
            ws.write_string(r, 1, value).map_err(x)?;
        }
    }
    let tmp = path.with_extension("xlsx.tmp");
    wb.save(&tmp).map_err(x)?;
    replace(&tmp, path)
}
