//! NIK (national identity number) and KK (family card number): parsed once at the
//! edge, so every `Nik` and `Kk` in the program is well-formed.
//!
//! Both are 16 digits: `PPKKCC DDMMYY SSSS` — the region where the number was first
//! issued (not the current address), a date, and a serial that is never `0000`. A NIK's
//! day carries +40 for women. There is no check digit, so only format and date can be
//! validated; a sex or birth date that disagrees with the record is a warning, not an
//! error, because registry records are often the wrong side of the disagreement.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// Why a string is not a NIK or KK. The message never repeats the number itself:
/// error text travels into logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("must be exactly 16 digits (got {0} characters)")]
    Length(usize),
    #[error("must contain digits only")]
    NotDigits,
    #[error("looks like a spreadsheet number in scientific notation; the last digits are lost")]
    ScientificNotation,
    #[error("region code is not a valid province/regency code")]
    Region,
    #[error("date part is not a real date")]
    Date,
    #[error("serial number must not be 0000")]
    Serial,
}

impl IdNumberError {
    /// The message in Indonesian or English (the `Display` form is English).
    pub fn text(&self, lang: crate::words::Lang) -> String {
        match (self, lang) {
            (e, crate::words::Lang::En) => e.to_string(),
            (IdNumberError::Length(n), _) => {
                format!("harus tepat 16 angka (tertulis {n} karakter)")
            }
            (IdNumberError::NotDigits, _) => "hanya boleh berisi angka".into(),
            (IdNumberError::ScientificNotation, _) => {
                "tampak seperti angka spreadsheet dalam notasi ilmiah; angka terakhirnya hilang"
                    .into()
            }
            (IdNumberError::Region, _) => {
                "kode wilayahnya bukan kode provinsi/kabupaten yang sah".into()
            }
            (IdNumberError::Date, _) => "bagian tanggalnya bukan tanggal yang sah".into(),
            (IdNumberError::Serial, _) => "nomor urutnya tidak boleh 0000".into(),
        }
    }
}

/// Placeholder numbers offices use when a person has no NIK yet. They are accepted as
/// "no NIK" rather than as a number; see [`Nik::parse_optional`].
const PLACEHOLDERS: &[&str] = &["0000000000000000", "9999999999999999", "1111111111111111"];

fn digits16(raw: &str) -> Result<[u8; 16], IdNumberError> {
    let s = raw.trim();
    if s.contains(['e', 'E']) && s.contains('+') {
        return Err(IdNumberError::ScientificNotation);
    }
    if s.chars().count() != 16 {
        return Err(IdNumberError::Length(s.chars().count()));
    }
    let mut out = [0u8; 16];
    for (i, c) in s.chars().enumerate() {
        out[i] = c.to_digit(10).ok_or(IdNumberError::NotDigits)? as u8;
    }
    Ok(out)
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |acc, x| acc * 10 + u32::from(*x))
}

fn check_region(d: &[u8; 16]) -> Result<(), IdNumberError> {
    // Province codes run 11..=96; regency/city codes are never 00.
    let province = num(&d[0..2]);
    if !(11..=96).contains(&province) || num(&d[2..4]) == 0 {
        return Err(IdNumberError::Region);
    }
    Ok(())
}

fn check_serial(d: &[u8; 16]) -> Result<(), IdNumberError> {
    if num(&d[12..16]) == 0 {
        return Err(IdNumberError::Serial);
    }
    Ok(())
}

/// Two-digit years are read as the most recent year not after `2000 + current yy`.
fn full_year(yy: u32) -> i32 {
    let yy = yy as i32;
    if yy <= 30 {
        2000 + yy
    } else {
        1900 + yy
    }
}

