//! Row-by-row validation and grouping into households. Every data row is either taken
//! or rejected with a reason a person can act on; nothing is repaired by guessing.

use std::collections::HashMap;

use serde::Serialize;

use super::columns::{find_header, Field, Header, Mapping};
use super::read::{Cell, Sheet};
use super::reason::{Reason, Shown};
use super::RegistryError;
use crate::household::{Identity, Registry};
use crate::nik::{Kk, Nik, Sex};

/// What the import is for.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Kemendagri code of the kelurahan, `35.73.01.1007`.
    pub kelurahan: String,
    /// Its BPS code, when known: rows may carry either.
    pub kelurahan_bps: Option<String>,
    /// The file covers only part of the kelurahan: households not in it are left alone.
    pub partial: bool,
    pub mapping: Mapping,
    /// `YYYY-MM-DD`: birth dates after it are impossible.
    pub today: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegistryMember {
    /// Stable within the household: ID ART, else NIK, else name and birth date.
    pub key: String,
    pub nik: Option<String>,
    pub name: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<String>,
    pub relation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegistryHousehold {
    /// Which column groups rows into households, and its value.
    pub key_field: Field,
    pub key: String,
    /// The stored household it was matched to by its people, when the file groups rows
    /// by another key than the one the household was first imported by
    /// ([`super::apply::match_by_people`]).
    pub stored_as: Option<String>,
    pub identity: Identity,
    pub registry: Registry,
    pub members: Vec<RegistryMember>,
}

impl RegistryHousehold {
    /// Its household id: the stored household it was matched to, else the hash of its
    /// grouping key.
    pub fn id(&self, kelurahan: &str) -> String {
        self.stored_as
            .clone()
            .unwrap_or_else(|| super::apply::household_id(kelurahan, self.key_field, &self.key))
    }
}

#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub sheet: String,
    /// 1-based, as the spreadsheet numbers rows.
    pub row: usize,
    pub cells: Vec<String>,
    pub reason: Reason,
}

/// A file read and checked, ready to import.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The column that groups rows into households.
    pub key_field: Option<Field>,
    pub households: Vec<RegistryHousehold>,
    pub rejected: Vec<RejectedRow>,
    /// Household keys with at least one rejected row: neither they nor their members
    /// are marked missing, since the file does not say clearly what they hold.
    pub uncertain: std::collections::HashSet<String>,
    /// Data rows read (members, plus household rows in a two-sheet file).
    pub rows: usize,
    /// Member rows taken.
    pub members: usize,
    /// Per sheet with rejections: its name and header, for the rejected-rows file.
    pub headers: Vec<(String, Vec<String>)>,
    pub unrecognised: Vec<String>,
    /// Fields the office needs of every member (NIK, sex, relation, birth date) that no
    /// column gives while some columns were not recognised: one of those is probably
    /// the field under a name Jemput does not know ([`super::guard`] stops on it).
    pub unread_needed: Vec<Field>,
}

/// What the office needs of every member: a file without one of these columns is read
/// only when no column went unrecognised.
pub const NEEDED: [Field; 4] = [Field::Nik, Field::Sex, Field::Relation, Field::BirthDate];

const KEYS: [Field; 3] = [Field::IdDtks, Field::Idbdt, Field::Kk];

