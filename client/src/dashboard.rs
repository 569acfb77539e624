//! The dashboard on the device: the kelurahan's round from this device's own replica
//! (it works offline), for the office and the fasilitator.

use jemput_core::dashboard::{Dashboard, Period, PeriodKind};

use crate::home::{Device, DeviceError};

impl Device {
    /// The round the kelurahan is in today (its month or quarter, in its zone).
    pub fn current_period(&self) -> Period {
        let zone = self.zone();
        let kind = self.period_kind();
        Period::containing(&self.today(), kind, zone).unwrap_or_else(|_| Period {
            start: self.today(),
            end: self.today(),
            zone,
        })
    }

    /// The kelurahan's round (a server setting, as of the last login or renewal).
    pub fn period_kind(&self) -> PeriodKind {
        self.config()
            .ok()
            .flatten()
            .and_then(|c| c.period)
            .unwrap_or_default()
    }

    /// The dashboard of `period` (`2026-11`, `2026-Q4`, `2026-11-01..2026-11-15`;
    /// default: the current round) over the households this device holds.
    pub fn dashboard(&self, period: Option<&str>) -> Result<Dashboard, DeviceError> {
        let kelurahan = self.office_kelurahan(|c| c.dashboard, "the dashboard", false)?;
        let period = match period {
            Some(p) => Period::parse(p, self.zone()).map_err(DeviceError::Invalid)?,
            None => self.current_period(),
        };
        let mut d = self.with_store(|s| s.dashboard(&kelurahan, &period))?;
        for (rw, (open, overdue)) in self.open_cases_by_rw()? {
            d.total.open_complaints += open;
            d.total.overdue_complaints += overdue;
            if let Some(f) = d.rws.iter_mut().find(|f| f.rw == Some(rw)) {
                f.open_complaints += open;
                f.overdue_complaints += overdue;
            }
        }
        Ok(d)
    }
}
