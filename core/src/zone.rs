//! The kelurahan's time zone, one of Indonesia's three. The dates people see and type
//! — a visit's date, "this month", an export's cut-off — are calendar days in it, never
//! in UTC: `--cutoff 2026-10-31` ends at 23:59:59.999 WIB, not at 06:59 WIB the next day.
//! Each kelurahan's zone is a setting on the server (`jemput-sync-server kelurahan set CODE
//! --zone WITA`), WIB unless set.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "UPPERCASE")]
#[ts(export)]
pub enum Zone {
    /// Western Indonesia Time, UTC+7 (Sumatra, Java, West and Central Kalimantan).
    #[default]
    Wib,
    /// Central Indonesia Time, UTC+8 (Bali, Nusa Tenggara, Sulawesi, …).
    Wita,
    /// Eastern Indonesia Time, UTC+9 (Maluku, Papua).
    Wit,
}

impl Zone {
    pub const ALL: [Zone; 3] = [Zone::Wib, Zone::Wita, Zone::Wit];

    pub fn offset_hours(self) -> i8 {
        match self {
            Zone::Wib => 7,
            Zone::Wita => 8,
            Zone::Wit => 9,
        }
    }

    fn offset(self) -> time::UtcOffset {
        time::UtcOffset::from_hms(self.offset_hours(), 0, 0).unwrap_or(time::UtcOffset::UTC)
    }

    /// `WIB`, `WITA`, `WIT`.
    pub fn name(self) -> &'static str {
        match self {
            Zone::Wib => "WIB",
            Zone::Wita => "WITA",
            Zone::Wit => "WIT",
        }
    }

    /// `WIB (UTC+07:00)`, for exports and summaries.
    pub fn describe(self) -> String {
        format!("{} (UTC+{:02}:00)", self.name(), self.offset_hours())
    }

    /// `WIB`/`WITA`/`WIT` (any case) or the IANA name of each (`Asia/Jakarta`,
    /// `Asia/Makassar`, `Asia/Jayapura`).
    pub fn parse(s: &str) -> Result<Zone, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wib" | "asia/jakarta" | "asia/pontianak" => Ok(Zone::Wib),
            "wita" | "asia/makassar" => Ok(Zone::Wita),
            "wit" | "asia/jayapura" => Ok(Zone::Wit),
            _ => Err(format!(
                "`{s}` is not an Indonesian time zone: use WIB, WITA or WIT"
            )),
        }
    }

    /// The calendar date (`YYYY-MM-DD`) of an instant in this zone.
    pub fn date_of(self, ms: i64) -> String {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .to_offset(self.offset())
            .date()
            .to_string()
    }

    /// An instant given as a date (`YYYY-MM-DD`: the end of that day in this zone) or
    /// an RFC 3339 time (taken as written), in milliseconds since the epoch.
    pub fn parse_when(self, s: &str) -> Result<i64, String> {
        use time::format_description::well_known::Rfc3339;
        let invalid = || format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time");
        if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
            return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
        }
        let end = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| invalid())?
            .with_hms_milli(23, 59, 59, 999)
            .map_err(|_| invalid())?
            .assume_offset(self.offset());
        Ok((end.unix_timestamp_nanos() / 1_000_000) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-10-31 23:30 WIB is 16:30 UTC; 00:30 WIB on 1 November is 17:30 UTC.
    const AT_2330_WIB: i64 = 1_793_464_200_000;
    const AT_0030_WIB: i64 = AT_2330_WIB + 3_600_000;

    #[test]
    fn a_days_cut_off_ends_at_midnight_in_the_zone() {
        let cut = Zone::Wib.parse_when("2026-10-31").expect("date");
        assert!(AT_2330_WIB <= cut, "23:30 WIB is inside the day");
        assert!(AT_0030_WIB > cut, "00:30 WIB the next day is outside");
        assert_eq!(Zone::Wib.date_of(AT_2330_WIB), "2026-10-31");
        assert_eq!(Zone::Wib.date_of(AT_0030_WIB), "2026-11-01");
        // The same instant is already 1 November in WITA.
        assert_eq!(Zone::Wita.date_of(AT_2330_WIB), "2026-11-01");
        assert_eq!(
            Zone::Wib.parse_when("2026-10-31T16:30:00Z"),
            Ok(AT_2330_WIB),
            "an RFC 3339 time is taken as written"
        );
        assert!(Zone::Wib.parse_when("31/10/2026").is_err());
    }

    #[test]
    fn zones_by_name() {
        assert_eq!(Zone::parse("wita"), Ok(Zone::Wita));
        assert_eq!(Zone::parse("Asia/Jayapura"), Ok(Zone::Wit));
        assert!(Zone::parse("UTC").is_err());
        assert_eq!(Zone::Wib.describe(), "WIB (UTC+07:00)");
    }
}
