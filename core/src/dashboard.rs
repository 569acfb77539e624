//! The Puskesos round at a glance: per RW, per RT and per kader, how far the period's
//! verification is. One projection of a household ([`Standing`]) and one tally feed
//! both the device's dashboard (from the store's query columns and visit index, never
//! a document) and the export's summary (from the server's export rows), so the two
//! agree at the same cut-off.
//!
//! The round is a [`Period`]: a calendar month or quarter in the kelurahan's zone
//! ([`PeriodKind`], a per-kelurahan server setting), or any span of days asked for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::zone::Zone;

/// How long a kelurahan's verification round is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PeriodKind {
    #[default]
    Month,
    Quarter,
}

impl PeriodKind {
    pub fn parse(s: &str) -> Result<PeriodKind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "month" | "bulan" => Ok(PeriodKind::Month),
            "quarter" | "triwulan" => Ok(PeriodKind::Quarter),
            _ => Err(format!("`{s}` is not a period: use month or quarter")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
        }
    }
}

/// A span of days, both ends included, as `YYYY-MM-DD` in `zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Period {
    pub start: String,
    pub end: String,
    pub zone: Zone,
}

fn date(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

impl Period {
    /// The month or quarter holding `day` (`YYYY-MM-DD`).
    pub fn containing(day: &str, kind: PeriodKind, zone: Zone) -> Result<Period, String> {
        let d = date(day)?;
        let first_month = match kind {
            PeriodKind::Month => d.month() as u8,
            PeriodKind::Quarter => (d.month() as u8 - 1) / 3 * 3 + 1,
        };
        let months = match kind {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
        };
        Ok(Self::months(d.year(), first_month, months, zone))
    }

    fn months(year: i32, first: u8, count: u8, zone: Zone) -> Period {
        let last = first + count - 1;
        let days = time::Month::try_from(last).map_or(31, |m| m.length(year));
        Period {
            start: format!("{year:04}-{first:02}-01"),
            end: format!("{year:04}-{last:02}-{days:02}"),
            zone,
        }
    }

    /// What a person types: `2026-11` (a month), `2026-Q4` (a quarter) or
    /// `2026-11-01..2026-11-15` (any days).
    pub fn parse(s: &str, zone: Zone) -> Result<Period, String> {
        let s = s.trim();
        let bad =
            || format!("`{s}` is not a period: write 2026-11, 2026-Q4 or 2026-11-01..2026-11-15");
        if let Some((a, b)) = s.split_once("..") {
            let (from, to) = (date(a.trim())?, date(b.trim())?);
            if from > to {
                return Err(format!("the period `{s}` ends before it starts"));
            }
            return Ok(Period {
                start: from.to_string(),
                end: to.to_string(),
                zone,
            });
        }
        let (y, rest) = s.split_once('-').ok_or_else(bad)?;
        let year: i32 = y
            .parse()
            .ok()
            .filter(|y| (1900..=9999).contains(y))
            .ok_or_else(bad)?;
        if let Some(q) = rest.strip_prefix('Q').or_else(|| rest.strip_prefix('q')) {
            let q: u8 = q
                .parse()
                .ok()
                .filter(|q| (1..=4).contains(q))
                .ok_or_else(bad)?;
            return Ok(Self::months(year, (q - 1) * 3 + 1, 3, zone));
        }
        let m: u8 = rest
            .parse()
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(bad)?;
        Ok(Self::months(year, m, 1, zone))
    }

    pub fn holds(&self, day: &str) -> bool {
        day >= self.start.as_str() && day <= self.end.as_str()
    }
}

/// A visit's result, as the figures count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitFact {
    pub date: String,
    pub result: String,
    /// A found visit scored poor.
    pub poor: bool,
    /// A found visit with some criterion "tidak tahu".
    pub incomplete: bool,
}

/// What the figures need of one household as of a period's end: the same for a
/// device's store row and a server's export row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub rw: u16,
    pub rt: u16,
    /// Decided a duplicate of another household, or last visited as one: not counted.
    pub duplicate: bool,
    /// A household proposed from the field, not decided yet.
    pub proposal: bool,
    pub open_conflicts: bool,
    /// The last visit dated by the period's end.
    pub last: Option<VisitFact>,
    /// The last `found` visit dated by the period's end: its date, and whether poor.
    pub last_found: Option<(String, bool)>,
}

