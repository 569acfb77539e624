//! A device's home directory: `config.json` (server, user, token) and `jemput.db`
//! (the local store), and the offline operations of a kader on them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jemput_core::conflicts::{ConflictItem, ConflictKind, Decision};
use jemput_core::history::HistoryEntry;
use jemput_core::household::{
    random_id, Author, Clock, Household, HouseholdError, Proposal, VisitInput,
};
use jemput_core::rules::{Code, Role, PROPOSAL_ID_PREFIX};
use jemput_core::store::{
    CountOf, HouseholdRow, InboxItem, ListFilter, ListPage, ListQuery, OutboxRow, Store, StoreError,
};
use jemput_core::sync::Quarantined;
use jemput_core::IndicatorSet;
use serde::{Deserialize, Serialize};

use crate::http::SyncReport;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{0}")]
    Offline(String),
    #[error("not accepted by the server: {0}")]
    Unauthorized(String),
    #[error("revoked: {0}")]
    Revoked(String),
    /// The access token is past its 24 h: renewed with the device key.
    #[error("the session expired")]
    TokenExpired,
    #[error("not logged in: run `jemput login` first")]
    NotLoggedIn,
    #[error("server error: {0}")]
    Server(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Household(#[from] HouseholdError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("device home: {0}")]
    Io(#[from] std::io::Error),
    #[error("cancelled: nothing was changed")]
    Cancelled,
    #[error("{0}")]
    Pin(crate::pin::Refused),
    /// A registry import refused by its whole-file checks; nothing was written.
    #[error(transparent)]
    ImportStopped(#[from] jemput_core::registry::Stop),
}

/// Every error code the app's backend can answer (`{code, message}`): the UI branches
/// on these alone and has a text for each (generated into the UI's bindings, where the
/// TypeScript compiler checks that every code has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    Offline,
    Unauthorized,
    InvalidCredentials,
    Revoked,
    NotLoggedIn,
    Server,
    NotFound,
    InvalidNik,
    InvalidKk,
    InvalidInput,
    Document,
    Storage,
    Forbidden,
    Cancelled,
    WrongPin,
    PinWait,
    Erased,
    Locked,
    ImportStopped,
    Internal,
    /// The UI's own code for a failure that carried none.
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Offline => "offline",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::Revoked => "revoked",
            ErrorCode::NotLoggedIn => "not_logged_in",
            ErrorCode::Server => "server",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidNik => "invalid_nik",
            ErrorCode::InvalidKk => "invalid_kk",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Document => "document",
            ErrorCode::Storage => "storage",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::WrongPin => "wrong_pin",
            ErrorCode::PinWait => "pin_wait",
            ErrorCode::Erased => "erased",
            ErrorCode::Locked => "locked",
            ErrorCode::ImportStopped => "import_stopped",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl DeviceError {
    /// Stable code the UI branches on.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            DeviceError::Offline(_) => ErrorCode::Offline,
            DeviceError::Unauthorized(_) => ErrorCode::Unauthorized,
            DeviceError::Revoked(_) => ErrorCode::Revoked,
            DeviceError::TokenExpired => ErrorCode::Unauthorized,
            DeviceError::NotLoggedIn => ErrorCode::NotLoggedIn,
            DeviceError::Server(_) => ErrorCode::Server,
            DeviceError::Store(StoreError::NotFound(_)) => ErrorCode::NotFound,
            DeviceError::Store(StoreError::Household(HouseholdError::Nik(_))) => {
                ErrorCode::InvalidNik
            }
            DeviceError::Store(_) => ErrorCode::Storage,
            DeviceError::Household(HouseholdError::Nik(_)) => ErrorCode::InvalidNik,
            DeviceError::Household(HouseholdError::Kk(_)) => ErrorCode::InvalidKk,
            DeviceError::Household(
                HouseholdError::Invalid(_)
                | HouseholdError::Indicator(_)
                | HouseholdError::Incomplete(_),
            ) => ErrorCode::InvalidInput,
            DeviceError::Household(_) => ErrorCode::Document,
            DeviceError::Invalid(_) => ErrorCode::InvalidInput,
            DeviceError::Forbidden(_) => ErrorCode::Forbidden,
            DeviceError::Io(_) => ErrorCode::Storage,
            DeviceError::Cancelled => ErrorCode::Cancelled,
            DeviceError::Pin(crate::pin::Refused::Wrong { .. }) => ErrorCode::WrongPin,
            DeviceError::Pin(crate::pin::Refused::Wait { .. }) => ErrorCode::PinWait,
            DeviceError::Pin(crate::pin::Refused::Erased { .. }) => ErrorCode::Erased,
            DeviceError::ImportStopped(_) => ErrorCode::ImportStopped,
        }
    }

    /// [`DeviceError::error_code`] as text.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// Login state. The token is a secret: `Debug` hides it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    pub server: String,
    pub user: String,
    pub role: Role,
    /// Kept in the encrypted store, never in `config.json`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    pub device: String,
    /// Hex of the server's public key: bundles from other devices are checked with it.
    #[serde(default)]
    pub server_key: Option<String>,
    /// Hex of the server's signature over this device's key: travels in its bundles.
    #[serde(default)]
    pub certificate: Option<String>,
    /// The server certificate's pin (`sha256/…`), when the device trusts it by its pin
    /// rather than by the public roots (a self-signed office certificate).
    #[serde(default)]
    pub pin: Option<String>,
    /// Minutes in the background before the app asks for the PIN again (the
    /// kelurahan's setting, as of the last login).
    #[serde(default)]
    pub lock_minutes: Option<u8>,
    /// The kelurahan's time zone (as of the last login or renewal): dates and months
    /// on this device are days in it.
    #[serde(default)]
    pub zone: Option<jemput_core::zone::Zone>,
    /// The kelurahan's verification round (as of the last login or renewal): what
    /// "visited this period" and the dashboard count.
    #[serde(default)]
    pub period: Option<jemput_core::dashboard::PeriodKind>,
    /// The kelurahan's month deadlines (as of the last login or renewal).
    #[serde(default)]
    pub deadlines: Option<jemput_core::muskel::Deadlines>,
    /// The kelurahan's BPS code, when the server has it (as of the last login or
    /// renewal): registry rows may carry it instead of the Kemendagri code.
    #[serde(default)]
    pub bps: Option<String>,
    /// The server's bundle key (`age1…`): every bundle file is encrypted to it.
    #[serde(default)]
    pub server_recipient: Option<String>,
}

/// What is left of a device the office revoked (`revoked.json`): why, when, and how
/// much unsent work was discarded with its data.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Revoked {
    pub reason: String,
    #[ts(type = "number")]
    pub at_ms: i64,
    pub discarded_visits: usize,
}