/// Sex as recorded on a KTP: `L` (laki-laki) or `P` (perempuan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    L,
    P,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::L => "L",
            Sex::P => "P",
        }
    }
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim().to_ascii_uppercase().as_str() {
            "L" | "LK" | "LAKI-LAKI" | "LAKI LAKI" | "M" | "1" => Some(Sex::L),
            "P" | "PR" | "PEREMPUAN" | "F" | "2" => Some(Sex::P),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nik(String);

impl Nik {
    pub fn parse(raw: &str) -> Result<Nik, IdNumberError> {
        let d = digits16(raw)?;
        check_region(&d)?;
        let day = num(&d[6..8]);
        let day = if day > 40 { day - 40 } else { day };
        let month = num(&d[8..10]);
        let year = full_year(num(&d[10..12]));
        let month = Month::try_from(month as u8).map_err(|_| IdNumberError::Date)?;
        Date::from_calendar_date(year, month, day as u8).map_err(|_| IdNumberError::Date)?;
        check_serial(&d)?;
        Ok(Nik(raw.trim().to_string()))
    }

    /// `None` for an empty cell or a known "no NIK yet" placeholder.
    pub fn parse_optional(raw: &str) -> Result<Option<Nik>, IdNumberError> {
        let s = raw.trim();
        if s.is_empty() || PLACEHOLDERS.contains(&s) {
            return Ok(None);
        }
        Nik::parse(s).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn sex(&self) -> Sex {
        let b = self.0.as_bytes();
        if (b[6] - b'0') >= 4 {
            Sex::P
        } else {
            Sex::L
        }
    }

    /// Day and month of birth encoded in the NIK; the year is ambiguous by a century.
    pub fn birth_day_month(&self) -> (u8, u8) {
        let d = self.0.as_bytes();
        let day = (d[6] - b'0') * 10 + (d[7] - b'0');
        let day = if day > 40 { day - 40 } else { day };
        (day, (d[8] - b'0') * 10 + (d[9] - b'0'))
    }

    /// Disagreements between this NIK and the record it sits on. Warnings only.
    pub fn warnings(&self, sex: Option<Sex>, birth_date: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(sex) = sex {
            if sex != self.sex() {
                out.push("NIK encodes a different sex than the record".to_string());
            }
        }
        if let Some(bd) = birth_date {
            let parts: Vec<&str> = bd.split('-').collect();
            if parts.len() == 3 {
                let (day, month) = self.birth_day_month();
                let yy = parts[0].get(2..4).unwrap_or("");
                let nik_yy = self.0.get(10..12).unwrap_or("");
                if parts[2].parse::<u8>().ok() != Some(day)
                    || parts[1].parse::<u8>().ok() != Some(month)
                    || yy != nik_yy
                {
                    out.push("NIK encodes a different birth date than the record".to_string());
                }
            }
        }
        out
    }
}

impl TryFrom<String> for Nik {
    type Error = IdNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Nik::parse(&s)
    }
}
impl From<Nik> for String {
    fn from(n: Nik) -> String {
        n.0
    }
}
/// Debug never prints the number: it is personal data under UU 27/2022.
impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nik(****)")
    }
}

/// Family card (Kartu Keluarga) number: region + issue date (DDMMYY) + serial.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kk(String);

impl Kk {
    pub fn parse(raw: &str) -> Result<Kk, IdNumberError> {
        let d = digits16(raw)?;
        check_region(&d)?;
        let month = Month::try_from(num(&d[8..10]) as u8).map_err(|_| IdNumberError::Date)?;
        Date::from_calendar_date(full_year(num(&d[10..12])), month, num(&d[6..8]) as u8)
            .map_err(|_| IdNumberError::Date)?;
        check_serial(&d)?;
        Ok(Kk(raw.trim().to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Kk {
    type Error = IdNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Kk::parse(&s)
    }
}
impl From<Kk> for String {
    fn from(n: Kk) -> String {
        n.0
    }
}
impl fmt::Debug for Kk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kk(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_nik_for_a_woman_has_day_plus_40() {
        let nik = Nik::parse("3573015506900002").expect("day 55 = 15th, woman");
        assert_eq!(nik.sex(), Sex::P);
        assert_eq!(nik.birth_day_month(), (15, 6));
        assert!(nik.warnings(Some(Sex::P), Some("1990-06-15")).is_empty());
    }

    #[test]
    fn mismatching_sex_and_birth_date_are_warnings_not_errors() {
        let nik = Nik::parse("3573011506900002").expect("valid");
        let w = nik.warnings(Some(Sex::P), Some("1990-06-16"));
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn impossible_values_are_errors() {
        assert_eq!(
            Nik::parse("357301150690000"),
            Err(IdNumberError::Length(15))
        );
        assert_eq!(
            Nik::parse("35730115069000x2"),
            Err(IdNumberError::NotDigits)
        );
        assert_eq!(
            Nik::parse("3.57301E+15"),
            Err(IdNumberError::ScientificNotation)
        );
        assert_eq!(
            Nik::parse("3573013206900002"),
            Err(IdNumberError::Date),
            "day 32"
        );
        assert_eq!(
            Nik::parse("3573017206900002"),
            Err(IdNumberError::Date),
            "day 72 = 32"
        );
        assert_eq!(
            Nik::parse("3573012902010002"),
            Err(IdNumberError::Date),
            "29 Feb 2001"
        );
        assert_eq!(Nik::parse("3573011506900000"), Err(IdNumberError::Serial));
        assert_eq!(Nik::parse("0073011506900001"), Err(IdNumberError::Region));
        assert!(Nik::parse("3573012902000002").is_ok(), "29 Feb 2000 exists");
    }

    #[test]
    fn placeholders_mean_no_nik() {
        assert_eq!(Nik::parse_optional("0000000000000000"), Ok(None));
        assert_eq!(Nik::parse_optional("  "), Ok(None));
    }

    #[test]
    fn kk_checks_date_and_serial() {
        assert!(Kk::parse("3573010101150003").is_ok());
        assert_eq!(Kk::parse("3573014101150003"), Err(IdNumberError::Date));
        assert_eq!(Kk::parse("3573010101150000"), Err(IdNumberError::Serial));
    }

    #[test]
    fn debug_never_shows_the_number() {
        let nik = Nik::parse("3573011506900002").expect("valid");
        assert!(!format!("{nik:?}").contains("3573"));
    }
}
