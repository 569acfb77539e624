//! One sync cycle over HTTP: `POST /v1/sync` with the CBOR+zstd request built by the
//! core, response committed by the core. Repeats while the server says `more`.

use std::time::Duration;

use jemput_core::registry::export::ExportRow;
use jemput_core::rules::Code;
use jemput_core::sync::{self, SyncResponse};
use jemput_core::IndicatorSet;
use serde::{Deserialize, Serialize};

use crate::home::{Config, Device, DeviceError};

pub struct SyncClient {
    clients: crate::tls::Clients,
}

/// How far a running sync has come, after each round trip: the app's progress line.
#[derive(Debug, Default, Clone, Serialize, PartialEq, ts_rs::TS)]
#[ts(export)]
pub struct SyncProgress {
    /// Households received so far (whole documents and changes).
    #[ts(type = "number")]
    pub docs_pulled: u64,
    #[ts(type = "number")]
    pub docs_pushed: u64,
    #[ts(type = "number")]
    pub bytes_down: u64,
    #[ts(type = "number")]
    pub bytes_up: u64,
    pub requests: u32,
    /// The server or this device has more: another round follows.
    pub more: bool,
    /// Households still to come whole, as the server counted after the last page
    /// (known while a first sync's pages arrive).
    #[ts(type = "number | null")]
    pub remaining: Option<u64>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct SyncReport {
    pub requests: usize,
    pub changes_pushed: usize,
    pub docs_pushed: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub docs_pulled: usize,
    pub removed: usize,
    /// Changes refused for their time (the phone's clock was wrong) and recorded again.
    pub re_recorded: usize,
    /// Households this device imported first while the server already held them: the
    /// server's copy replaced this device's (`already_held`).
    pub replaced: usize,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Sync attempts it took (more than 1 after a lost connection).
    pub tries: u32,
    /// The server had been restored from a backup: this device pulled everything again
    /// and sent what the server no longer held.
    pub restarted: bool,
}

impl std::fmt::Display for SyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sync: pushed {} changes in {} households, accepted {}, rejected {}, pulled {} households, removed {}, recorded again {}, replaced by the server's copy {}; requests {}, up {} B, down {} B, tries {}",
            self.changes_pushed,
            self.docs_pushed,
            self.accepted,
            self.rejected,
            self.docs_pulled,
            self.removed,
            self.re_recorded,
            self.replaced,
            self.requests,
            self.bytes_up,
            self.bytes_down,
            self.tries.max(1)
        )?;
        if self.restarted {
            write!(
                f,
                "; the server was restored from a backup: synced again from the start"
            )?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// The login body (docs/protocol.md). The password is a secret: no `Debug`.
#[derive(Serialize)]
pub struct LoginRequest<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub device_name: &'a str,
    /// Hex of this device's Ed25519 public key.
    pub device_key: &'a str,
    /// Hex of the Automerge actors this device writes with.
    pub actors: &'a [String],
    /// Hex of the device key's signature over the login.
    pub key_proof: &'a str,
    /// This device's bundle key (`age1…`): bundles of the same areas are encrypted to it.
    pub age_recipient: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub device: String,
    pub user: String,
    pub role: jemput_core::rules::Role,
    pub server_key: String,
    pub certificate: Option<String>,
    #[serde(default)]
    pub server_ms: i64,
    #[serde(default)]
    pub lock_minutes: Option<u8>,
    #[serde(default)]
    pub zone: Option<jemput_core::zone::Zone>,
    #[serde(default)]
    pub period: Option<jemput_core::dashboard::PeriodKind>,
    #[serde(default)]
    pub deadlines: Option<jemput_core::muskel::Deadlines>,
    #[serde(default)]
    pub bps: Option<String>,
    #[serde(default)]
    pub server_recipient: Option<String>,
}

