//! Complaints (usul: a resident proposes themselves; sanggah: an objection to a
//! recipient) and referrals (to a puskesmas, a school, Dinas Sosial), tracked to
//! closure. A case is received by a kader or the office (offline too: the device keeps
//! it until the server takes it, under an id the device made, so a resend is the same
//! case), is due a number of days after it was received, may be assigned to a kader
//! for a verification visit (then linked), and is closed with an outcome and a note.
//! The server keeps cases and scopes them like their household (or their RW).

use serde::{Deserialize, Serialize};

/// What the case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Category {
    /// A resident asks to be registered ("usul").
    Usul,
    /// An objection to a household's place in the registry ("sanggah").
    Sanggah,
    /// A referral to a service, followed up until done.
    Rujukan,
    Lain,
}

impl Category {
    pub fn parse(s: &str) -> Option<Category> {
        match s {
            "usul" => Some(Category::Usul),
            "sanggah" => Some(Category::Sanggah),
            "rujukan" | "referral" => Some(Category::Rujukan),
            "lain" | "other" => Some(Category::Lain),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum CaseStatus {
    Open,
    /// A kader is to visit (a complaint) or the service is contacted (a referral).
    Assigned,
    Closed,
}

/// A case as received (by the device that took it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct NewCase {
    /// Made by the receiving device (`cs-…`): sent again, it is the same case.
    pub id: String,
    pub category: Category,
    /// The household it is about, when known.
    #[serde(default)]
    #[ts(optional)]
    pub household: Option<String>,
    /// The RW it concerns when no household is linked (a resident not registered).
    #[serde(default)]
    #[ts(optional)]
    pub rw: Option<u16>,
    /// Who complains; `None`: anonymous.
    #[serde(default)]
    #[ts(optional)]
    pub complainant: Option<String>,
    pub text: String,
    /// A referral's service: `puskesmas`, `sekolah`, `dinsos`, or free text.
    #[serde(default)]
    #[ts(optional)]
    pub service: Option<String>,
    /// When it was received (the device's corrected clock, ms).
    #[ts(type = "number")]
    pub received_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CaseEvent {
    #[ts(type = "number")]
    pub at_ms: i64,
    pub by: String,
    /// `received`, `assigned kader1`, `visit v-…`, `closed`.
    pub what: String,
}

/// A case as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Case {
    pub id: String,
    pub kelurahan: String,
    pub rw: u16,
    pub category: Category,
    #[ts(optional)]
    pub household: Option<String>,
    #[ts(optional)]
    pub complainant: Option<String>,
    pub text: String,
    #[ts(optional)]
    pub service: Option<String>,
    #[ts(type = "number")]
    pub received_ms: i64,
    pub received_by: String,
    /// The last day to settle it (`YYYY-MM-DD` in the kelurahan's zone).
    pub due: String,
    pub status: CaseStatus,
    #[ts(optional)]
    pub assigned: Option<String>,
    /// The verification visit, once the assigned kader made it.
    #[ts(optional)]
    pub visit: Option<String>,
    #[ts(optional)]
    pub outcome: Option<String>,
    #[ts(optional)]
    pub note: Option<String>,
    pub trail: Vec<CaseEvent>,
}

/// A refusal a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CaseError(pub String);

fn bad(s: impl Into<String>) -> CaseError {
    CaseError(s.into())
}

/// How long a case may stay open unless the kelurahan sets otherwise.
pub const DEFAULT_DUE_DAYS: u16 = 30;

fn text(s: &str, what: &str, max: usize) -> Result<String, CaseError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(bad(format!("{what} is empty")));
    }
    if s.chars().count() > max {
        return Err(bad(format!("{what} is longer than {max} characters")));
    }
    Ok(s.to_string())
}