/// Reads the sheets: one sheet of member rows, or a household sheet and a member sheet.
pub fn parse_sheets(sheets: &[Sheet], opts: &ImportOptions) -> Result<Parsed, RegistryError> {
    let found: Vec<(&Sheet, Header)> = sheets
        .iter()
        .filter_map(|s| find_header(&s.rows, &opts.mapping).map(|h| (s, h)))
        .collect();
    let Some(members_at) = found.iter().position(|(_, h)| h.has(Field::Name)) else {
        // The sheets by name and size only: their cells may be NIKs and names.
        let seen: Vec<String> = sheets
            .iter()
            .map(|s| format!("`{}` ({} rows)", s.name, s.rows.len()))
            .collect();
        return Err(RegistryError::NoHeader(seen.join(", ")));
    };
    let household_sheet = found
        .iter()
        .enumerate()
        .find(|(i, (_, h))| {
            *i != members_at && !h.has(Field::Name) && KEYS.iter().any(|k| h.has(*k))
        })
        .map(|(_, x)| x);
    let (msheet, mheader) = &found[members_at];
    let key_field =
        KEYS.into_iter()
            .find(|k| mheader.has(*k))
            .ok_or_else(|| RegistryError::MissingColumn {
                column: "ID DTKS, IDBDT or No KK".into(),
                sheet: msheet.name.clone(),
            })?;
    let mut p = Parser {
        opts,
        key_field,
        parsed: Parsed::default(),
        households: Vec::new(),
        by_key: HashMap::new(),
        niks: HashMap::new(),
    };
    p.parsed.unrecognised = mheader.unrecognised(&opts.mapping);
    match household_sheet {
        Some((hsheet, hheader)) => {
            if !hheader.has(key_field) {
                return Err(RegistryError::MissingColumn {
                    column: key_field.label().into(),
                    sheet: hsheet.name.clone(),
                });
            }
            require(hheader, &hsheet.name, Field::Rw)?;
            p.parsed
                .unrecognised
                .extend(hheader.unrecognised(&opts.mapping));
            p.household_rows(hsheet, hheader);
            p.member_rows(msheet, mheader, false);
        }
        None => {
            require(mheader, &msheet.name, Field::Rw)?;
            p.member_rows(msheet, mheader, true);
        }
    }
    let mut parsed = p.parsed;
    if !parsed.unrecognised.is_empty() {
        parsed.unread_needed = NEEDED.into_iter().filter(|f| !mheader.has(*f)).collect();
    }
    parsed.key_field = Some(key_field);
    parsed.households = p
        .households
        .into_iter()
        .filter(|h| !h.members.is_empty())
        .collect();
    parsed.members = parsed.households.iter().map(|h| h.members.len()).sum();
    Ok(parsed)
}

fn require(h: &Header, sheet: &str, f: Field) -> Result<(), RegistryError> {
    if h.has(f) {
        Ok(())
    } else {
        Err(RegistryError::MissingColumn {
            column: f.label().into(),
            sheet: sheet.into(),
        })
    }
}

struct Parser<'a> {
    opts: &'a ImportOptions,
    key_field: Field,
    parsed: Parsed,
    households: Vec<RegistryHousehold>,
    /// household key → (index, 1-based row that defined it)
    by_key: HashMap<String, (usize, usize)>,
    /// NIK → (household key, row)
    niks: HashMap<String, (String, usize)>,
}

struct Row<'r> {
    header: &'r Header,
    cells: &'r [Cell],
}

impl Row<'_> {
    fn cell(&self, f: Field) -> &Cell {
        self.header
            .column(f)
            .and_then(|i| self.cells.get(i))
            .unwrap_or(&Cell::Empty)
    }
    fn text(&self, f: Field) -> Option<String> {
        self.cell(f).text()
    }
}