/// Safety stop for one `sync()` call: pages beyond this wait for the next cycle.
const MAX_ROUNDS: usize = 1000;
/// Changes pushed in one request (bytes before compression, which shrinks them about
/// tenfold): on a link that drops every few seconds each page must get through on its
/// own, and stays committed; on a steady 2G link round trips cost more than bytes
/// (256 KiB: about 25 KB and 1 s on the wire).
pub const PUSH_PAGE_BYTES: usize = 256 * 1024;

impl Default for SyncClient {
    fn default() -> Self {
        SyncClient::new()
    }
}

impl SyncClient {
    pub fn new() -> SyncClient {
        SyncClient {
            clients: crate::tls::Clients::new(),
        }
    }

    /// Sends; an unreachable server is `Offline`, a refusal the server's error. A busy
    /// server (`503` with `Retry-After`) is asked again after the time it names (a
    /// little more, at random, so refused devices do not all come back at once), for
    /// up to [`BUSY_PATIENCE`] in all.
    async fn send(
        mut req: reqwest::RequestBuilder,
        server: &str,
    ) -> Result<reqwest::Response, DeviceError> {
        let mut waited = Duration::ZERO;
        loop {
            let again = req.try_clone();
            let resp = req.send().await.map_err(|e| {
                DeviceError::Offline(format!(
                    "cannot reach server at {server}: {}",
                    root_cause(&e)
                ))
            })?;
            if resp.status().is_success() {
                return Ok(resp);
            }
            match (busy_wait(&resp), again) {
                (Some(wait), Some(next)) if waited + wait <= BUSY_PATIENCE => {
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    req = next;
                }
                _ => return Err(Self::error_from(resp).await),
            }
        }
    }

