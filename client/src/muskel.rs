//! Proposals and the Muskel on the device: proposals derived from the households this
//! device holds, their status from the Muskel sessions as the server last sent them
//! (kept in the encrypted store, so the list works offline), and the session
//! operations, which go to the server (it keeps the sessions and checks who may).

use std::path::Path;

use jemput_core::muskel::{self, NewSession, Outcome, Proposal, ProposalKind, Session};

use crate::home::{Device, DeviceError};
use crate::SyncClient;

/// Where the sessions the server last sent are kept (the store's `kv`).
const SESSIONS_KEY: &str = "muskel_sessions";

impl Device {
    /// Every proposal the households of this device stand for, with its status.
    pub fn proposals(&self) -> Result<Vec<Proposal>, DeviceError> {
        let kelurahan = self.office_kelurahan(|c| c.dashboard, "the proposals list", false)?;
        let bases = self.with_store(|s| s.proposal_bases(&kelurahan))?;
        let all = bases.iter().flat_map(muskel::proposals_of).collect();
        Ok(muskel::with_status(all, &self.muskel_known()?))
    }

    /// The kelurahan's deadlines (as of the last login or renewal; the defaults before).
    pub fn deadlines(&self) -> jemput_core::muskel::Deadlines {
        self.config()
            .ok()
            .flatten()
            .and_then(|c| c.deadlines)
            .unwrap_or_default()
    }

    /// The sessions as the server last sent them.
    pub fn muskel_known(&self) -> Result<Vec<Session>, DeviceError> {
        let text = self.with_store(|s| s.kv_get(SESSIONS_KEY))?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    fn keep_sessions(&self, sessions: &[Session]) -> Result<(), DeviceError> {
        let text = serde_json::to_string(sessions)
            .map_err(|e| DeviceError::Invalid(format!("sessions: {e}")))?;
        self.with_store(|s| s.kv_set(SESSIONS_KEY, &text))
    }

    fn keep_session(&self, session: &Session) -> Result<(), DeviceError> {
        let mut all = self.muskel_known()?;
        match all.iter_mut().find(|s| s.id == session.id) {
            Some(s) => *s = session.clone(),
            None => all.push(session.clone()),
        }
        self.keep_sessions(&all)
    }

    /// The kelurahan's sessions from the server (kept for offline reading).
    pub async fn muskel_refresh(&self, client: &SyncClient) -> Result<Vec<Session>, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let sessions: Vec<Session> = client.office_call(&cfg, "/v1/muskel", None).await?;
        self.keep_sessions(&sessions)?;
        Ok(sessions)
    }

    pub async fn muskel_new(
        &self,
        client: &SyncClient,
        new: &NewSession,
    ) -> Result<Session, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let body = serde_json::to_value(new).map_err(|e| DeviceError::Invalid(e.to_string()))?;
        let s: Session = client.office_call(&cfg, "/v1/muskel", Some(body)).await?;
        self.keep_session(&s)?;
        Ok(s)
    }

    /// Decides the household's proposal of `kind` in `session`.
    pub async fn muskel_decide(
        &self,
        client: &SyncClient,
        session: &str,
        household: &str,
        kind: ProposalKind,
        outcome: Outcome,
        reason: &str,
    ) -> Result<Session, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let body = serde_json::json!({
            "household": household, "kind": kind.code(), "outcome": outcome, "reason": reason,
        });
        let path = format!("/v1/muskel/{}/decide", crate::http::path_id(session)?);
        let s: Session = client.office_call(&cfg, &path, Some(body)).await?;
        self.keep_session(&s)?;
        Ok(s)
    }

    pub async fn muskel_close(
        &self,
        client: &SyncClient,
        session: &str,
    ) -> Result<Session, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let path = format!("/v1/muskel/{}/close", crate::http::path_id(session)?);
        let s: Session = client
            .office_call(&cfg, &path, Some(serde_json::json!({})))
            .await?;
        self.keep_session(&s)?;
        Ok(s)
    }

    fn known_session(&self, id: &str) -> Result<Session, DeviceError> {
        self.muskel_known()?
            .into_iter()
            .find(|s| s.id == id || s.number == id)
            .ok_or_else(|| {
                DeviceError::Invalid(format!(
                    "no Muskel session `{id}` on this device (sync the list first)"
                ))
            })
    }

    /// Writes the session's minutes (berita acara) as a PDF.
    pub fn muskel_minutes(&self, session: &str, out: &Path) -> Result<Session, DeviceError> {
        let s = self.known_session(session)?;
        muskel::write_minutes(&s, &s.kelurahan, out).map_err(|e| DeviceError::Invalid(e.0))?;
        Ok(s)
    }

    /// Writes the session's approved proposals as the SIKS-NG input list (XLSX);
    /// returns how many.
    pub fn muskel_siks(&self, session: &str, out: &Path) -> Result<usize, DeviceError> {
        let s = self.known_session(session)?;
        let bps = self.config()?.and_then(|c| c.bps);
        muskel::write_siks(&s, bps.as_deref(), out).map_err(|e| DeviceError::Invalid(e.0))
    }
}