impl Parser<'_> {
    fn reject(
        &mut self,
        sheet: &Sheet,
        header: &Header,
        row: usize,
        key: Option<&str>,
        reason: Reason,
    ) {
        if !self.parsed.headers.iter().any(|(n, _)| *n == sheet.name) {
            self.parsed
                .headers
                .push((sheet.name.clone(), header.names.clone()));
        }
        if let Some(k) = key {
            self.parsed.uncertain.insert(k.to_string());
        }
        self.parsed.rejected.push(RejectedRow {
            sheet: sheet.name.clone(),
            row: row + 1,
            cells: sheet.rows[row].iter().map(Cell::original).collect(),
            reason,
        });
    }

    fn data_rows<'s>(
        sheet: &'s Sheet,
        header: &Header,
    ) -> impl Iterator<Item = (usize, &'s Vec<Cell>)> {
        sheet
            .rows
            .iter()
            .enumerate()
            .skip(header.row + 1)
            .filter(|(_, cells)| cells.iter().any(|c| c.text().is_some()))
    }

    /// Every data row of a sheet with its household key. A row without a usable key,
    /// or one `take` refuses, is rejected with the reason.
    fn each_row(
        &mut self,
        sheet: &Sheet,
        header: &Header,
        mut take: impl FnMut(&mut Self, &Row<'_>, &str, usize) -> Result<(), Reason>,
    ) {
        for (i, cells) in Self::data_rows(sheet, header) {
            self.parsed.rows += 1;
            let row = Row { header, cells };
            let taken = household_key(&row, self.key_field)
                .map_err(|reason| (None, reason))
                .and_then(|key| take(self, &row, &key, i + 1).map_err(|r| (Some(key), r)));
            if let Err((key, reason)) = taken {
                self.reject(sheet, header, i, key.as_deref(), reason);
            }
        }
    }

    /// A two-sheet file's household rows.
    fn household_rows(&mut self, sheet: &Sheet, header: &Header) {
        self.each_row(sheet, header, |p, row, key, line| {
            if let Some((_, first)) = p.by_key.get(key) {
                return Err(Reason::HouseholdTwice { first_row: *first });
            }
            let h = p.household_fields(row, key)?;
            p.by_key.insert(key.to_string(), (p.households.len(), line));
            p.households.push(h);
            Ok(())
        });
    }

    /// Member rows; in a one-sheet file the first row of a household also gives its
    /// household fields.
    fn member_rows(&mut self, sheet: &Sheet, header: &Header, one_sheet: bool) {
        self.each_row(sheet, header, |p, row, key, line| {
            p.member_row(row, key, line, one_sheet)
        });
    }

    fn member_row(
        &mut self,
        row: &Row<'_>,
        key: &str,
        line: usize,
        one_sheet: bool,
    ) -> Result<(), Reason> {
        let index = match self.by_key.get(key) {
            Some((index, first)) => {
                if one_sheet {
                    // Household fields must agree with the household's first row.
                    let h = self.household_fields(row, key)?;
                    let known = &self.households[*index].identity;
                    if (h.identity.rw, h.identity.rt) != (known.rw, known.rt) {
                        return Err(Reason::AreaDiffers {
                            first_row: *first,
                            first: (known.rt, known.rw),
                            this: (h.identity.rt, h.identity.rw),
                        });
                    }
                }
                *index
            }
            None if one_sheet => {
                let h = self.household_fields(row, key)?;
                self.by_key
                    .insert(key.to_string(), (self.households.len(), line));
                self.households.push(h);
                self.households.len() - 1
            }
            None => return Err(Reason::NotOnHouseholdSheet),
        };
        let m = member_fields(row, self.opts)?;
        let hh = &self.households[index];
        if let Some(nik) = &m.nik {
            if let Some((other, at)) = self.niks.get(nik) {
                return Err(if other == key {
                    Reason::NikTwiceInHousehold { row: *at }
                } else {
                    Reason::NikInOtherHousehold { row: *at }
                });
            }
        }
        if hh.members.iter().any(|x| x.key == m.key) {
            return Err(Reason::MemberTwice);
        }
        if let Some(nik) = &m.nik {
            self.niks.insert(nik.clone(), (key.to_string(), line));
        }
        let hh = &mut self.households[index];
        if m.relation == "head" {
            // The head's row gives the household's KK when the file groups by ID.
            if let (None, Some(kk)) = (&hh.identity.kk, row.text(Field::Kk)) {
                hh.identity.kk = Some(kk_text(row.cell(Field::Kk), &kk)?);
            }
        }
        hh.members.push(m);
        Ok(())
    }

    fn household_fields(&self, row: &Row<'_>, key: &str) -> Result<RegistryHousehold, Reason> {
        let o = self.opts;
        if let Some(code) = row.text(Field::RegionCode) {
            let digits: String = code.chars().filter(char::is_ascii_digit).collect();
            let ours = |c: &str| c.chars().filter(char::is_ascii_digit).collect::<String>();
            let matches = digits == ours(&o.kelurahan)
                || o.kelurahan_bps
                    .as_deref()
                    .is_some_and(|b| digits == ours(b));
            if !matches {
                return Err(Reason::OtherRegion {
                    code: Shown::new(&code),
                    kelurahan: o.kelurahan.clone(),
                    bps: o.kelurahan_bps.clone(),
                });
            }
        }
        let rw = area_number(row.cell(Field::Rw), Field::Rw)?.ok_or(Reason::Empty(Field::Rw))?;
        let rt = area_number(row.cell(Field::Rt), Field::Rt)?.unwrap_or(0);
        let kk = match row.text(Field::Kk) {
            Some(k) => Some(kk_text(row.cell(Field::Kk), &k)?),
            None => None,
        };
        let desil = match row.text(Field::Desil) {
            None => None,
            Some(d) => match d.parse::<u8>() {
                Ok(n @ 1..=10) => Some(n),
                _ => return Err(Reason::NotDesil(Shown::new(&d))),
            },
        };
        let flag = |f: Field| yes_no(row.cell(f), f);
        let registry = Registry {
            desil,
            pkh: flag(Field::Pkh)?,
            bpnt: flag(Field::Bpnt)?,
            pbi_jk: flag(Field::Pbi)?,
            kip: flag(Field::Kip)?,
        };
        let text_id = |f: Field| -> Result<Option<String>, Reason> {
            match row.cell(f) {
                Cell::Number(n) if *n >= 1e15 => Err(Reason::StoredAsNumber(f)),
                c => Ok(c.text()),
            }
        };
        let identity = Identity {
            id_dtks: text_id(Field::IdDtks)?,
            idbdt: text_id(Field::Idbdt)?,
            kk: kk.or_else(|| (self.key_field == Field::Kk).then(|| key.to_string())),
            address: row.text(Field::Address),
            kelurahan: o.kelurahan.clone(),
            kelurahan_bps: o.kelurahan_bps.clone(),
            rw,
            rt,
        };
        Ok(RegistryHousehold {
            key_field: self.key_field,
            key: key.to_string(),
            stored_as: None,
            identity,
            registry,
            members: Vec::new(),
        })
    }
}

