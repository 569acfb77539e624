//! The operator's registry import on the device: the file is read and checked, shown
//! as a preview (columns recognised, rows rejected), then imported into the local
//! store in one transaction, with progress and cancel, and synced up like any other
//! office work. The column mapping the operator adjusts is kept on the device.

use std::path::Path;

use automerge::ActorId;
use jemput_core::household::Author;
use jemput_core::registry::{
    self, guard, Counts, Coverage, Field, ImportContext, ImportOptions, Mapping, Parsed,
    RegistryError, Stop,
};
use jemput_core::store::{write_household, StoreError};
use jemput_core::words::Lang;
use jemput_core::IndicatorSet;
use serde::Serialize;

use crate::home::{Device, DeviceError};

const MAPPING_KEY: &str = "registry.mapping";

/// One column of the file as Jemput reads it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct PreviewColumn {
    pub name: String,
    pub field: Option<Field>,
}

/// What importing the file would do, before anything is written.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ImportPreview {
    pub kelurahan: String,
    pub columns: Vec<PreviewColumn>,
    pub rows: u32,
    pub households: u32,
    pub members: u32,
    pub rejected: u32,
    /// The first rejected rows, with the reason in both languages.
    pub examples: Vec<RejectExample>,
    pub unrecognised: Vec<String>,
    /// What the import would do (built, not written); all zero when it would stop
    /// before building.
    pub counts: Counts,
    /// How much of the stored registry the file holds.
    pub coverage: Coverage,
    /// Why the import would stop; `confirm_missing` asks the operator for the number.
    pub stop: Option<Stop>,
}

/// A rejected row as the preview shows it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct RejectExample {
    pub row: u32,
    /// The reason in Indonesian.
    pub alasan: String,
    /// The reason in English.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ImportReport {
    pub kelurahan: String,
    pub counts: Counts,
    pub coverage: Coverage,
    pub rows: u32,
    pub households: u32,
    pub members: u32,
    pub rejected: u32,
    /// `<input>.rejected.csv`, when rows were rejected.
    pub rejected_file: Option<String>,
    /// `<input>.rejected.xlsx`, beside it.
    pub rejected_xlsx: Option<String>,
}

/// In `JEMPUT_LANG` (default Indonesian, as the app's default).
impl From<RegistryError> for DeviceError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Cancelled => DeviceError::Cancelled,
            other => DeviceError::Invalid(other.text(Lang::from_env())),
        }
    }
}

impl Device {
    pub fn registry_mapping(&self) -> Result<Mapping, DeviceError> {
        let raw = self.with_store(|s| s.kv_get(MAPPING_KEY))?;
        Ok(raw
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default())
    }

    /// Saves the operator's column names: `HEADER=FIELD` (a field code or `ignore`).
    pub fn save_registry_mapping(&self, pairs: &[String]) -> Result<Mapping, DeviceError> {
        let mut m = self.registry_mapping()?;
        for pair in pairs {
            m.set_pair(pair).map_err(DeviceError::Invalid)?;
        }
        let json = serde_json::to_string(&m).map_err(|e| DeviceError::Invalid(e.to_string()))?;
        self.with_store(|s| s.kv_set(MAPPING_KEY, &json))?;
        Ok(m)
    }

