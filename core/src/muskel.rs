//! Proposals and the village meeting that decides them (Musyawarah Kelurahan, "Muskel").
//!
//! A proposal is derived from a household, never typed twice: a household found in the
//! field and proposed ("Usulkan") is an addition; one whose last visit found it died,
//! moved, not found or a duplicate, or found it no longer poor by score, is a removal.
//! Its id hashes what it is about (kind, household, the visit's date), so every device
//! and the server name it alike. A Muskel [`Session`] (kept by the server, read by the
//! kelurahan's office) puts proposals on its agenda with a decision and a reason each;
//! its minutes (berita acara, PDF) and the list of approved proposals for SIKS-NG
//! (XLSX) are written here, one code path for the app and the CLI.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a proposal asks of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProposalKind {
    /// A household found in the field, not in the registry.
    Add,
    /// Died, moved, not found, a duplicate, or no longer poor by the verification.
    Remove,
    /// An office correction of the household's data.
    Correct,
}

impl ProposalKind {
    pub fn parse(s: &str) -> Option<ProposalKind> {
        match s {
            "add" => Some(ProposalKind::Add),
            "remove" => Some(ProposalKind::Remove),
            "correct" => Some(ProposalKind::Correct),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ProposalKind::Add => "add",
            ProposalKind::Remove => "remove",
            ProposalKind::Correct => "correct",
        }
    }

    /// As the SIKS-NG list and the minutes name it.
    pub fn label(self) -> &'static str {
        match self {
            ProposalKind::Add => "Usulan baru",
            ProposalKind::Remove => "Usulan hapus",
            ProposalKind::Correct => "Perbaikan data",
        }
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ProposalStatus {
    /// Not on any Muskel's agenda yet.
    Draft,
    /// On an open session's agenda, not decided.
    ToMuskel,
    Approved,
    Rejected,
    /// Decided to wait: it goes on a later session's agenda.
    Deferred,
}

/// A Muskel's decision on one proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Outcome {
    Approved,
    Rejected,
    Deferred,
}

impl Outcome {
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "approved" | "approve" | "setuju" => Some(Outcome::Approved),
            "rejected" | "reject" | "tolak" => Some(Outcome::Rejected),
            "deferred" | "defer" | "tunda" => Some(Outcome::Deferred),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Approved => "Disetujui",
            Outcome::Rejected => "Ditolak",
            Outcome::Deferred => "Ditunda",
        }
    }

    fn status(self) -> ProposalStatus {
        match self {
            Outcome::Approved => ProposalStatus::Approved,
            Outcome::Rejected => ProposalStatus::Rejected,
            Outcome::Deferred => ProposalStatus::Deferred,
        }
    }
}

/// What a proposal is derived from: a household's query columns (the device's store
/// or the server's document summary).
#[derive(Debug, Clone, Default)]
pub struct Basis {
    pub household: String,
    pub head_name: Option<String>,
    pub head_nik: Option<String>,
    pub kk: Option<String>,
    pub address: Option<String>,
    pub rw: u16,
    pub rt: u16,
    /// Proposed from the field ("Usulkan").
    pub proposal: bool,
    /// The last visit's result and date.
    pub status: Option<String>,
    pub last_visit: Option<String>,
    /// The last visit scored poor.
    pub poor: bool,
    /// The last visit left criteria "tidak tahu": its score decides nothing yet.
    pub incomplete: bool,
    pub duplicate_of: bool,
}

/// One proposal, as listed and as put on a Muskel's agenda (a snapshot then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Proposal {
    pub id: String,
    pub household: String,
    pub kind: ProposalKind,
    /// Why: `new_household`, `died`, `moved`, `not_found`, `duplicate`, `not_poor`.
    pub reason: String,
    pub head_name: Option<String>,
    pub head_nik: Option<String>,
    pub kk: Option<String>,
    pub address: Option<String>,
    pub rw: u16,
    pub rt: u16,
    /// Where it stands (from the Muskel sessions the device knows).
    pub status: ProposalStatus,
    /// The session that decided it, or whose agenda holds it.
    #[ts(optional)]
    pub session: Option<String>,
}