/// One line of the dashboard: the whole kelurahan, an RW or an RT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Figures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rw: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rt: Option<u16>,
    /// Households not marked duplicate (proposals included).
    pub households: u32,
    /// Households with a visit dated in the period.
    pub visited: u32,
    /// By the household's last visit in the period.
    pub found: u32,
    pub not_found: u32,
    pub moved: u32,
    pub died: u32,
    pub refused: u32,
    /// Households whose last `found` visit in the period is poor by score.
    pub poor: u32,
    /// Households whose last visit in the period was found with criteria "tidak tahu".
    pub incomplete: u32,
    pub open_conflicts: u32,
    pub pending_proposals: u32,
    /// Complaints and referrals not closed, and of those past their due date (the
    /// device's kept cases; the export does not count them).
    #[serde(default)]
    pub open_complaints: u32,
    #[serde(default)]
    pub overdue_complaints: u32,
}

impl Figures {
    fn add(&mut self, s: &Standing, period: &Period) {
        self.households += 1;
        if let Some(v) = s.last.as_ref().filter(|v| period.holds(&v.date)) {
            self.visited += 1;
            match v.result.as_str() {
                "found" => self.found += 1,
                "not_found" => self.not_found += 1,
                "moved" => self.moved += 1,
                "died" => self.died += 1,
                "refused" => self.refused += 1,
                _ => {}
            }
            self.incomplete += u32::from(v.result == "found" && v.incomplete);
        }
        self.poor += u32::from(
            s.last_found
                .as_ref()
                .is_some_and(|(d, poor)| *poor && period.holds(d)),
        );
        self.open_conflicts += u32::from(s.open_conflicts);
        self.pending_proposals += u32::from(s.proposal);
    }

    /// Visited as a share of households, 0–100 (rounded down).
    pub fn percent_visited(&self) -> u32 {
        (self.visited * 100)
            .checked_div(self.households)
            .unwrap_or(0)
    }
}

/// The whole kelurahan, then one line per RW and one per (RW, RT), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub total: Figures,
    pub rws: Vec<Figures>,
    pub rts: Vec<Figures>,
}

/// Counts `standings` for `period`. Households marked duplicate are left out.
pub fn tally(standings: impl IntoIterator<Item = Standing>, period: &Period) -> Tally {
    let mut total = Figures::default();
    let mut rws: BTreeMap<u16, Figures> = BTreeMap::new();
    let mut rts: BTreeMap<(u16, u16), Figures> = BTreeMap::new();
    for s in standings.into_iter().filter(|s| !s.duplicate) {
        total.add(&s, period);
        rws.entry(s.rw)
            .or_insert_with(|| Figures {
                rw: Some(s.rw),
                ..Figures::default()
            })
            .add(&s, period);
        rts.entry((s.rw, s.rt))
            .or_insert_with(|| Figures {
                rw: Some(s.rw),
                rt: Some(s.rt),
                ..Figures::default()
            })
            .add(&s, period);
    }
    Tally {
        total,
        rws: rws.into_values().collect(),
        rts: rts.into_values().collect(),
    }
}

/// Folds a household's visits (any order) into its standing's `last` and `last_found`
/// as of `end`: the latest by date, then by visit id, like the household's own view.
pub fn fold_visits<'a>(
    visits: impl IntoIterator<Item = (&'a str, &'a VisitFact)>,
    end: &str,
) -> (Option<VisitFact>, Option<(String, bool)>) {
    let mut last: Option<(&str, &VisitFact)> = None;
    let mut found: Option<(&str, &VisitFact)> = None;
    let later = |a: &Option<(&str, &VisitFact)>, id: &str, v: &VisitFact| {
        a.is_none_or(|(aid, av)| (av.date.as_str(), aid) < (v.date.as_str(), id))
    };
    for (id, v) in visits {
        if v.date.as_str() > end {
            continue;
        }
        if later(&last, id, v) {
            last = Some((id, v));
        }
        if v.result == "found" && later(&found, id, v) {
            found = Some((id, v));
        }
    }
    (
        last.map(|(_, v)| v.clone()),
        found.map(|(_, v)| (v.date.clone(), v.poor)),
    )
}

/// One kader's work in the period: visits they recorded (by the visit's `kader`) and
/// the households those were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct KaderFigures {
    pub user: String,
    pub visits: u32,
    pub households: u32,
    /// The date of their last visit in the period.
    #[ts(optional)]
    pub last_visit: Option<String>,
}

/// Visits dated in one week (Monday to Sunday) of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct WeekFigures {
    /// The Monday starting the week (`YYYY-MM-DD`), which may fall before the period.
    pub week: String,
    pub visits: u32,
}

/// The Monday of the week holding `day`.
pub fn week_of(day: &str) -> Option<String> {
    let d = date(day).ok()?;
    let back = d.weekday().number_days_from_monday();
    Some((d - time::Duration::days(i64::from(back))).to_string())
}