    /// The one kelurahan this office user works in, from the areas the server has sent
    /// (the device must have synced once, so households already on the server are
    /// updated rather than created twice). `whole`: only an assignment of the whole
    /// kelurahan counts, as an import needs.
    pub(crate) fn office_kelurahan(
        &self,
        allowed: fn(jemput_core::rules::Capabilities) -> bool,
        what: &str,
        whole: bool,
    ) -> Result<String, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        if !allowed(cfg.role.capabilities()) {
            return Err(DeviceError::Forbidden(format!("{what} is office work")));
        }
        let mut kel: Vec<String> = self
            .with_store(|s| s.cursors())?
            .into_iter()
            .map(|(area, _)| area)
            .filter(|a| !whole || !a.contains('/'))
            .map(|a| a.split('/').next().unwrap_or_default().to_string())
            .collect();
        kel.dedup();
        match kel.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(DeviceError::Invalid(
                "sync once first: the device does not know your kelurahan yet".into(),
            )),
            _ => Err(DeviceError::Invalid(format!(
                "you hold several kelurahan ({}); use the server's command line",
                kel.join(", ")
            ))),
        }
    }

    fn import_kelurahan(&self) -> Result<String, DeviceError> {
        self.office_kelurahan(|c| c.registry, "the registry import", true)
    }

    fn import_options(&self, kelurahan: &str, partial: bool) -> Result<ImportOptions, DeviceError> {
        // Rows may carry the BPS code of the kelurahan: the server says it at login (once
        // set), else the stored households know it.
        let kelurahan_bps = match self.config()?.and_then(|c| c.bps) {
            Some(said) => Some(said),
            None => match self.with_store(|s| s.first_household_id())? {
                Some(id) => {
                    let bytes = self.with_store(|s| s.get_doc(&id))?;
                    jemput_core::Household::load(&bytes)
                        .ok()
                        .and_then(|h| h.kelurahan_bps())
                }
                None => None,
            },
        };
        Ok(ImportOptions {
            kelurahan: kelurahan.to_string(),
            kelurahan_bps,
            partial,
            mapping: self.registry_mapping()?,
            today: self.today(),
        })
    }

    pub fn registry_preview(
        &self,
        path: &Path,
        partial: bool,
        set: &IndicatorSet,
    ) -> Result<ImportPreview, DeviceError> {
        let kelurahan = self.import_kelurahan()?;
        let opts = self.import_options(&kelurahan, partial)?;
        let sheets = registry::read::read_file(path)?;
        let columns = sheets
            .iter()
            .find_map(|s| registry::columns::find_header(&s.rows, &opts.mapping))
            .map(|h| {
                h.names
                    .iter()
                    .zip(&h.fields)
                    .map(|(n, f)| PreviewColumn {
                        name: n.clone(),
                        field: *f,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let parsed = registry::parse_sheets(&sheets, &opts)?;
        let mut preview = ImportPreview {
            kelurahan: kelurahan.clone(),
            columns,
            rows: parsed.rows as u32,
            households: parsed.households.len() as u32,
            members: parsed.members as u32,
            rejected: parsed.rejected.len() as u32,
            examples: parsed
                .rejected
                .iter()
                .take(20)
                .map(|r| RejectExample {
                    row: r.row as u32,
                    alasan: r.reason.text(Lang::Id),
                    reason: r.reason.text(Lang::En),
                })
                .collect(),
            unrecognised: parsed.unrecognised.clone(),
            counts: Counts::default(),
            coverage: Coverage::default(),
            stop: None,
        };
        // Built in full and rolled back: the counts are what the import will do.
        let dry = Run {
            partial,
            confirm_missing: None,
            dry_run: true,
        };
        let (counts, coverage, stop) =
            self.import_parsed(parsed, &kelurahan, &dry, set, &mut |_, _| true)?;
        (preview.counts, preview.coverage, preview.stop) = (counts, coverage, stop);
        Ok(preview)
    }

    /// Builds the import of `parsed` in one transaction of the local store and commits
    /// it unless a whole-file check stops it ([`guard`]) or `how` is a dry run. A stop
    /// is returned with what the import would have done, not as an error.
    fn import_parsed(
        &self,
        mut parsed: Parsed,
        kelurahan: &str,
        how: &Run,
        set: &IndicatorSet,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<(Counts, Coverage, Option<Stop>), DeviceError> {
        let (cfg, _) = self.logged_in()?;
        // A new actor for each import: the import writes on a fork of older state.
        let author = Author {
            actor: ActorId::random(),
            user: cfg.user.clone(),
        };
        let now_ms = self.work_clock()?.0;
        let ctx = ImportContext {
            kelurahan,
            author: &author,
            now_ms,
        };
        let mut store = self
            .store
            .lock()
            .map_err(|_| DeviceError::Invalid("local store lock poisoned".into()))?;
        let tx = store.transaction()?;
        let existing = registry::stored_ids(&tx, kelurahan).map_err(StoreError::from)?;
        registry::match_stored(&tx, &mut parsed, kelurahan, &existing).map_err(StoreError::from)?;
        let coverage = Coverage::of(&parsed, kelurahan, &existing);
        if let Err(stop) = guard::before_import(&parsed, &coverage, how.partial) {
            return Ok((Counts::default(), coverage, Some(stop)));
        }
        let work = registry::plan(parsed, kelurahan, &existing, how.partial);
        let mut load = registry::load_stored(&tx, &existing);
        let finish = |b: registry::Built| Ok(b.household);
        let mut sink = |mut hh: jemput_core::Household| -> Result<(), String> {
            write_household(&tx, &mut hh, set).map_err(|e| e.to_string())?;
            tx.execute(
                "UPDATE households SET pending = 1 WHERE id = ?1",
                [hh.id().unwrap_or_default()],
            )
            .map_err(|e| e.to_string())?;
            Ok(())
        };
        let counts = registry::run(work, &ctx, &mut load, &finish, &mut sink, progress)?;
        drop(load);
        if let Err(stop) = guard::before_commit(&counts, coverage.stored, how.confirm_missing) {
            return Ok((counts, coverage, Some(stop)));
        }
        if !how.dry_run {
            tx.commit().map_err(jemput_core::store::StoreError::from)?;
        }
        Ok((counts, coverage, None))
    }

    /// Imports the file into the local store: all of it or, when it fails, a
    /// whole-file check stops it or `progress` cancels, nothing. The rejected rows are
    /// written beside the file. `confirm_missing`: the number of households the
    /// operator confirmed may be marked missing (see [`guard`]).
    pub fn import_registry(
        &self,
        path: &Path,
        partial: bool,
        confirm_missing: Option<u32>,
        set: &IndicatorSet,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<ImportReport, DeviceError> {
        let kelurahan = self.import_kelurahan()?;
        let opts = self.import_options(&kelurahan, partial)?;
        let parsed = registry::parse_file(path, &opts)?;
        let rejected_files = registry::write_rejected(path, &parsed)?;
        let (rows, members, rejected, households) = (
            parsed.rows as u32,
            parsed.members as u32,
            parsed.rejected.len() as u32,
            parsed.households.len() as u32,
        );
        let how = Run {
            partial,
            confirm_missing,
            dry_run: false,
        };
        let (counts, coverage, stop) =
            self.import_parsed(parsed, &kelurahan, &how, set, progress)?;
        if let Some(stop) = stop {
            return Err(stop.into());
        }
        Ok(ImportReport {
            kelurahan,
            counts,
            coverage,
            rows,
            households,
            members,
            rejected,
            rejected_file: rejected_files.as_ref().map(|f| f.csv.display().to_string()),
            rejected_xlsx: rejected_files
                .as_ref()
                .map(|f| f.xlsx.display().to_string()),
        })
    }
}

/// How a device import runs (see [`Device::import_parsed`]).
struct Run {
    partial: bool,
    confirm_missing: Option<u32>,
    dry_run: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ExportDone {
    pub kelurahan: String,
    pub households: u32,
    pub files: Vec<String>,
    /// Households of this device with work the server does not hold yet when the
    /// export ran: the export (made from the server's rows) does not have it.
    pub unsent: u32,
}

impl Device {
    /// Writes the periodic update at `cutoff` (by arrival at the server) to `out`
    /// (`.xlsx`, or `.csv` plus `.summary.csv`). "Visited this period" counts visits
    /// from `since` (default: the first day of the cut-off's month).
    pub async fn export_update(
        &self,
        client: &crate::SyncClient,
        cutoff: &str,
        since: Option<&str>,
        out: &Path,
    ) -> Result<ExportDone, DeviceError> {
        let kelurahan = self.office_kelurahan(|c| c.export, "the periodic export", false)?;
        let (cfg, _) = self.logged_in()?;
        // Checked here first (a clear error before any request); the server's reading of
        // the cut-off, in the kelurahan's zone as it stands now, is the one the rows,
        // the period and the summary follow.
        crate::home::parse_when(cutoff, self.zone())?;
        let answer = client.export_rows(&cfg, &kelurahan, cutoff).await?;
        let (cutoff_ms, zone, rows) = (answer.cutoff_ms, answer.zone, answer.rows);
        let period = registry::export::period(cutoff_ms, since, answer.period, zone)
            .map_err(DeviceError::Invalid)?;
        let summary = registry::export::summarise(&rows, &period);
        let about = registry::export::About {
            cutoff_ms,
            last_arrival_ms: answer.last_arrival_ms,
            period,
        };
        let files = registry::export::write(out, &rows, &summary, &about)?;
        Ok(ExportDone {
            kelurahan,
            households: rows.len() as u32,
            files: files.iter().map(|f| f.display().to_string()).collect(),
            unsent: self.outbox()?.waiting,
        })
    }
}