/// A reason a person reads, in Indonesian like the minutes.
pub fn reason_label(reason: &str) -> &str {
    match reason {
        "new_household" => "Rumah tangga baru ditemukan di lapangan",
        "died" => "Meninggal",
        "moved" => "Pindah",
        "not_found" => "Tidak ditemukan",
        "duplicate" => "Data ganda",
        "not_poor" => "Tidak miskin lagi menurut verifikasi",
        other => other,
    }
}

fn proposal_id(kind: ProposalKind, household: &str, basis: &str) -> String {
    let mut h = Sha256::new();
    h.update(kind.code().as_bytes());
    h.update([0]);
    h.update(household.as_bytes());
    h.update([0]);
    h.update(basis.as_bytes());
    format!("p-{}", &hex::encode(h.finalize())[..16])
}

/// The proposals a household stands for now (at most one), as a draft.
pub fn proposals_of(b: &Basis) -> Vec<Proposal> {
    let removal = if b.duplicate_of {
        Some("duplicate")
    } else {
        match b.status.as_deref() {
            Some(s @ ("died" | "moved" | "not_found" | "duplicate")) => Some(s),
            Some("found") if !b.poor && !b.incomplete => Some("not_poor"),
            _ => None,
        }
    };
    let (kind, reason) = match (b.proposal, removal) {
        // A proposed household found gone again is simply not added.
        (true, None) => (ProposalKind::Add, "new_household"),
        (false, Some(r)) => (ProposalKind::Remove, r),
        _ => return Vec::new(),
    };
    let basis = match kind {
        ProposalKind::Add => String::new(),
        _ => format!("{reason}@{}", b.last_visit.as_deref().unwrap_or("")),
    };
    vec![Proposal {
        id: proposal_id(kind, &b.household, &basis),
        household: b.household.clone(),
        kind,
        reason: reason.to_string(),
        head_name: b.head_name.clone(),
        head_nik: b.head_nik.clone(),
        kk: b.kk.clone(),
        address: b.address.clone(),
        rw: b.rw,
        rt: b.rt,
        status: ProposalStatus::Draft,
        session: None,
    }]
}

/// The month's deadlines, a per-kelurahan setting: the Muskel by a day of the month,
/// the SIKS-NG input some days after the Muskel whose decisions it enters, and how
/// long a complaint may stay open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Deadlines {
    pub muskel_day: u8,
    pub siks_days: u16,
    pub complaint_days: u16,
}

impl Default for Deadlines {
    fn default() -> Deadlines {
        Deadlines {
            muskel_day: 14,
            siks_days: 7,
            complaint_days: crate::cases::DEFAULT_DUE_DAYS,
        }
    }
}

impl Deadlines {
    pub fn check(&self) -> Result<(), MuskelError> {
        if !(1..=28).contains(&self.muskel_day) {
            return Err(bad("the Muskel's day is 1 to 28"));
        }
        if !(1..=60).contains(&self.siks_days) {
            return Err(bad("the SIKS-NG input takes 1 to 60 days"));
        }
        if !(1..=365).contains(&self.complaint_days) {
            return Err(bad("a complaint is due in 1 to 365 days"));
        }
        Ok(())
    }

    /// The last day for the Muskel of the month holding `today` (`YYYY-MM-DD`).
    pub fn muskel_due(&self, today: &str) -> String {
        format!(
            "{}-{:02}",
            today.get(..7).unwrap_or("1970-01"),
            self.muskel_day
        )
    }

    /// The last day to key a session's approved proposals into SIKS-NG.
    pub fn siks_due(&self, session_date: &str) -> String {
        parse(session_date)
            .and_then(|d| d.checked_add(time::Duration::days(i64::from(self.siks_days))))
            .map_or_else(|| session_date.to_string(), |d| d.to_string())
    }
}

/// An official at the meeting, who signs its minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Official {
    pub name: String,
    /// `Lurah`, `Ketua Puskesos`, `Pendamping PKH`, …
    pub position: String,
}

/// A decision, with who made it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Decision {
    pub outcome: Outcome,
    pub reason: String,
    pub by: String,
    #[ts(type = "number")]
    pub at_ms: i64,
}