/// Every week touching the period, each with the visits dated in it.
pub fn weeks<'a>(period: &Period, dates: impl IntoIterator<Item = &'a str>) -> Vec<WeekFigures> {
    let mut by: BTreeMap<String, u32> = BTreeMap::new();
    if let (Ok(mut d), Ok(end)) = (date(&period.start), date(&period.end)) {
        while d <= end {
            by.entry(week_of(&d.to_string()).unwrap_or_default())
                .or_default();
            d += time::Duration::days(7);
        }
        by.entry(week_of(&period.end).unwrap_or_default())
            .or_default();
    }
    for day in dates.into_iter().filter(|d| period.holds(d)) {
        if let Some(w) = week_of(day) {
            *by.entry(w).or_default() += 1;
        }
    }
    by.into_iter()
        .map(|(week, visits)| WeekFigures { week, visits })
        .collect()
}

/// The dashboard, as `jemput dashboard --json` prints it and the app draws it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Dashboard {
    pub period: Period,
    pub total: Figures,
    pub rws: Vec<Figures>,
    pub rts: Vec<Figures>,
    pub kaders: Vec<KaderFigures>,
    pub weeks: Vec<WeekFigures>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn visit(date: &str, result: &str, poor: bool) -> VisitFact {
        VisitFact {
            date: date.into(),
            result: result.into(),
            poor,
            incomplete: false,
        }
    }

    #[test]
    fn periods_are_months_quarters_or_spans() {
        let p = Period::parse("2026-02", Zone::Wib).unwrap();
        assert_eq!(
            (p.start.as_str(), p.end.as_str()),
            ("2026-02-01", "2026-02-28")
        );
        let p = Period::parse("2024-Q1", Zone::Wita).unwrap();
        assert_eq!(
            (p.start.as_str(), p.end.as_str()),
            ("2024-01-01", "2024-03-31")
        );
        let p = Period::containing("2026-11-29", PeriodKind::Quarter, Zone::Wib).unwrap();
        assert_eq!(
            (p.start.as_str(), p.end.as_str()),
            ("2026-10-01", "2026-12-31")
        );
        let p = Period::parse("2026-11-03..2026-11-09", Zone::Wib).unwrap();
        assert!(p.holds("2026-11-09") && !p.holds("2026-11-10"));
        for bad in [
            "2026-13",
            "2026-Q5",
            "November",
            "2026-11-09..2026-11-03",
            "",
        ] {
            assert!(Period::parse(bad, Zone::Wib).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_last_visit_in_the_period_decides_and_duplicates_are_left_out() {
        let period = Period::parse("2026-11", Zone::Wib).unwrap();
        let october_found = visit("2026-10-20", "found", true);
        let november_refused = visit("2026-11-05", "refused", false);
        let december = visit("2026-12-01", "moved", false);
        let (last, found) = fold_visits(
            [
                ("v-a", &october_found),
                ("v-b", &november_refused),
                ("v-c", &december),
            ],
            &period.end,
        );
        assert_eq!(
            last.as_ref(),
            Some(&november_refused),
            "December is after the period"
        );
        assert_eq!(found, Some(("2026-10-20".into(), true)));
        let standings = [
            Standing {
                rw: 1,
                rt: 2,
                last,
                last_found: found,
                ..Standing::default()
            },
            Standing {
                rw: 1,
                rt: 2,
                last: Some(visit("2026-11-10", "found", true)),
                last_found: Some(("2026-11-10".into(), true)),
                proposal: true,
                ..Standing::default()
            },
            Standing {
                rw: 2,
                rt: 1,
                duplicate: true,
                last: Some(visit("2026-11-10", "found", true)),
                ..Standing::default()
            },
        ];
        let t = tally(standings, &period);
        assert_eq!(t.total.households, 2);
        assert_eq!(
            (
                t.total.visited,
                t.total.refused,
                t.total.found,
                t.total.poor
            ),
            (2, 1, 1, 1),
            "October's poor visit is not this period's"
        );
        assert_eq!(t.total.pending_proposals, 1);
        assert_eq!(t.rws.len(), 1, "the duplicate's RW has no line");
        assert_eq!(t.rts[0].rt, Some(2));
        assert_eq!(t.total.percent_visited(), 100);
    }

    #[test]
    fn weeks_cover_the_period_from_monday() {
        let p = Period::parse("2026-11", Zone::Wib).unwrap();
        let w = weeks(&p, ["2026-11-01", "2026-11-02", "2026-11-30", "2026-12-01"]);
        // 1 November 2026 is a Sunday: its week starts on 26 October.
        assert_eq!(w.first().unwrap().week, "2026-10-26");
        assert_eq!(w.first().unwrap().visits, 1);
        assert_eq!(w[1].visits, 1);
        assert_eq!(w.last().unwrap().week, "2026-11-30");
        assert_eq!(w.last().unwrap().visits, 1, "December is outside");
        assert_eq!(w.len(), 6);
    }
}