    async fn error_from(resp: reqwest::Response) -> DeviceError {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) if b.code == "bad_credentials" || b.code == "unauthenticated" => {
                DeviceError::Unauthorized(b.message)
            }
            Ok(b) if b.code == "revoked" => DeviceError::Revoked(b.message),
            Ok(b) if b.code == "token_expired" => DeviceError::TokenExpired,
            Ok(b) if b.code == "password_needed" || b.code == "no_area" => {
                DeviceError::Unauthorized(b.message)
            }
            Ok(b) if b.code == "forbidden" => DeviceError::Forbidden(b.message),
            Ok(b) if b.code == "bad_request" || b.code == "not_found" => {
                DeviceError::Invalid(b.message)
            }
            Ok(b) => {
                DeviceError::Server(format!("{} ({}): {}", status.as_u16(), b.code, b.message))
            }
            Err(_) => DeviceError::Server(format!("HTTP {}", status.as_u16())),
        }
    }

    /// Logs in at `server`, trusting the certificate with `pin` when given. Refused
    /// before any connection when the address is plain `http://` to another machine.
    pub async fn login(
        &self,
        server: &str,
        pin: Option<&str>,
        body: &LoginRequest<'_>,
    ) -> Result<LoginResponse, DeviceError> {
        let http = self.clients.for_server(server, pin)?;
        let url = format!("{}/v1/login", server.trim_end_matches('/'));
        let body = serde_json::to_string(body)
            .map_err(|e| DeviceError::Invalid(format!("login request: {e}")))?;
        let req = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        let resp = Self::send(req, server).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| DeviceError::Offline(root_cause(&e)))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| DeviceError::Server(format!("bad login response: {e}")))
    }

    /// Like [`SyncClient::sync`], retrying after a lost connection or a server error
    /// until `deadline`, waiting 1 s, 2 s, 4 s … (at most 30 s, ±50% jitter) between
    /// tries. A cycle cut anywhere is safe to repeat: changes are keyed by hash and
    /// cursors move only after a page is committed.
    pub async fn sync_until(
        &self,
        device: &Device,
        set: &IndicatorSet,
        deadline: std::time::Instant,
    ) -> Result<SyncReport, DeviceError> {
        let mut wait = Duration::from_secs(1);
        let mut tries = 0u32;
        loop {
            tries += 1;
            let pending_before = device.sync_stats().map(|s| s.pending).unwrap_or(0);
            match self.sync(device, set).await {
                Ok(mut r) => {
                    r.tries = tries;
                    return Ok(r);
                }
                Err(e @ (DeviceError::Offline(_) | DeviceError::Server(_))) => {
                    let jittered =
                        wait.mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..1.5));
                    if std::time::Instant::now() + jittered > deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(jittered).await;
                    // Pages that got through stay committed: after progress the link
                    // works now and then, so try again soon rather than ever later.
                    let progressed = device
                        .sync_stats()
                        .is_ok_and(|s| s.pending < pending_before);
                    wait = if progressed {
                        Duration::from_secs(1)
                    } else {
                        (wait * 2).min(Duration::from_secs(30))
                    };
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Pushes everything pending and pulls until the server has nothing more.
    pub async fn sync(
        &self,
        device: &Device,
        set: &IndicatorSet,
    ) -> Result<SyncReport, DeviceError> {
        self.sync_with_progress(device, set, &|_| {}).await
    }

    /// [`SyncClient::sync`], telling `progress` after each page is committed (the app
    /// shows it, and its list fills as pages arrive).
    pub async fn sync_with_progress(
        &self,
        device: &Device,
        set: &IndicatorSet,
        progress: &(dyn Fn(&SyncProgress) + Send + Sync),
    ) -> Result<SyncReport, DeviceError> {
        let mut cfg: Config = device.config()?.ok_or(DeviceError::NotLoggedIn)?;
        let http = self.clients.for_server(&cfg.server, cfg.pin.as_deref())?;
        let url = format!("{}/v1/sync", cfg.server.trim_end_matches('/'));
        let author = device.author(&cfg)?;
        let mut report = SyncReport::default();
        let mut renewed = false;
        for _ in 0..MAX_ROUNDS {
            let out = device.with_store(|s| sync::build_sync_request(s, PUSH_PAGE_BYTES))?;
            let body = sync::encode(&out.request);
            report.bytes_up += body.len() as u64;
            report.requests += 1;
            let req = http
                .post(&url)
                .bearer_auth(&cfg.token)
                .header("content-type", sync::CONTENT_TYPE)
                .body(body);
            let resp = match Self::send(req, &cfg.server).await {
                // The office ended this device: its data goes at once.
                Err(DeviceError::Revoked(reason)) => return Err(erase(device, &reason)),
                Err(DeviceError::TokenExpired) if !renewed => {
                    // After any time offline: a new token for the device key's signature.
                    cfg = self.renew(device, &http, &cfg).await?;
                    renewed = true;
                    continue;
                }
                other => other?,
            };
            let bytes = resp.bytes().await.map_err(|e| {
                DeviceError::Offline(format!("connection lost during sync: {}", root_cause(&e)))
            })?;
            report.bytes_down += bytes.len() as u64;
            let msg: SyncResponse = sync::decode(&bytes)
                .map_err(|e| DeviceError::Server(format!("bad sync response: {e}")))?;
            device.saw_server_time(msg.server_ms)?;
            if let Some((known, now)) = sync::restarted(&out, &msg) {
                // Restored from a backup: it took nothing of this request. Start again;
                // nothing unsent is dropped.
                device.with_store_mut(|store| sync::begin_restart(store, known, now))?;
                report.restarted = true;
                continue;
            }
            let applied = device
                .with_store_mut(|store| sync::apply_response(store, &out, &msg, set, &author))?;
            report.changes_pushed += out.changes_pushed;
            report.docs_pushed += out.request.push.len();
            report.accepted += applied.accepted;
            report.rejected += applied.rejected;
            report.docs_pulled += applied.docs_pulled;
            report.removed += applied.removed;
            report.re_recorded += applied.re_recorded;
            report.replaced += applied.replaced;
            // Another round when the server has more, this device has more to send,
            // or the server asked for the rest later (`too_many`).
            let deferred = msg
                .rejected
                .iter()
                .any(|r| r.code == Code::TooMany.as_str());
            // Work recorded again at the server's time goes in the next round, once.
            let again = applied.re_recorded > 0 && report.re_recorded == applied.re_recorded;
            // A restart goes on until the server has everything again.
            let restarting = device.with_store(sync::restart_state)? != sync::Restart::No;
            let more = msg.more || out.more_to_push || deferred || again || restarting;
            progress(&SyncProgress {
                docs_pulled: report.docs_pulled as u64,
                docs_pushed: report.docs_pushed as u64,
                bytes_down: report.bytes_down,
                bytes_up: report.bytes_up,
                requests: report.requests as u32,
                more,
                remaining: msg.remaining.filter(|_| msg.more),
            });
            if !more {
                break;
            }
        }
        device.record_sync(&report)?;
        Ok(report)
    }
}

impl SyncClient {
    /// Renews an expired token: signs the server's one-time challenge with this
    /// device's key. A revoked device erases its data; one whose password changed
    /// keeps its data and asks for the password.
    async fn renew(
        &self,
        device: &Device,
        http: &reqwest::Client,
        cfg: &Config,
    ) -> Result<Config, DeviceError> {
        #[derive(Deserialize)]
        struct Challenge {
            challenge: String,
        }
        #[derive(Deserialize)]
        struct Renewed {
            token: String,
            #[serde(default)]
            lock_minutes: Option<u8>,
            #[serde(default)]
            zone: Option<jemput_core::zone::Zone>,
            #[serde(default)]
            period: Option<jemput_core::dashboard::PeriodKind>,
            #[serde(default)]
            deadlines: Option<jemput_core::muskel::Deadlines>,
            #[serde(default)]
            bps: Option<String>,
        }
        let base = cfg.server.trim_end_matches('/');
        let body = serde_json::json!({ "device": cfg.device }).to_string();
        let resp = Self::send(
            http.post(format!("{base}/v1/challenge"))
                .header("content-type", "application/json")
                .body(body),
            &cfg.server,
        )
        .await?;
        let c: Challenge = serde_json::from_slice(
            &resp
                .bytes()
                .await
                .map_err(|e| DeviceError::Offline(root_cause(&e)))?,
        )
        .map_err(|e| DeviceError::Server(format!("bad challenge: {e}")))?;
        let challenge =
            hex::decode(&c.challenge).map_err(|_| DeviceError::Server("bad challenge".into()))?;
        let signature = device.sign(&jemput_core::bundle::refresh_message(
            &cfg.device,
            &challenge,
        ))?;
        let body = serde_json::json!({
            "device": cfg.device,
            "challenge": c.challenge,
            "signature": hex::encode(signature),
        })
        .to_string();
        let sent = Self::send(
            http.post(format!("{base}/v1/refresh"))
                .header("content-type", "application/json")
                .body(body),
            &cfg.server,
        )
        .await;
        let resp = match sent {
            Err(DeviceError::Revoked(reason)) => return Err(erase(device, &reason)),
            other => other?,
        };
        let r: Renewed = serde_json::from_slice(
            &resp
                .bytes()
                .await
                .map_err(|e| DeviceError::Offline(root_cause(&e)))?,
        )
        .map_err(|e| DeviceError::Server(format!("bad refresh response: {e}")))?;
        let renewed = Config {
            token: r.token,
            lock_minutes: r.lock_minutes.or(cfg.lock_minutes),
            zone: r.zone.or(cfg.zone),
            period: r.period.or(cfg.period),
            deadlines: r.deadlines.or(cfg.deadlines),
            bps: r.bps.or(cfg.bps.clone()),
            ..cfg.clone()
        };
        device.save_config(&renewed)?;
        Ok(renewed)
    }

    /// Ends this device's session on the server (best effort: offline, the token
    /// still ends at its 24 h) and forgets it here; the store and unsent work stay.
    pub async fn logout(&self, device: &Device) -> Result<(), DeviceError> {
        if let Some(cfg) = device.config()? {
            if let Ok(http) = self.clients.for_server(&cfg.server, cfg.pin.as_deref()) {
                let url = format!("{}/v1/logout", cfg.server.trim_end_matches('/'));
                let ended = http
                    .post(url)
                    .bearer_auth(&cfg.token)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if let Err(e) = ended {
                    note_logout_unheard(&e);
                }
            }
        }
        device.logout()
    }

    /// The kelurahan's export rows at a cut-off, from the server (which alone knows
    /// when each change arrived).
    /// The kelurahan's export rows at `cutoff`, with the cut-off as the server read it
    /// (a date ends in the kelurahan's zone) and that zone.
    pub async fn export_rows(
        &self,
        cfg: &Config,
        kelurahan: &str,
        cutoff: &str,
    ) -> Result<ExportAnswer, DeviceError> {
        let url = format!(
            "{}/v1/export?kelurahan={}&cutoff={}",
            cfg.server.trim_end_matches('/'),
            url_encode(kelurahan),
            url_encode(cutoff)
        );
        let http = self.clients.for_server(&cfg.server, cfg.pin.as_deref())?;
        let resp = Self::send(http.get(&url).bearer_auth(&cfg.token), &cfg.server).await?;
        let bytes = resp.bytes().await.map_err(|e| {
            DeviceError::Offline(format!("connection lost during export: {}", root_cause(&e)))
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| DeviceError::Server(format!("bad export response: {e}")))
    }
}

/// An id (a Muskel session's, a case's) as a URL path segment: letters, digits and `-`.
pub(crate) fn path_id(id: &str) -> Result<&str, DeviceError> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(id)
    } else {
        Err(DeviceError::Invalid(format!("`{id}` is not an id")))
    }
}