/// What a deployment sets up for the app in the device's home (`deployment.json`): the
/// office's server and the pin of its certificate, so that a kader types nothing but
/// a user name and password, and a self-signed office certificate is still checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Deployment {
    pub server: Option<String>,
    pub pin: Option<String>,
}

impl Deployment {
    /// The pin to trust for `server`: the deployment's, for the deployment's server.
    pub fn pin_for(&self, server: &str) -> Option<&str> {
        let same = self
            .server
            .as_deref()
            .is_some_and(|s| s.trim_end_matches('/') == server.trim().trim_end_matches('/'));
        if same {
            self.pin.as_deref()
        } else {
            None
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("user", &self.user)
            .field("role", &self.role)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncStats {
    pub last_sync: Option<String>,
    pub last_bytes_up: u64,
    pub last_bytes_down: u64,
    pub month: Option<String>,
    pub month_bytes: u64,
    pub pending: u64,
    pub rejected: u64,
    /// Households kept out because a pulled document could not be merged.
    pub quarantined: Vec<Quarantined>,
    /// Households whose work the server refused because it could not establish who
    /// wrote it (another device's changes relayed after a restore): kept here.
    pub unconfirmed: Vec<String>,
    /// Starting again with a server restored from a backup (until it holds everything
    /// this device does).
    pub restarting: bool,
}

pub struct Device {
    dir: PathBuf,
    pub(crate) store: Mutex<Store>,
    pub(crate) clock: Box<dyn Clock + Send + Sync>,
}

fn lock_err() -> DeviceError {
    DeviceError::Invalid("local store lock poisoned".into())
}

impl Device {
    pub fn open(dir: &Path) -> Result<Device, DeviceError> {
        Device::open_with_clock(dir, Box::new(jemput_core::SystemClock))
    }

    pub fn open_with_clock(
        dir: &Path,
        clock: Box<dyn Clock + Send + Sync>,
    ) -> Result<Device, DeviceError> {
        Device::open_with(dir, clock, &crate::keys::Unlock::from_env())
    }

    /// Opens the home at `dir`, its store unlocked with `unlock` (a PIN, or the key
    /// file outside the home): encrypted at rest, files its owner's alone.
    pub fn open_with(
        dir: &Path,
        clock: Box<dyn Clock + Send + Sync>,
        unlock: &crate::keys::Unlock,
    ) -> Result<Device, DeviceError> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let key = crate::keys::store_key(dir, unlock)?;
        let db = dir.join("jemput.db");
        let mut store = Store::open_encrypted(&db, &key)?;
        #[cfg(unix)]
        for name in ["jemput.db", "jemput.db-wal", "jemput.db-shm"] {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600));
        }
        store.reindex_if_needed(&IndicatorSet::bps14())?;
        init_keys(&store)?;
        Ok(Device {
            dir: dir.to_path_buf(),
            store: Mutex::new(store),
            clock,
        })
    }