/// One proposal on a session's agenda, with its decision and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Item {
    pub proposal: Proposal,
    #[ts(optional)]
    pub decision: Option<Decision>,
    /// `"2026-12-03T10:00Z ops: decided approved"`-like lines, oldest first.
    pub trail: Vec<TrailEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct TrailEntry {
    #[ts(type = "number")]
    pub at_ms: i64,
    pub by: String,
    /// `agenda`, `approved`, `rejected`, `deferred` (a decision changed is a new entry).
    pub what: String,
}

/// What the office types to open a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewSession {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub place: String,
    /// The minutes' number (`001/BA-MUSKEL/XII/2026`); made from the date when empty.
    #[serde(default)]
    #[ts(optional)]
    pub number: Option<String>,
    pub attendees: u32,
    pub officials: Vec<Official>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Session {
    pub id: String,
    pub kelurahan: String,
    pub number: String,
    pub date: String,
    pub place: String,
    pub attendees: u32,
    pub officials: Vec<Official>,
    pub closed: bool,
    pub items: Vec<Item>,
    pub created_by: String,
    #[ts(type = "number")]
    pub created_ms: i64,
}

/// A refusal a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MuskelError(pub String);

fn bad(s: impl Into<String>) -> MuskelError {
    MuskelError(s.into())
}

const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

impl Session {
    /// A session of `kelurahan` opened by `by`; `seq` numbers it in its year when the
    /// office gave no number.
    pub fn open(
        id: String,
        kelurahan: &str,
        new: NewSession,
        seq: u32,
        by: &str,
        now_ms: i64,
    ) -> Result<Session, MuskelError> {
        let date = time::Date::parse(
            new.date.trim(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| bad(format!("`{}` is not a date (YYYY-MM-DD)", new.date)))?;
        let place = new.place.trim().to_string();
        if place.is_empty() {
            return Err(bad("the place of the Muskel is empty"));
        }
        if new.attendees == 0 || new.attendees > 10_000 {
            return Err(bad("attendees must be 1 to 10000"));
        }
        if new.officials.is_empty() || new.officials.len() > 20 {
            return Err(bad("name 1 to 20 officials (they sign the minutes)"));
        }
        let mut officials = Vec::new();
        for o in new.officials {
            let (name, position) = (o.name.trim(), o.position.trim());
            if name.is_empty() || position.is_empty() || name.len() > 120 || position.len() > 120 {
                return Err(bad(
                    "each official needs a name and a position (up to 120 characters)",
                ));
            }
            officials.push(Official {
                name: name.into(),
                position: position.into(),
            });
        }
        let number = match new
            .number
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            Some(n) if n.len() <= 80 => n.to_string(),
            Some(_) => return Err(bad("the minutes' number is longer than 80 characters")),
            None => format!(
                "{seq:03}/BA-MUSKEL/{}/{}",
                ROMAN[usize::from(u8::from(date.month())) - 1],
                date.year()
            ),
        };
        if place.len() > 200 {
            return Err(bad("the place is longer than 200 characters"));
        }
        Ok(Session {
            id,
            kelurahan: kelurahan.to_string(),
            number,
            date: date.to_string(),
            place,
            attendees: new.attendees,
            officials,
            closed: false,
            items: Vec::new(),
            created_by: by.to_string(),
            created_ms: now_ms,
        })
    }

    /// Decides `proposal` (put on the agenda first if it is not there yet). A decision
    /// may be changed while the session is open; the trail keeps each.
    pub fn decide(
        &mut self,
        proposal: Proposal,
        outcome: Outcome,
        reason: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), MuskelError> {
        if self.closed {
            return Err(bad(format!(
                "the Muskel {} is closed: its decisions stand",
                self.number
            )));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(bad("give the decision's reason (up to 500 characters)"));
        }
        let at = match self.items.iter().position(|i| i.proposal.id == proposal.id) {
            Some(at) => at,
            None => {
                self.items.push(Item {
                    proposal,
                    decision: None,
                    trail: vec![TrailEntry {
                        at_ms: now_ms,
                        by: by.to_string(),
                        what: "agenda".into(),
                    }],
                });
                self.items.len() - 1
            }
        };
        let item = &mut self.items[at];
        item.proposal.status = outcome.status();
        item.proposal.session = Some(self.id.clone());
        item.decision = Some(Decision {
            outcome,
            reason: reason.to_string(),
            by: by.to_string(),
            at_ms: now_ms,
        });
        item.trail.push(TrailEntry {
            at_ms: now_ms,
            by: by.to_string(),
            what: match outcome {
                Outcome::Approved => "approved",
                Outcome::Rejected => "rejected",
                Outcome::Deferred => "deferred",
            }
            .into(),
        });
        Ok(())
    }