impl SyncClient {
    /// `GET` (no body) or `POST` (a JSON body) of an office endpoint, answered in JSON.
    pub async fn office_call<T: serde::de::DeserializeOwned>(
        &self,
        cfg: &Config,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, DeviceError> {
        let url = format!("{}{path}", cfg.server.trim_end_matches('/'));
        let http = self.clients.for_server(&cfg.server, cfg.pin.as_deref())?;
        let req = match body {
            Some(b) => http
                .post(&url)
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => http.get(&url),
        };
        let resp = Self::send(req.bearer_auth(&cfg.token), &cfg.server).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| DeviceError::Offline(format!("connection lost: {}", root_cause(&e))))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| DeviceError::Server(format!("bad response from {path}: {e}")))
    }
}

/// The server's answer to `GET /v1/export`.
#[derive(Debug, Deserialize)]
pub struct ExportAnswer {
    pub cutoff_ms: i64,
    /// Absent from servers before the kelurahan's zone: WIB.
    #[serde(default)]
    pub zone: jemput_core::zone::Zone,
    /// The kelurahan's round; absent from older servers: a month.
    #[serde(default)]
    pub period: jemput_core::dashboard::PeriodKind,
    /// When the last change the rows show arrived; absent from older servers.
    #[serde(default)]
    pub last_arrival_ms: Option<i64>,
    pub rows: Vec<ExportRow>,
}

/// How long one request waits in all for a busy server before its `503` is the answer.
const BUSY_PATIENCE: Duration = Duration::from_secs(60);

/// How long a busy server asked to wait (`503` + `Retry-After` in seconds, at most
/// 60), with up to half as much again at random.
fn busy_wait(resp: &reqwest::Response) -> Option<Duration> {
    if resp.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let base = Duration::from_secs(seconds.clamp(1, 60));
    Some(base.mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 1.0..1.5)))
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Erases a device the server says was revoked, and the error that says so.
fn erase(device: &Device, reason: &str) -> DeviceError {
    match device.wipe_revoked(reason) {
        Ok(gone) => DeviceError::Revoked(format!(
            "{reason}; this device's data was erased ({} unsent visits discarded)",
            gone.discarded_visits
        )),
        Err(e) => e,
    }
}

/// A logout the server did not hear of: its token still ends at its 24 h.
fn note_logout_unheard(e: &reqwest::Error) {
    eprintln!(
        "the server was not told of the logout ({}); the session ends on its own within 24 h",
        root_cause(e)
    );
}
