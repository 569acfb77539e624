//! Complaints and referrals on the device: received offline too (kept in the store's
//! outbox under an id this device made, sent at the next contact), the cases of the
//! user's areas as the server last sent them (for the lists and the dashboard, offline),
//! and the office's steps, which go to the server.

use jemput_core::cases::{Case, CaseStatus, NewCase};

use crate::home::{Device, DeviceError};
use crate::SyncClient;

const KEPT: &str = "cases";
const OUTBOX: &str = "cases_outbox";

/// What became of a case received on this device.
#[derive(Debug)]
pub enum Received {
    /// The server took it.
    Sent(Case),
    /// No server reachable: kept here, sent at the next sync.
    Queued(NewCase),
}

impl Device {
    fn kv_list<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Vec<T>, DeviceError> {
        let text = self.with_store(|s| s.kv_get(key))?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    fn kv_put_list<T: serde::Serialize>(&self, key: &str, list: &[T]) -> Result<(), DeviceError> {
        let text = serde_json::to_string(list).map_err(|e| DeviceError::Invalid(e.to_string()))?;
        self.with_store(|s| s.kv_set(key, &text))
    }

    /// The cases as the server last sent them.
    pub fn cases_known(&self) -> Result<Vec<Case>, DeviceError> {
        self.kv_list(KEPT)
    }

    /// Cases received here that the server does not hold yet.
    pub fn cases_unsent(&self) -> Result<Vec<NewCase>, DeviceError> {
        self.kv_list(OUTBOX)
    }

    fn keep_case(&self, c: &Case) -> Result<(), DeviceError> {
        let mut all = self.cases_known()?;
        match all.iter_mut().find(|k| k.id == c.id) {
            Some(k) => *k = c.clone(),
            None => all.push(c.clone()),
        }
        self.kv_put_list(KEPT, &all)
    }

    /// Receives a case: sent now when the server answers, else kept for the next sync.
    pub async fn case_add(
        &self,
        client: &SyncClient,
        mut new: NewCase,
    ) -> Result<Received, DeviceError> {
        self.logged_in()?;
        if new.id.is_empty() {
            new.id = jemput_core::household::random_id("cs-", &mut rand::thread_rng());
        }
        if new.received_ms == 0 {
            new.received_ms = self.work_clock()?.0;
        }
        match self.case_send(client, &new).await {
            Ok(c) => Ok(Received::Sent(c)),
            Err(DeviceError::Offline(_)) => {
                let mut queued = self.cases_unsent()?;
                queued.push(new.clone());
                self.kv_put_list(OUTBOX, &queued)?;
                Ok(Received::Queued(new))
            }
            Err(e) => Err(e),
        }
    }

    async fn case_send(&self, client: &SyncClient, new: &NewCase) -> Result<Case, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let body = serde_json::to_value(new).map_err(|e| DeviceError::Invalid(e.to_string()))?;
        let c: Case = client.office_call(&cfg, "/v1/cases", Some(body)).await?;
        self.keep_case(&c)?;
        Ok(c)
    }

    /// Sends the cases received offline; those the server refuses stay, with the
    /// reason returned. Returns (sent, refusals).
    pub async fn cases_flush(
        &self,
        client: &SyncClient,
    ) -> Result<(usize, Vec<String>), DeviceError> {
        let queued = self.cases_unsent()?;
        let (mut sent, mut left, mut refusals) = (0, Vec::new(), Vec::new());
        for new in queued {
            match self.case_send(client, &new).await {
                Ok(_) => sent += 1,
                Err(e @ DeviceError::Offline(_)) => {
                    left.push(new);
                    refusals.push(e.to_string());
                }
                Err(e) => {
                    refusals.push(format!("case {}: {e}", new.id));
                    left.push(new);
                }
            }
        }
        self.kv_put_list(OUTBOX, &left)?;
        Ok((sent, refusals))
    }

    /// The cases of the user's areas from the server (kept for offline reading).
    pub async fn cases_refresh(&self, client: &SyncClient) -> Result<Vec<Case>, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let cases: Vec<Case> = client.office_call(&cfg, "/v1/cases", None).await?;
        self.kv_put_list(KEPT, &cases)?;
        Ok(cases)
    }

    /// A step of a case: `{"action": "assign", "kader"}`, `{"action": "visit",
    /// "visit"}` or `{"action": "close", "outcome", "note"}`.
    pub async fn case_update(
        &self,
        client: &SyncClient,
        id: &str,
        action: serde_json::Value,
    ) -> Result<Case, DeviceError> {
        let (cfg, _) = self.logged_in()?;
        let path = format!("/v1/cases/{}", crate::http::path_id(id)?);
        let c: Case = client.office_call(&cfg, &path, Some(action)).await?;
        self.keep_case(&c)?;
        Ok(c)
    }

    /// Open and overdue cases per RW, as kept (for the dashboard).
    pub fn open_cases_by_rw(
        &self,
    ) -> Result<std::collections::BTreeMap<u16, (u32, u32)>, DeviceError> {
        let today = self.today();
        let mut by = std::collections::BTreeMap::new();
        for c in self.cases_known()? {
            if c.status == CaseStatus::Closed {
                continue;
            }
            let e: &mut (u32, u32) = by.entry(c.rw).or_default();
            e.0 += 1;
            e.1 += u32::from(c.overdue(&today));
        }
        Ok(by)
    }
}