    /// Closes the session: its minutes can be signed. Every item must be decided.
    pub fn close(&mut self) -> Result<(), MuskelError> {
        if self.items.is_empty() {
            return Err(bad("the Muskel decided nothing yet"));
        }
        let open = self.items.iter().filter(|i| i.decision.is_none()).count();
        if open > 0 {
            return Err(bad(format!(
                "{open} proposals on the agenda have no decision"
            )));
        }
        self.closed = true;
        Ok(())
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.items
            .iter()
            .filter(|i| i.decision.as_ref().is_some_and(|d| d.outcome == outcome))
            .count()
    }
}

/// Sets each proposal's status from the sessions: the last decision of it (by session
/// date, then time) stands; a deferred one is `deferred` until a later session decides it.
pub fn with_status(mut proposals: Vec<Proposal>, sessions: &[Session]) -> Vec<Proposal> {
    let mut latest: std::collections::HashMap<&str, (&str, i64, &Session, &Item)> =
        Default::default();
    for s in sessions {
        for i in &s.items {
            let at = i.decision.as_ref().map_or(i64::MIN, |d| d.at_ms);
            let e = latest
                .entry(i.proposal.id.as_str())
                .or_insert((&s.date, at, s, i));
            if (s.date.as_str(), at) > (e.0, e.1) {
                *e = (&s.date, at, s, i);
            }
        }
    }
    for p in &mut proposals {
        if let Some((_, _, s, i)) = latest.get(p.id.as_str()) {
            p.session = Some(s.id.clone());
            p.status = match &i.decision {
                Some(d) => d.outcome.status(),
                None => ProposalStatus::ToMuskel,
            };
        }
    }
    proposals
}

/// Writes the minutes (berita acara) of `session` as a PDF: the meeting, the
/// officials, every decision with its reason, the counts and a signature line per
/// official. Names and areas only: the NIKs go to the SIKS-NG list, not to a paper
/// that is signed and filed.
pub fn write_minutes(
    session: &Session,
    kelurahan_name: &str,
    out: &Path,
) -> Result<(), MuskelError> {
    let mut doc = PdfText::default();
    doc.heading("BERITA ACARA");
    doc.heading("MUSYAWARAH KELURAHAN (MUSKEL)");
    doc.center(&format!("Nomor: {}", session.number));
    doc.gap();
    doc.paragraph(&format!(
        "Pada hari {}, tanggal {}, bertempat di {}, telah dilaksanakan Musyawarah Kelurahan {} \
         untuk memutuskan usulan pemutakhiran data kesejahteraan sosial (DTSEN) hasil verifikasi \
         lapangan. Musyawarah dihadiri oleh {} orang peserta.",
        weekday_id(&session.date),
        date_id(&session.date),
        session.place,
        kelurahan_name,
        session.attendees
    ));
    doc.gap();
    doc.line_bold("Pejabat yang hadir:");
    for (n, o) in session.officials.iter().enumerate() {
        doc.paragraph(&format!("{}. {} ({})", n + 1, o.name, o.position));
    }
    doc.gap();
    doc.line_bold("Keputusan atas usulan:");
    for (n, i) in session.items.iter().enumerate() {
        let p = &i.proposal;
        let d = i.decision.as_ref();
        doc.paragraph(&format!(
            "{}. {} - RT {:03}/RW {:03} - {} ({}) - {}: {}",
            n + 1,
            p.head_name.as_deref().unwrap_or("(tanpa nama)"),
            p.rt,
            p.rw,
            p.kind.label(),
            reason_label(&p.reason),
            d.map_or("Belum diputuskan", |d| d.outcome.label()),
            d.map_or("", |d| d.reason.as_str()),
        ));
    }
    doc.gap();
    doc.paragraph(&format!(
        "Jumlah usulan: {}; disetujui {}, ditolak {}, ditunda {}.",
        session.items.len(),
        session.count(Outcome::Approved),
        session.count(Outcome::Rejected),
        session.count(Outcome::Deferred)
    ));
    doc.paragraph(
        "Demikian berita acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana mestinya.",
    );
    doc.gap();
    doc.signatures(
        &session.officials,
        &format!("Kelurahan {}, {}", kelurahan_name, date_id(&session.date)),
    );
    let tmp = out.with_extension("pdf.tmp");
    let _ = std::fs::remove_file(&tmp);
    crate::files::create_private(&tmp, &doc.finish())
        .and_then(|()| std::fs::rename(&tmp, out))
        .and_then(|()| crate::files::sync_parent(out))
        .map_err(|e| bad(format!("cannot write {}: {e}", out.display())))
}