impl Case {
    /// The case `new` received by `by` in `kelurahan`, RW `rw`, due `due_days` after
    /// the day it was received (in `zone`). The device says when it was received: a
    /// time after `now_ms` + 24 h, or more than a year before it, is refused (it would
    /// move the due date).
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        new: NewCase,
        kelurahan: &str,
        rw: u16,
        by: &str,
        due_days: u16,
        zone: crate::zone::Zone,
        now_ms: i64,
    ) -> Result<Case, CaseError> {
        const DAY_MS: i64 = 86_400_000;
        if new.received_ms > now_ms + DAY_MS || new.received_ms < now_ms - 365 * DAY_MS {
            return Err(bad(
                "the time the case was received is not plausible: set the phone's date and time",
            ));
        }
        if !new.id.starts_with("cs-")
            || new.id.len() > 40
            || !new
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(bad(format!("`{}` is not a case id", new.id)));
        }
        let complainant = match new.complainant.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => Some(text(c, "the complainant's name", 120)?),
            _ => None,
        };
        let service = match (new.category, new.service.as_deref()) {
            (Category::Rujukan, Some(s)) => Some(text(s, "the service", 120)?),
            (Category::Rujukan, None) => return Err(bad("a referral names its service")),
            _ => None,
        };
        let received = zone.date_of(new.received_ms);
        let due = crate::household::parse_date(&received)
            .map_err(|e| bad(e.to_string()))?
            .checked_add(time::Duration::days(i64::from(due_days)))
            .ok_or_else(|| bad("the due date is out of range"))?
            .to_string();
        Ok(Case {
            id: new.id,
            kelurahan: kelurahan.to_string(),
            rw,
            category: new.category,
            household: new.household,
            complainant,
            text: text(&new.text, "the complaint's text", 2000)?,
            service,
            received_ms: new.received_ms,
            received_by: by.to_string(),
            due,
            status: CaseStatus::Open,
            assigned: None,
            visit: None,
            outcome: None,
            note: None,
            trail: vec![CaseEvent {
                at_ms: new.received_ms,
                by: by.to_string(),
                what: "received".into(),
            }],
        })
    }

    fn open(&self) -> Result<(), CaseError> {
        if self.status == CaseStatus::Closed {
            Err(bad("the case is closed"))
        } else {
            Ok(())
        }
    }

    pub fn assign(&mut self, kader: &str, by: &str, now_ms: i64) -> Result<(), CaseError> {
        self.open()?;
        self.assigned = Some(kader.to_string());
        self.status = CaseStatus::Assigned;
        self.trail.push(CaseEvent {
            at_ms: now_ms,
            by: by.to_string(),
            what: format!("assigned {kader}"),
        });
        Ok(())
    }

    /// Links the verification visit (`visit` of the case's household).
    pub fn link_visit(&mut self, visit: &str, by: &str, now_ms: i64) -> Result<(), CaseError> {
        self.open()?;
        self.visit = Some(visit.to_string());
        self.trail.push(CaseEvent {
            at_ms: now_ms,
            by: by.to_string(),
            what: format!("visit {visit}"),
        });
        Ok(())
    }

    pub fn close(
        &mut self,
        outcome: &str,
        note: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), CaseError> {
        self.open()?;
        self.outcome = Some(text(outcome, "the outcome", 200)?);
        self.note = Some(text(note, "the closing note", 2000)?);
        self.status = CaseStatus::Closed;
        self.trail.push(CaseEvent {
            at_ms: now_ms,
            by: by.to_string(),
            what: "closed".into(),
        });
        Ok(())
    }

    /// Open past its due date on `today` (`YYYY-MM-DD`).
    pub fn overdue(&self, today: &str) -> bool {
        self.status != CaseStatus::Closed && today > self.due.as_str()
    }

    /// Days left until the due date (negative when overdue); `None` once closed.
    pub fn days_left(&self, today: &str) -> Option<i64> {
        if self.status == CaseStatus::Closed {
            return None;
        }
        let (t, d) = (
            crate::household::parse_date(today).ok()?,
            crate::household::parse_date(&self.due).ok()?,
        );
        Some((d - t).whole_days())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::zone::Zone;

    /// The server's clock in these tests: a day after the case came.
    const NOW: i64 = 1_796_043_600_000 + 86_400_000;

    fn new(category: Category) -> NewCase {
        NewCase {
            id: "cs-abc123".into(),
            category,
            household: Some("h-1".into()),
            rw: None,
            complainant: None,
            text: "Tetangga mampu tetapi menerima PKH".into(),
            service: None,
            // 30 November 2026, 20:00 WIB: the day received is the 30th.
            received_ms: 1_796_043_600_000,
        }
    }

    #[test]
    fn a_case_is_due_thirty_days_after_the_day_it_came_and_closes_once() {
        let mut c = Case::receive(
            new(Category::Sanggah),
            "35.73.01.1007",
            2,
            "kader1",
            30,
            Zone::Wib,
            NOW,
        )
        .unwrap();
        assert_eq!(c.due, "2026-12-30");
        assert_eq!(c.days_left("2026-12-08"), Some(22));
        assert!(!c.overdue("2026-12-30") && c.overdue("2026-12-31"));
        assert!(c.complainant.is_none(), "anonymous");
        c.assign("kader1", "ops", 1).unwrap();
        c.link_visit("v-1", "kader1", 2).unwrap();
        assert!(c.close("  ", "x", "ops", 3).is_err(), "an outcome");
        c.close(
            "Tidak layak, dikeluarkan",
            "Hasil kunjungan: mampu",
            "ops",
            3,
        )
        .unwrap();
        assert!(!c.overdue("2027-02-01"));
        assert!(c.assign("kader2", "ops", 4).is_err(), "closed");
        let what: Vec<&str> = c.trail.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(what, ["received", "assigned kader1", "visit v-1", "closed"]);
    }

    #[test]
    fn bad_cases_are_refused() {
        let mut n = new(Category::Rujukan);
        assert!(
            Case::receive(n.clone(), "k", 1, "u", 30, Zone::Wib, NOW).is_err(),
            "no service"
        );
        n.service = Some("puskesmas".into());
        assert!(Case::receive(n.clone(), "k", 1, "u", 30, Zone::Wib, NOW).is_ok());
        n.id = "../etc".into();
        assert!(Case::receive(n.clone(), "k", 1, "u", 30, Zone::Wib, NOW).is_err());
        let mut e = new(Category::Usul);
        e.text = " ".into();
        assert!(Case::receive(e, "k", 1, "u", 30, Zone::Wib, NOW).is_err());
        for when in [0, NOW + 2 * 86_400_000, i64::MAX] {
            let mut t = new(Category::Usul);
            t.received_ms = when;
            assert!(
                Case::receive(t, "k", 1, "u", 30, Zone::Wib, NOW).is_err(),
                "{when}"
            );
        }
    }
}