fn household_key(row: &Row<'_>, f: Field) -> Result<String, Reason> {
    match row.cell(f) {
        Cell::Number(n) if f == Field::Kk || *n >= 1e15 => Err(Reason::StoredAsNumber(f)),
        c => match c.text() {
            Some(k) if f == Field::Kk => kk_text(c, &k),
            Some(k) => Ok(k),
            None => Err(Reason::NoHousehold(f)),
        },
    }
}

fn kk_text(cell: &Cell, text: &str) -> Result<String, Reason> {
    if matches!(cell, Cell::Number(_)) {
        return Err(Reason::StoredAsNumber(Field::Kk));
    }
    Kk::parse(text.trim_start_matches('\''))
        .map(String::from)
        .map_err(|e| Reason::BadNumber(Field::Kk, e))
}

fn member_fields(row: &Row<'_>, opts: &ImportOptions) -> Result<RegistryMember, Reason> {
    let name = row.text(Field::Name).ok_or(Reason::Empty(Field::Name))?;
    let nik = match row.cell(Field::Nik) {
        Cell::Number(_) => return Err(Reason::StoredAsNumber(Field::Nik)),
        c => match c.text() {
            None => None,
            Some(t) => Nik::parse_optional(t.trim_start_matches('\''))
                .map_err(|e| Reason::BadNumber(Field::Nik, e))?
                .map(String::from),
        },
    };
    let sex = match row.text(Field::Sex) {
        None => None,
        Some(s) => Some(sex_code(&s).ok_or_else(|| Reason::NotSex(Shown::new(&s)))?),
    };
    let birth_date = birth_date(row.cell(Field::BirthDate), &opts.today)?;
    let relation = relation_code(row.text(Field::Relation).as_deref());
    let key = match (row.text(Field::IdArt), &nik) {
        (Some(id), _) => format!("art:{id}"),
        (None, Some(n)) => format!("nik:{n}"),
        (None, None) => format!(
            "name:{}|{}",
            super::columns::normalise(&name),
            birth_date.as_deref().unwrap_or("")
        ),
    };
    Ok(RegistryMember {
        key,
        nik,
        name,
        sex,
        birth_date,
        relation: relation.into(),
    })
}