/// The columns of the SIKS-NG input list (documented in docs/muskel.md; SIKS-NG does
/// not import this file directly: the operator keys it in from it).
pub const SIKS_COLUMNS: [&str; 11] = [
    "NIK",
    "No KK",
    "Nama",
    "Alamat",
    "RT",
    "RW",
    "Kode Wilayah (BPS)",
    "Jenis Usulan",
    "Alasan",
    "Tanggal Muskel",
    "Nomor Berita Acara",
];

/// Writes the approved proposals of `session` as the SIKS-NG input list (XLSX; NIK and
/// No KK as text so no digit is lost).
pub fn write_siks(session: &Session, bps: Option<&str>, out: &Path) -> Result<usize, MuskelError> {
    use rust_xlsxwriter::{Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| bad(format!("{}: {e}", out.display()));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let three = Format::new().set_num_format("000");
    let ws = wb.add_worksheet();
    ws.set_name("Usulan Disetujui").map_err(x)?;
    for (c, h) in SIKS_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(x)?;
    }
    let mut row = 0;
    for i in &session.items {
        let Some(d) = &i.decision else { continue };
        if d.outcome != Outcome::Approved {
            continue;
        }
        row += 1;
        let p = &i.proposal;
        let texts = [
            p.head_nik.clone().unwrap_or_default(),
            p.kk.clone().unwrap_or_default(),
            p.head_name.clone().unwrap_or_default(),
            p.address.clone().unwrap_or_default(),
        ];
        for (c, v) in texts.iter().enumerate() {
            ws.write_string(row, c as u16, v).map_err(x)?;
        }
        ws.write_number_with_format(row, 4, f64::from(p.rt), &three)
            .map_err(x)?;
        ws.write_number_with_format(row, 5, f64::from(p.rw), &three)
            .map_err(x)?;
        let rest = [
            bps.unwrap_or_default().to_string(),
            p.kind.label().to_string(),
            format!("{}; {}", reason_label(&p.reason), d.reason),
            session.date.clone(),
            session.number.clone(),
        ];
        for (c, v) in rest.iter().enumerate() {
            ws.write_string(row, 6 + c as u16, v).map_err(x)?;
        }
    }
    ws.autofit();
    let tmp = out.with_extension("xlsx.tmp");
    wb.save(&tmp).map_err(x)?;
    std::fs::rename(&tmp, out)
        .and_then(|()| crate::files::sync_parent(out))
        .map_err(|e| bad(format!("cannot write {}: {e}", out.display())))?;
    Ok(row as usize)
}

const DAYS_ID: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

fn parse(d: &str) -> Option<time::Date> {
    time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// `Kamis`.
fn weekday_id(d: &str) -> &'static str {
    parse(d).map_or("", |d| {
        DAYS_ID[usize::from(d.weekday().number_days_from_monday())]
    })
}

/// `3 Desember 2026`.
fn date_id(d: &str) -> String {
    parse(d).map_or_else(
        || d.to_string(),
        |d| {
            format!(
                "{} {} {}",
                d.day(),
                MONTHS_ID[usize::from(u8::from(d.month())) - 1],
                d.year()
            )
        },
    )
}