    /// Logs in (registering this device and its signing key) and saves the config.
    pub async fn login(
        &self,
        client: &crate::SyncClient,
        server: &str,
        pin: Option<&str>,
        user: &str,
        password: &str,
        device_name: &str,
    ) -> Result<Config, DeviceError> {
        let signing = self.signing_key()?;
        let key = hex::encode(signing.verifying_key().to_bytes());
        let actor = self
            .with_store(|s| s.kv_get("actor"))?
            .ok_or_else(|| DeviceError::Invalid("device has no actor id".into()))?;
        let actors = [actor];
        // Proves this install holds the key, so it keeps its actor across logins.
        let proof = ed25519_dalek::Signer::sign(
            &signing,
            &jemput_core::bundle::login_proof_message(user, device_name, &actors),
        );
        let key_proof = hex::encode(proof.to_bytes());
        let age_recipient = self.bundle_recipient()?;
        let body = crate::http::LoginRequest {
            user,
            password,
            device_name,
            device_key: &key,
            actors: &actors,
            key_proof: &key_proof,
            age_recipient: &age_recipient,
        };
        let ok = client.login(server, pin, &body).await?;
        self.saw_server_time(ok.server_ms)?;
        let cfg = Config {
            server: server.to_string(),
            user: ok.user,
            role: ok.role,
            token: ok.token,
            device: ok.device,
            server_key: Some(ok.server_key),
            certificate: ok.certificate,
            pin: pin.map(str::to_string),
            lock_minutes: ok.lock_minutes,
            zone: ok.zone,
            period: ok.period,
            deadlines: ok.deadlines,
            bps: ok.bps,
            server_recipient: ok
                .server_recipient
                .filter(|r| jemput_core::bundle::is_recipient(r)),
        };
        self.save_config(&cfg)?;
        let _ = std::fs::remove_file(self.dir.join("revoked.json"));
        Ok(cfg)
    }

    /// This device's public bundle key (`age1…`): bundles for it are encrypted to it.
    pub fn bundle_recipient(&self) -> Result<String, DeviceError> {
        self.with_store(|s| s.kv_get("age_identity"))?
            .as_deref()
            .and_then(jemput_core::bundle::recipient_of)
            .ok_or_else(|| DeviceError::Invalid("device has no bundle key".into()))
    }