fn sex_code(s: &str) -> Option<Sex> {
    match super::columns::normalise(s).as_str() {
        "l" | "lk" | "lakilaki" | "laki" | "pria" | "1" => Some(Sex::L),
        "p" | "pr" | "perempuan" | "wanita" | "2" => Some(Sex::P),
        _ => None,
    }
}

fn relation_code(s: Option<&str>) -> &'static str {
    let Some(s) = s else { return "other" };
    let n = super::columns::normalise(s);
    let n = n.trim_start_matches(|c: char| c.is_ascii_digit());
    let code = s.trim().chars().next().filter(char::is_ascii_digit);
    match (n, code) {
        ("kepalarumahtangga" | "kepalakeluarga" | "krt" | "kepala", _) | ("", Some('1')) => "head",
        ("istrisuami" | "istri" | "suami" | "suamiistri" | "pasangan", _) | ("", Some('2')) => {
            "spouse"
        }
        ("anak" | "anakkandung", _) | ("", Some('3')) => "child",
        _ => "other",
    }
}

/// RT or RW: digits only (`003` is 3).
fn area_number(c: &Cell, what: Field) -> Result<Option<u16>, Reason> {
    let Some(t) = c.text() else { return Ok(None) };
    match t.parse::<u16>() {
        Ok(n @ 1..=999) => Ok(Some(n)),
        _ => Err(Reason::NotArea(what, Shown::new(&t))),
    }
}

fn yes_no(c: &Cell, what: Field) -> Result<bool, Reason> {
    let Some(t) = c.text() else { return Ok(false) };
    match super::columns::normalise(&t).as_str() {
        "ya" | "y" | "1" | "true" | "v" | "penerima" | "yes" => Ok(true),
        "tidak" | "t" | "0" | "false" | "bukan" | "no" | "" => Ok(false),
        _ => Err(Reason::NotYesNo(what, Shown::new(&t))),
    }
}

/// A real date not after today, from a date cell or text as `YYYY-MM-DD`,
/// `DD-MM-YYYY` or `DD/MM/YYYY`.
fn birth_date(c: &Cell, today: &str) -> Result<Option<String>, Reason> {
    let (y, m, d) = match c {
        Cell::Empty => return Ok(None),
        Cell::Date(y, m, d) => (*y, u32::from(*m), u32::from(*d)),
        Cell::Number(_) => return Err(Reason::BirthDateIsNumber),
        other => {
            let Some(t) = other.text() else {
                return Ok(None);
            };
            let parts: Vec<&str> = t.split(['-', '/', '.']).collect();
            let nums: Option<Vec<u32>> = parts.iter().map(|p| p.trim().parse().ok()).collect();
            match (parts.as_slice(), nums.as_deref()) {
                ([a, _, _], Some([y, m, d])) if a.len() == 4 => (*y as i32, *m, *d),
                ([_, _, c], Some([d, m, y])) if c.len() == 4 => (*y as i32, *m, *d),
                _ => return Err(Reason::NotDate(Shown::new(&t))),
            }
        }
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok());
    let real =
        d <= 31 && month.is_some_and(|mo| time::Date::from_calendar_date(y, mo, d as u8).is_ok());
    if !real {
        return Err(Reason::NotRealDate(format!("{d:02}-{m:02}-{y:04}")));
    }
    let iso = format!("{y:04}-{m:02}-{d:02}");
    if y < 1900 {
        return Err(Reason::Before1900(iso));
    }
    if iso.as_str() > today {
        return Err(Reason::Future(iso));
    }
    Ok(Some(iso))
}