/// A4 pages of Helvetica text, laid out top to bottom (the base-14 font: nothing
/// embedded, and `pdftotext` reads it back).
#[derive(Default)]
struct PdfText {
    pages: Vec<pdf_writer::Content>,
    y: f32,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const SIZE: f32 = 11.0;
const LEADING: f32 = 15.0;

/// Helvetica's average advance, for wrapping and centring (a little wide: lines never
/// run past the margin).
fn width(s: &str, size: f32) -> f32 {
    s.chars().count() as f32 * size * 0.52
}

/// WinAnsi bytes of `s` (Latin-1 covers Indonesian; anything else prints `?`).
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match u32::from(c) {
            0x20..=0x7e | 0xa0..=0xff => c as u8,
            0x2013 | 0x2014 => b'-',
            _ => b'?',
        })
        .collect()
}

impl PdfText {
    fn room(&mut self, lines: f32) {
        if self.pages.is_empty() || self.y - lines * LEADING < MARGIN {
            self.pages.push(pdf_writer::Content::new());
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, font: &[u8], size: f32, s: &str) {
        self.room(1.0);
        let y = self.y;
        if let Some(c) = self.pages.last_mut() {
            c.begin_text();
            c.set_font(pdf_writer::Name(font), size);
            c.next_line(x, y);
            c.show(pdf_writer::Str(&win_ansi(s)));
            c.end_text();
        }
    }

    fn heading(&mut self, s: &str) {
        let x = ((PAGE_W - width(s, 13.0)) / 2.0).max(MARGIN);
        self.text_at(x, b"F2", 13.0, s);
        self.y -= LEADING + 2.0;
    }

    fn center(&mut self, s: &str) {
        let x = ((PAGE_W - width(s, SIZE)) / 2.0).max(MARGIN);
        self.text_at(x, b"F1", SIZE, s);
        self.y -= LEADING;
    }

    fn line_bold(&mut self, s: &str) {
        self.text_at(MARGIN, b"F2", SIZE, s);
        self.y -= LEADING;
    }

    fn gap(&mut self) {
        self.y -= LEADING / 2.0;
    }

    /// Words wrapped to the text width; later lines indented under a list number.
    fn paragraph(&mut self, s: &str) {
        let max = PAGE_W - 2.0 * MARGIN;
        let indent = if s
            .split_once(". ")
            .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        {
            18.0
        } else {
            0.0
        };
        let mut line = String::new();
        let mut first = true;
        for word in s.split_whitespace() {
            let room = if first { max } else { max - indent };
            if !line.is_empty() && width(&format!("{line} {word}"), SIZE) > room {
                let x = if first { MARGIN } else { MARGIN + indent };
                self.text_at(x, b"F1", SIZE, &line);
                self.y -= LEADING;
                line.clear();
                first = false;
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let x = if first { MARGIN } else { MARGIN + indent };
            self.text_at(x, b"F1", SIZE, &line);
            self.y -= LEADING;
        }
    }

    /// Two signature blocks a row: place and date, position, room to sign, the name
    /// over a line.
    fn signatures(&mut self, officials: &[Official], place_date: &str) {
        self.room(2.0);
        self.text_at(PAGE_W / 2.0, b"F1", SIZE, place_date);
        self.y -= LEADING * 1.5;
        let col = (PAGE_W - 2.0 * MARGIN) / 2.0;
        for pair in officials.chunks(2) {
            self.room(6.0);
            let top = self.y;
            for (k, o) in pair.iter().enumerate() {
                let x = MARGIN + col * k as f32;
                self.y = top;
                self.text_at(x, b"F1", SIZE, &o.position);
                self.y -= LEADING * 4.0;
                self.text_at(x, b"F2", SIZE, &o.name);
                if let Some(c) = self.pages.last_mut() {
                    c.move_to(x, self.y - 3.0);
                    c.line_to(x + col - 24.0, self.y - 3.0);
                    c.stroke();
                }
            }
            self.y = top - LEADING * 6.0;
        }
    }

    fn finish(self) -> Vec<u8> {
        use pdf_writer::{Finish, Name, Pdf, Rect, Ref};
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let (regular, bold) = (Ref::new(3), Ref::new(4));
        let n = self.pages.len().max(1);
        let page_ids: Vec<Ref> = (0..n).map(|i| Ref::new(5 + 2 * i as i32)).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(n as i32);
        for (font, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
            pdf.type1_font(font)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        let mut contents = self.pages;
        if contents.is_empty() {
            contents.push(pdf_writer::Content::new());
        }
        for (i, content) in contents.into_iter().enumerate() {
            let id = page_ids[i];
            let content_id = Ref::new(id.get() + 1);
            let mut page = pdf.page(id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            page.parent(tree);
            page.contents(content_id);
            {
                let mut resources = page.resources();
                let mut fonts = resources.fonts();
                fonts.pair(Name(b"F1"), regular);
                fonts.pair(Name(b"F2"), bold);
            }
            page.finish();
            pdf.stream(content_id, &content.finish());
        }
        pdf.finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn basis(status: Option<&str>, poor: bool, proposal: bool) -> Basis {
        Basis {
            household: "h-1".into(),
            head_name: Some("Keluarga Uji".into()),
            rw: 2,
            rt: 3,
            proposal,
            status: status.map(str::to_string),
            last_visit: Some("2026-12-01".into()),
            poor,
            ..Basis::default()
        }
    }

    #[test]
    fn deadlines_follow_the_month_and_the_session() {
        let d = Deadlines::default();
        assert_eq!(d.muskel_due("2026-12-08"), "2026-12-14");
        assert_eq!(d.siks_due("2026-12-28"), "2027-01-04");
        assert!(Deadlines {
            muskel_day: 31,
            ..d
        }
        .check()
        .is_err());
        assert!(Deadlines {
            complaint_days: 0,
            ..d
        }
        .check()
        .is_err());
    }

    #[test]
    fn proposals_follow_the_household() {
        assert!(
            proposals_of(&basis(None, false, false)).is_empty(),
            "not visited"
        );
        assert!(
            proposals_of(&basis(Some("found"), true, false)).is_empty(),
            "still poor"
        );
        let gone = proposals_of(&basis(Some("died"), false, false));
        assert_eq!(
            (gone[0].kind, gone[0].reason.as_str()),
            (ProposalKind::Remove, "died")
        );
        let rich = proposals_of(&basis(Some("found"), false, false));
        assert_eq!(rich[0].reason, "not_poor");
        let new = proposals_of(&basis(Some("found"), true, true));
        assert_eq!(
            (new[0].kind, new[0].reason.as_str()),
            (ProposalKind::Add, "new_household")
        );
        assert_ne!(gone[0].id, rich[0].id);
        assert_eq!(
            gone[0].id,
            proposals_of(&basis(Some("died"), false, false))[0].id
        );
    }

    #[test]
    fn a_session_decides_then_closes_and_the_status_follows() {
        let new = NewSession {
            date: "2026-12-03".into(),
            place: "Balai Kelurahan".into(),
            number: None,
            attendees: 25,
            officials: vec![Official {
                name: "Budi".into(),
                position: "Lurah".into(),
            }],
        };
        let mut s =
            Session::open("ms-1".into(), "35.73.01.1007", new.clone(), 2, "ops", 1).unwrap();
        assert_eq!(s.number, "002/BA-MUSKEL/XII/2026");
        assert!(s.close().is_err(), "nothing decided");
        let p = proposals_of(&basis(Some("moved"), false, false)).remove(0);
        assert!(
            s.decide(p.clone(), Outcome::Approved, " ", "ops", 2)
                .is_err(),
            "a reason"
        );
        s.decide(p.clone(), Outcome::Deferred, "Cek ulang alamat", "ops", 2)
            .unwrap();
        s.decide(
            p.clone(),
            Outcome::Approved,
            "Sudah pindah ke kota",
            "fasil",
            3,
        )
        .unwrap();
        assert_eq!(s.items.len(), 1);
        let trail: Vec<&str> = s.items[0].trail.iter().map(|t| t.what.as_str()).collect();
        assert_eq!(trail, ["agenda", "deferred", "approved"]);
        s.close().unwrap();
        assert!(
            s.decide(p.clone(), Outcome::Rejected, "x", "ops", 4)
                .is_err(),
            "closed"
        );
        let listed = with_status(vec![p], &[s]);
        assert_eq!(listed[0].status, ProposalStatus::Approved);
        assert_eq!(listed[0].session.as_deref(), Some("ms-1"));
        let mut bad_date = new;
        bad_date.date = "3 Desember".into();
        assert!(Session::open("ms-2".into(), "k", bad_date, 1, "ops", 1).is_err());
    }
}