    /// This device's key's signature of `message` (renewing the token).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DeviceError> {
        let key = self.signing_key()?;
        Ok(ed25519_dalek::Signer::sign(&key, message)
            .to_bytes()
            .to_vec())
    }

    fn signing_key(&self) -> Result<ed25519_dalek::SigningKey, DeviceError> {
        let hexkey = self
            .with_store(|s| s.kv_get("signing_key"))?
            .ok_or_else(|| DeviceError::Invalid("device has no signing key".into()))?;
        let bytes: [u8; 32] = hex::decode(hexkey)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| DeviceError::Invalid("device signing key is damaged".into()))?;
        Ok(ed25519_dalek::SigningKey::from_bytes(&bytes))
    }

    /// Writes everything the server has not acknowledged to `path` as a signed bundle
    /// (to carry by USB stick or a messaging app). Returns the number of households.
    pub fn bundle_export(&self, path: &Path) -> Result<usize, DeviceError> {
        let cfg = self.config()?.ok_or(DeviceError::NotLoggedIn)?;
        let certificate = cfg
            .certificate
            .as_deref()
            .and_then(|c| hex::decode(c).ok())
            .ok_or_else(|| {
                DeviceError::Invalid(
                    "log in again: this device has no certificate for bundles".into(),
                )
            })?;
        let key = self.signing_key()?;
        let out = self.with_store(|s| jemput_core::sync::build_request(s, usize::MAX))?;
        let n = out.request.push.len();
        let payload = jemput_core::bundle::BundlePayload {
            device: cfg.device.clone(),
            user: cfg.user.clone(),
            role: cfg.role,
            device_key: serde_bytes::ByteBuf::from(key.verifying_key().to_bytes().to_vec()),
            certificate: serde_bytes::ByteBuf::from(certificate),
            created_at: self.clock.now_ms(),
            docs: out.request.push,
            relays: out.request.bundles,
        };
        let signed = jemput_core::bundle::write(&payload, &key);
        // Encrypted to the server, the devices of the same areas and this one.
        let mut recipients = self.with_store(jemput_core::sync::bundle_recipients)?;
        recipients.push(self.bundle_recipient()?);
        match cfg.server_recipient {
            Some(server) => recipients.push(server),
            None => {
                return Err(DeviceError::Invalid(
                    "log in again: this device does not know the server's bundle key".into(),
                ))
            }
        }
        let bytes = jemput_core::bundle::seal(&signed, &recipients)
            .map_err(|e| DeviceError::Invalid(e.to_string()))?;
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(n)
    }

    /// Checks a bundle's signatures and applies it, all or nothing. The imported work is
    /// relayed to the server at this device's next sync.
    pub fn bundle_import(
        &self,
        path: &Path,
        set: &IndicatorSet,
    ) -> Result<jemput_core::bundle::Imported, DeviceError> {
        let cfg = self.config()?.ok_or(DeviceError::NotLoggedIn)?;
        let server_key = cfg
            .server_key
            .as_deref()
            .and_then(|k| hex::decode(k).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(|| {
                DeviceError::Invalid("log in again: the server's key is unknown".into())
            })?;
        let identity = self
            .with_store(|s| s.kv_get("age_identity"))?
            .unwrap_or_default();
        let file = std::fs::read(path)?;
        let bytes = jemput_core::bundle::unseal(&file, &identity, jemput_core::bundle::MAX_BUNDLE)
            .map_err(|e| DeviceError::Invalid(e.to_string()))?;
        let payload = jemput_core::bundle::read(&bytes, &server_key)
            .map_err(|e| DeviceError::Invalid(e.to_string()))?;
        self.with_store_mut(|s| {
            let imported = jemput_core::bundle::apply(s, &payload, set)?;
            // The server judges relayed work by its signer: it needs the signature.
            s.add_relay(&bytes)?;
            Ok(imported)
        })
    }

    /// Erases this device's households, keys and token because the server says it was
    /// revoked (or its user disabled): unsent work is discarded by design (the office
    /// visits again). Keeps only `revoked.json`, for the screen and `status`.
    pub fn wipe_revoked(&self, reason: &str) -> Result<Revoked, DeviceError> {
        let mut store = self.store.lock().map_err(|_| lock_err())?;
        let discarded_visits = store.unsent_visits().unwrap_or(0);
        store.wipe()?;
        let _ = crate::pin::note_unsent(&self.dir, 0);
        // A fresh identity, should the office let this phone in again later.
        init_keys(&store)?;
        drop(store);
        self.logout()?;
        let revoked = Revoked {
            reason: reason.to_string(),
            at_ms: jemput_core::SystemClock.now_ms(),
            discarded_visits,
        };
        let json = serde_json::to_vec_pretty(&revoked)
            .map_err(|e| DeviceError::Invalid(format!("revoked.json: {e}")))?;
        std::fs::write(self.dir.join("revoked.json"), json)?;
        Ok(revoked)
    }

    /// Whether the office revoked this device (until someone logs in again).
    pub fn revoked(&self) -> Result<Option<Revoked>, DeviceError> {
        match std::fs::read(self.dir.join("revoked.json")) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The deployment's settings (`deployment.json` in the home), if there are any.
    pub fn deployment(&self) -> Result<Deployment, DeviceError> {
        match std::fs::read(self.dir.join("deployment.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| DeviceError::Invalid(format!("deployment.json: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Deployment::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// The login state: `config.json` for what is not secret, the token from the
    /// encrypted store.
    pub fn config(&self) -> Result<Option<Config>, DeviceError> {
        let path = self.dir.join("config.json");
        let mut cfg: Config = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| DeviceError::Invalid(format!("config.json: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match self.with_store(|s| s.kv_get("token"))? {
            Some(t) => cfg.token = t,
            // A config from before the token moved into the store: move it now.
            None if !cfg.token.is_empty() => self.save_config(&cfg)?,
            None => return Ok(None),
        }
        Ok(Some(cfg))
    }

    /// Written to a temporary file and renamed: a crash leaves the old or the new config.
    pub fn save_config(&self, cfg: &Config) -> Result<(), DeviceError> {
        self.with_store(|s| s.kv_set("token", &cfg.token))?;
        let public = Config {
            token: String::new(),
            ..cfg.clone()
        };
        let body =
            serde_json::to_vec_pretty(&public).map_err(|e| DeviceError::Invalid(e.to_string()))?;
        crate::keys::write_private(&self.dir.join("config.json"), &body)
    }

    pub fn logout(&self) -> Result<(), DeviceError> {
        self.with_store(|s| s.kv_delete("token"))?;
        // A new bundle key: bundles for the user logged out here (this phone may pass
        // to a kader of another RW) no longer open on it.
        self.with_store(|s| s.kv_set("age_identity", &jemput_core::bundle::new_identity().0))?;
        match std::fs::remove_file(self.dir.join("config.json")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, DeviceError> {
        let store = self.store.lock().map_err(|_| lock_err())?;
        Ok(f(&store)?)
    }

    pub fn with_store_mut<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, DeviceError> {
        let mut store = self.store.lock().map_err(|_| lock_err())?;
        Ok(f(&mut store)?)
    }

    pub fn author(&self, cfg: &Config) -> Result<Author, HouseholdError> {
        let actor = self
            .store
            .lock()
            .ok()
            .and_then(|s| s.kv_get("actor").ok().flatten())
            .ok_or_else(|| HouseholdError::Invalid("device has no actor id".into()))?;
        Author::new(&actor, &cfg.user)
    }

    pub(crate) fn logged_in(&self) -> Result<(Config, Author), DeviceError> {
        let cfg = self.config()?.ok_or(DeviceError::NotLoggedIn)?;
        let author = self.author(&cfg)?;
        Ok((cfg, author))
    }

    /// Records the server's clock from a response: later work is stamped with this
    /// device's clock corrected by the offset (a phone's date is often wrong).
    pub fn saw_server_time(&self, server_ms: i64) -> Result<(), DeviceError> {
        if server_ms <= 0 {
            return Ok(());
        }
        let offset = server_ms - self.clock.now_ms();
        self.with_store(|s| {
            s.kv_set("clock_offset_ms", &offset.to_string())?;
            s.kv_set("last_server_ms", &server_ms.to_string())
        })
    }

    /// The kelurahan's time zone as the server last said (WIB before any login).
    pub fn zone(&self) -> jemput_core::zone::Zone {
        self.config()
            .ok()
            .flatten()
            .and_then(|c| c.zone)
            .unwrap_or_default()
    }

    /// Today's date in the kelurahan's zone, by this device's clock.
    pub fn today(&self) -> String {
        self.zone().date_of(self.clock.now_ms())
    }

    /// The time to stamp new work with: this device's clock corrected by the offset
    /// measured at the last sync, in the kelurahan's zone. Refused while it reads earlier
    /// than the last server time seen (the phone's clock went back): the server would
    /// refuse that work.
    pub fn work_clock(&self) -> Result<jemput_core::household::AtIn, DeviceError> {
        self.work_clock_in(self.zone())
    }

    /// [`Device::work_clock`] with the zone already read (from the config a caller holds).
    fn work_clock_in(
        &self,
        zone: jemput_core::zone::Zone,
    ) -> Result<jemput_core::household::AtIn, DeviceError> {
        let (offset, last) = self.with_store(|s| {
            let num = |k: &str| -> Result<i64, StoreError> {
                Ok(s.kv_get(k)?.and_then(|v| v.parse().ok()).unwrap_or(0))
            };
            Ok((num("clock_offset_ms")?, num("last_server_ms")?))
        })?;
        let now = self.clock.now_ms() + offset;
        if now < last - 60_000 {
            return Err(DeviceError::Invalid(
                "the phone's clock reads earlier than the last sync: set the date and time, then try again"
                    .into(),
            ));
        }
        Ok(jemput_core::household::AtIn(now, zone))
    }

    /// First day of the current period (the kelurahan's month or quarter).
    pub fn period_start(&self) -> String {
        self.current_period().start
    }

    pub fn households(
        &self,
        search: Option<&str>,
        filter: ListFilter,
    ) -> Result<Vec<HouseholdRow>, DeviceError> {
        let q = ListQuery {
            search: search.map(str::to_string),
            filter,
            ..ListQuery::default()
        };
        Ok(self.households_page(&q)?.rows)
    }

    /// One page of the household list (the app's list asks page by page).
    pub fn households_page(&self, q: &ListQuery) -> Result<ListPage, DeviceError> {
        let start = self.period_start();
        let me = self.config()?.map(|c| c.user);
        self.with_store(|s| s.list_page(q, &start, me.as_deref()))
    }

    /// The visit form being typed for a household, and when it was kept.
    pub fn draft(&self, id: &str) -> Result<Option<(serde_json::Value, i64)>, DeviceError> {
        self.with_store(|s| s.draft(id))
    }

    /// Keeps the visit form being typed (device-local; never synced).
    pub fn put_draft(&self, id: &str, body: &serde_json::Value) -> Result<(), DeviceError> {
        let now = jemput_core::household::SystemClock.now_ms();
        self.with_store(|s| s.put_draft(id, body, now))
    }

    pub fn discard_draft(&self, id: &str) -> Result<(), DeviceError> {
        self.with_store(|s| s.discard_draft(id))
    }

    /// What this device holds that the server does not: households with unsent or
    /// refused work, quarantined households, drafts.
    pub fn outbox(&self) -> Result<Outbox, DeviceError> {
        let households = self.with_store(|s| s.outbox())?;
        let quarantined = self
            .with_store(|s| s.quarantined(false))?
            .into_iter()
            .map(|(id, reason)| Quarantined { id, reason })
            .collect();
        let drafts = self
            .with_store(|s| s.drafts())?
            .into_iter()
            .map(|(id, head_name, at)| DraftRow { id, head_name, at })
            .collect();
        let relays = self.with_store(|s| s.relays())?.len() as u32;
        Ok(Outbox {
            waiting: households.iter().filter(|h| h.rejected.is_none()).count() as u32,
            refused: households.iter().filter(|h| h.rejected.is_some()).count() as u32,
            unsent_visits: households
                .iter()
                .filter(|h| h.rejected.is_none())
                .map(|h| h.visits)
                .sum(),
            households,
            quarantined,
            drafts,
            relays,
        })
    }

    /// Decisions and notes by others on this device's households, newest first.
    pub fn inbox(&self, limit: u32) -> Result<Vec<InboxItem>, DeviceError> {
        let me = self.config()?.map(|c| c.user);
        self.with_store(|s| s.inbox(me.as_deref(), limit))
    }

    /// The user looked at the inbox.
    pub fn mark_inbox_seen(&self) -> Result<(), DeviceError> {
        let now = jemput_core::household::SystemClock.now_ms();
        self.with_store(|s| s.mark_inbox_seen(now))
    }

    pub fn show(&self, id: &str, set: &IndicatorSet) -> Result<serde_json::Value, DeviceError> {
        let hh = self.with_store(|s| s.load_household(id))?;
        let mut view = hh.view(set);
        self.authors()?.name_view(&mut view);
        Ok(view)
    }

    pub fn record_visit(
        &self,
        id: &str,
        input: &VisitInput,
        set: &IndicatorSet,
    ) -> Result<String, DeviceError> {
        let (cfg, author) = self.logged_in()?;
        // The config just read gives the zone: no second read on the save path.
        let clock = self.work_clock_in(cfg.zone.unwrap_or_default())?;
        let mut store = self.store.lock().map_err(|_| lock_err())?;
        let (mut hh, mut before) = store.household(id, &author)?;
        let vid = hh.record_visit(input, set, &author, &clock, &mut rand::thread_rng())?;
        judge_doc(&mut before, &mut hh, &cfg, &author, set)?;
        store.save_visit(&mut hh, set)?;
        // One more unsent visit (counted exactly at each sync: cheap on every save).
        let _ = crate::pin::add_unsent(&self.dir, 1);
        Ok(vid)
    }

    /// Proposes a household found on the way; the kelurahan defaults to the user's
    /// first area when the proposal leaves it empty.
    pub fn propose(&self, proposal: &Proposal, set: &IndicatorSet) -> Result<String, DeviceError> {
        let (cfg, author) = self.logged_in()?;
        let mut p = proposal.clone();
        if p.kelurahan.trim().is_empty() {
            p.kelurahan = self
                .with_store(|s| s.cursors())?
                .first()
                .map(|(k, _)| k.split('/').next().unwrap_or_default().to_string())
                .ok_or_else(|| DeviceError::Invalid("kelurahan unknown: sync once first".into()))?;
        }
        let mut rng = rand::thread_rng();
        let id = random_id(PROPOSAL_ID_PREFIX, &mut rng);
        let now = self.work_clock()?.now_ms();
        let mut hh = Household::propose(&id, &p, &author, now, &mut rng)?;
        let mut store = self.store.lock().map_err(|_| lock_err())?;
        save_checked(&mut store, &[], &mut hh, &cfg, &author, set)?;
        Ok(id)
    }

    /// Household id → heads of its document, as hex, sorted.
    pub fn heads(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>, DeviceError> {
        let rows = self.with_store(|s| s.list(None, ListFilter::All, "0000-00-00"))?;
        let mut out = std::collections::BTreeMap::new();
        for r in rows {
            let mut hh = Household::load(&self.with_store(|s| s.get_doc(&r.id))?)?;
            let mut heads: Vec<String> = hh.heads().iter().map(|h| h.to_string()).collect();
            heads.sort();
            out.insert(r.id, heads);
        }
        Ok(out)
    }

    /// Open conflicts held on this device.
    pub fn conflicts(
        &self,
        rw: Option<u16>,
        kind: Option<ConflictKind>,
        set: &IndicatorSet,
        lang: jemput_core::words::Lang,
    ) -> Result<Vec<ConflictItem>, DeviceError> {
        let mut items = self.with_store(|s| s.list_conflicts(rw, kind))?;
        self.authors()?.name_conflicts(&mut items);
        for i in &mut items {
            i.describe(set, lang);
        }
        Ok(items)
    }

    /// Who wrote changes, as the server named them (and this device's own user).
    fn authors(&self) -> Result<jemput_core::authors::Authors, DeviceError> {
        let user = self.config()?.map(|c| c.user);
        self.with_store(|s| s.authors(user.as_deref()))
    }

    pub fn resolve(
        &self,
        conflict: &str,
        decision: &Decision,
        note: Option<&str>,
        set: &IndicatorSet,
    ) -> Result<(), DeviceError> {
        let (cfg, author) = self.logged_in()?;
        let item = self
            .conflicts(None, None, set, jemput_core::words::Lang::Id)?
            .into_iter()
            .find(|c| c.id == conflict)
            .ok_or_else(|| {
                DeviceError::Invalid(format!("no open conflict `{conflict}` on this device"))
            })?;
        let now = self.work_clock()?.now_ms();
        let mut store = self.store.lock().map_err(|_| lock_err())?;
        let bytes = store.get_doc(&item.household)?;
        let mut hh = Household::load_as(&bytes, &author)?;
        hh.resolve(&item, decision, note, &author, now)?;
        save_checked(&mut store, &bytes, &mut hh, &cfg, &author, set)?;
        Ok(())
    }

    pub fn edit(
        &self,
        id: &str,
        path: &str,
        value: &str,
        set: &IndicatorSet,
    ) -> Result<(), DeviceError> {
        let (cfg, author) = self.logged_in()?;
        let now = self.work_clock()?.now_ms();
        let mut store = self.store.lock().map_err(|_| lock_err())?;
        let bytes = store.get_doc(id)?;
        let mut hh = Household::load_as(&bytes, &author)?;
        hh.edit(path, value, now)?;
        save_checked(&mut store, &bytes, &mut hh, &cfg, &author, set)?;
        Ok(())
    }

    /// Every change of a household, named and told as sentences in `lang`.
    pub fn history(
        &self,
        id: &str,
        set: &IndicatorSet,
        lang: jemput_core::words::Lang,
    ) -> Result<Vec<HistoryEntry>, DeviceError> {
        let mut hh = Household::load(&self.with_store(|s| s.get_doc(id))?)?;
        let mut entries = hh.history();
        self.authors()?.name_history(&mut entries);
        jemput_core::history::describe(&mut entries, set, lang);
        Ok(entries)
    }

    /// The household as it stood at `when`: a date (`YYYY-MM-DD`, the end of that day,
    /// UTC) or an RFC 3339 time.
    pub fn as_of_when(
        &self,
        id: &str,
        when: &str,
        set: &IndicatorSet,
    ) -> Result<serde_json::Value, DeviceError> {
        self.as_of(id, parse_when(when, self.zone())?, set)
    }

    /// The household as it stood at `until_ms` (milliseconds since the epoch).
    pub fn as_of(
        &self,
        id: &str,
        until_ms: i64,
        set: &IndicatorSet,
    ) -> Result<serde_json::Value, DeviceError> {
        let mut hh = Household::load(&self.with_store(|s| s.get_doc(id))?)?;
        Ok(hh.as_of(until_ms)?.view(set))
    }

    /// Keeps the number of unsent visits where the locked PIN screen can read it: an
    /// erase after ten wrong PINs says what it loses. Counted exactly after each sync
    /// (it reads every pending household), one more with each visit. A failure here
    /// loses no work.
    fn note_unsent(&self, store: &Store) {
        if let Ok(n) = store.unsent_visits() {
            let _ = crate::pin::note_unsent(&self.dir, n as u64);
        }
    }

    pub fn record_sync(&self, report: &SyncReport) -> Result<(), DeviceError> {
        if let Ok(store) = self.store.lock() {
            self.note_unsent(&store);
        }
        let now = time::OffsetDateTime::from_unix_timestamp(self.clock.now_ms() / 1000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let month = self.today().get(..7).unwrap_or("").to_string();
        self.with_store(|s| {
            let prev_month = s.kv_get("month")?;
            let mut month_bytes: u64 = s
                .kv_get("month_bytes")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if prev_month.as_deref() != Some(month.as_str()) {
                month_bytes = 0;
            }
            month_bytes += report.bytes_up + report.bytes_down;
            let stamp = now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            s.kv_set("last_sync", &stamp)?;
            s.kv_set("last_bytes_up", &report.bytes_up.to_string())?;
            s.kv_set("last_bytes_down", &report.bytes_down.to_string())?;
            s.kv_set("month", &month)?;
            s.kv_set("month_bytes", &month_bytes.to_string())
        })
    }

    pub fn sync_stats(&self) -> Result<SyncStats, DeviceError> {
        self.with_store(|s| {
            let num = |k: &str| -> Result<u64, StoreError> {
                Ok(s.kv_get(k)?.and_then(|v| v.parse().ok()).unwrap_or(0))
            };
            Ok(SyncStats {
                last_sync: s.kv_get("last_sync")?,
                last_bytes_up: num("last_bytes_up")?,
                last_bytes_down: num("last_bytes_down")?,
                month: s.kv_get("month")?,
                month_bytes: num("month_bytes")?,
                pending: s.count(CountOf::Pending)?,
                rejected: s.count(CountOf::Rejected)?,
                quarantined: s
                    .quarantined(false)?
                    .into_iter()
                    .map(|(id, reason)| Quarantined { id, reason })
                    .collect(),
                unconfirmed: s.unconfirmed()?,
                restarting: jemput_core::sync::restart_state(s)? != jemput_core::sync::Restart::No,
            })
        })
    }
}

/// Writes an edit after the rule book allowed it for this user (the same check the
/// server makes), so "not allowed" is heard at once, not at the next sync.
fn save_checked(
    store: &mut Store,
    before: &[u8],
    hh: &mut Household,
    cfg: &Config,
    author: &Author,
    set: &IndicatorSet,
) -> Result<(), DeviceError> {
    let mut before = if before.is_empty() {
        automerge::AutoCommit::new()
    } else {
        automerge::AutoCommit::load(before).map_err(HouseholdError::from)?
    };
    judge_doc(&mut before, hh, cfg, author, set)?;
    store.save_local(hh, set)?;
    Ok(())
}

/// The rule book's verdict on a local edit, before anything is written.
fn judge_doc(
    before: &mut automerge::AutoCommit,
    hh: &mut Household,
    cfg: &Config,
    author: &Author,
    set: &IndicatorSet,
) -> Result<(), DeviceError> {
    let role = cfg.role;
    jemput_core::rules::judge_local(before, hh.doc_for_changes(), role, author, set).map_err(
        |r| match r.code {
            Code::Forbidden => DeviceError::Forbidden(r.reason),
            _ => DeviceError::Invalid(r.reason),
        },
    )?;
    Ok(())
}

/// What waits on this device to reach the server (`jemput outbox --json`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Outbox {
    /// Households with unsent work the next sync sends.
    pub waiting: u32,
    /// Households whose changes the server refused (kept, not resent).
    pub refused: u32,
    pub unsent_visits: u32,
    pub households: Vec<OutboxRow>,
    pub quarantined: Vec<Quarantined>,
    pub drafts: Vec<DraftRow>,
    /// Bundles of other devices waiting to be relayed.
    pub relays: u32,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct DraftRow {
    pub id: String,
    pub head_name: Option<String>,
    #[ts(type = "number")]
    pub at: i64,
}

/// `YYYY-MM-DD` (the end of that day in `zone`) or an RFC 3339 time, as epoch milliseconds.
pub fn parse_when(s: &str, zone: jemput_core::zone::Zone) -> Result<i64, DeviceError> {
    jemput_core::history::parse_when(s, zone).map_err(DeviceError::Invalid)
}

/// The device's signing key, bundle key and Automerge actor, made once per install
/// (and anew after a wipe).
fn init_keys(store: &Store) -> Result<(), DeviceError> {
    if store.kv_get("signing_key")?.is_none() {
        // Signs this device's bundles (sync by file); the server certifies it at login.
        let secret: [u8; 32] = rand::random();
        store.kv_set("signing_key", &hex::encode(secret))?;
    }
    if store.kv_get("age_identity")?.is_none() {
        // Opens bundle files encrypted to this device (X25519, the age format).
        store.kv_set("age_identity", &jemput_core::bundle::new_identity().0)?;
    }
    if store.kv_get("actor")?.is_none() {
        // A stable Automerge actor per install: every change names this device.
        let actor: [u8; 16] = rand::random();
        store.kv_set("actor", &hex::encode(actor))?;
    }
    Ok(())
}
