//! [`Server`]: the one implementation of [`Storage`], over any [`Store`]. Each call
//! opens one transaction of the store and runs the service's logic inside it; the
//! server's own keys (in the store, or in a key file) and the audit heads file beside
//! the store are kept here too.

use std::collections::BTreeMap;
use std::path::Path;

use automerge::ActorId;
use ed25519_dalek::{SigningKey, VerifyingKey};
use jemput_core::bundle;
use jemput_core::dashboard::PeriodKind;
use jemput_core::household::Author;
use jemput_core::registry::export::ExportRow;
use jemput_core::registry::{Counts, Coverage, Parsed};
use jemput_core::sync::{Area, SyncRequest, SyncResponse};
use jemput_core::zone::Zone;
use serde::{Deserialize, Serialize};

use super::api::*;
use super::identity::Identity;
use super::store::{End, SettingsRow, Store, Tx};
use super::{accounts, registry, sync};
use crate::guard::{Limits, RuleBook};

/// The most bundle keys a sync answer carries (the devices seen last first): each
/// costs about 60 B in an answer and in every bundle file's header.
const MAX_RECIPIENTS: u32 = 200;

/// The service over one store.
pub struct Server<S> {
    store: S,
    limits: Limits,
    book: RuleBook,
    /// The server's own keys, when they live in a file of their own (`with_key_file`).
    secrets: Option<ServerSecrets>,
    /// The audit heads file missed a write: the next sync writes it whatever it did.
    heads_stale: std::sync::atomic::AtomicBool,
}

/// The server's own keys: the Ed25519 key that certifies devices (hex) and the age
/// identity bundle files are encrypted to.
#[derive(Clone, Serialize, Deserialize)]
struct ServerSecrets {
    signing_key: String,
    bundle_identity: String,
}

impl<S: Store> Server<S> {
    /// The service over `store`; households stored before export rows existed get
    /// theirs now.
    pub fn new(store: S) -> Result<Server<S>, StorageError> {
        let server = Server {
            store,
            limits: Limits::default(),
            book: RuleBook::On,
            secrets: None,
            heads_stale: std::sync::atomic::AtomicBool::new(false),
        };
        server.write(|tx| {
            registry::backfill_export_rows(tx)?;
            Identity::get(tx).map(drop)
        })?;
        Ok(server)
    }

    /// Other caps than the defaults (tests, benches, a big office's server).
    pub fn with_limits(mut self, limits: Limits) -> Server<S> {
        self.limits = limits;
        self
    }

    /// The rule book off: only for the benchmark that measures what it costs.
    pub fn without_rule_book(mut self) -> Server<S> {
        self.book = RuleBook::Off;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Keeps the server's keys in `path` (0600) rather than in the store: a copy of
    /// the store alone then cannot certify a device or open a bundle. The first time,
    /// the keys the store holds (or new ones) move there and are erased from the store;
    /// a store holding other keys than the file is refused.
    pub fn with_key_file(mut self, path: &Path) -> Result<Server<S>, StorageError> {
        let bad = |m: String| StorageError::Invalid(format!("{}: {m}", path.display()));
        let (key, age) = self.read(|tx| tx.server_secrets())?;
        let in_store = (key.map(hex::encode), age);
        let secrets = match std::fs::read(path) {
            Ok(bytes) => {
                let secrets: ServerSecrets =
                    serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
                let differs =
                    |db: &Option<String>, file: &str| db.as_deref().is_some_and(|d| d != file);
                if differs(&in_store.0, &secrets.signing_key)
                    || differs(&in_store.1, &secrets.bundle_identity)
                {
                    return Err(bad(
                        "the database holds other server keys than this file".into()
                    ));
                }
                secrets
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Keys the store holds move out; keys made now never enter the store
                // (PostgreSQL keeps a deleted row's bytes until it is vacuumed). A
                // store whose keys moved to a file that is gone makes none.
                self.read(keys_inside)?;
                let secrets = ServerSecrets {
                    signing_key: in_store
                        .0
                        .clone()
                        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>())),
                    bundle_identity: in_store
                        .1
                        .clone()
                        .unwrap_or_else(|| bundle::new_identity().0),
                };
                let body = serde_json::to_vec_pretty(&secrets).map_err(|e| bad(e.to_string()))?;
                // The new file's name is durable before the store forgets the keys.
                jemput_core::files::create_private(path, &body)
                    .and_then(|()| jemput_core::files::sync_parent(path))
                    .map_err(|e| bad(e.to_string()))?;
                secrets
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        self.store.forget_keys()?;
        self.secrets = Some(secrets);
        Ok(self)
    }

    /// Runs `work` in a write transaction, committed when it returns `Ok`.
    fn write<T>(
        &self,
        work: impl FnOnce(&dyn Tx) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.store
            .run(true, |tx| work(tx).map(|t| (t, End::Commit)))
    }

    /// Runs `work` in a read-only transaction.
    fn read<T>(
        &self,
        work: impl FnOnce(&dyn Tx) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.store
            .run(false, |tx| work(tx).map(|t| (t, End::Commit)))
    }

    /// The server's signing key: from its key file, or made on first use and kept in
    /// the store.
    fn signing_key(&self) -> Result<SigningKey, StorageError> {
        let stored = match &self.secrets {
            Some(s) => hex::decode(&s.signing_key).ok(),
            None => {
                let kept = self.read(|tx| {
                    keys_inside(tx)?;
                    Ok(tx.server_secrets()?.0)
                })?;
                Some(match kept {
                    Some(k) => k,
                    None => {
                        let new: [u8; 32] = rand::random();
                        self.write(|tx| {
                            keys_inside(tx)?;
                            tx.init_signing_key(&new)
                        })?
                    }
                })
            }
        };
        let secret: [u8; 32] = stored
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StorageError::Internal("server key damaged".into()))?;
        Ok(SigningKey::from_bytes(&secret))
    }

    /// The audit chains' heads, written outside the store too (beside it, when it has
    /// a directory): whoever edits the store must also edit this file.
    fn write_heads_file(&self) -> Result<(), StorageError> {
        let Some(file) = self.heads_file() else {
            return Ok(());
        };
        // Read and written inside a write transaction: two writers never leave an
        // older snapshot last.
        self.write(|tx| {
            let heads = tx.audit_heads()?;
            let tmp = file.with_extension(format!("json.{}.tmp", std::process::id()));
            let json = serde_json::to_vec_pretty(&heads)
                .map_err(|e| StorageError::Internal(e.to_string()))?;
            std::fs::write(&tmp, json)
                .and_then(|()| std::fs::rename(&tmp, &file))
                .map_err(|e| StorageError::Internal(format!("audit heads file: {e}")))
        })
    }

    fn heads_file(&self) -> Option<std::path::PathBuf> {
        self.store.dir().map(|d| d.join("audit-heads.json"))
    }

    /// What a sync needs besides the store.
    fn context<'a>(&'a self, server_key: Option<&'a VerifyingKey>) -> sync::Context<'a> {
        sync::Context {
            limits: &self.limits,
            book: self.book,
            server_key,
            set: super::indicator_set(),
            now_ms: super::now_ms,
            audited: std::cell::Cell::new(false),
        }
    }

    /// One sync in one transaction; with `server_recipient`, also the bundle keys of
    /// the device's areas when its digest of them is out of date.
    fn sync_with(
        &self,
        session: &Session,
        req: &SyncRequest,
        page_limit: usize,
        server_recipient: Option<&str>,
    ) -> Result<SyncResponse, StorageError> {
        // Only relayed bundles need the server's key, read before the sync's
        // transaction (reading it may write it).
        let server_key = match req.bundles.is_empty() {
            true => None,
            false => Some(self.server_key()?),
        };
        let cx = self.context(server_key.as_ref());
        let run = |tx: &dyn Tx| {
            let ident = Identity::read(tx)?.unwrap_or_default();
            let mut resp = sync::sync(tx, &cx, &ident, &session.device, req, page_limit)?;
            if let Some(server) = server_recipient {
                let mut keys = area_keys(tx, &session.user)?;
                keys.push(server.to_string());
                if req.recipients_seen != Some(bundle::recipients_digest(&keys)) {
                    resp.recipients = Some(keys);
                }
            }
            Ok(resp)
        };
        // A sync that only pulls reads: it waits for no writer and no writer for it.
        let resp = match sync::writes(req) {
            true => self.write(run)?,
            false => self.read(run)?,
        };
        use std::sync::atomic::Ordering;
        if cx.audited.get() || self.heads_stale.load(Ordering::Relaxed) {
            // Decisions (or relayed work) joined the audit log, or an earlier write of
            // the file failed after its commit.
            let written = self.write_heads_file();
            self.heads_stale.store(written.is_err(), Ordering::Relaxed);
            written?;
        }
        Ok(resp)
    }
}

/// The bundle keys of the devices that hold every area of `user`, in one order (the
/// device compares them by digest).
fn area_keys(tx: &dyn Tx, user: &str) -> Result<Vec<String>, StorageError> {
    let mut keys = tx.area_recipients(user, MAX_RECIPIENTS)?;
    keys.sort();
    Ok(keys)
}

/// Refuses to read or make the server's keys in the store once they moved to a key
/// file: a server started without it must not certify devices with a new key.
fn keys_inside(tx: &dyn Tx) -> Result<(), StorageError> {
    if tx.keys_outside()? {
        return Err(StorageError::Invalid(
            "the server's keys live in a key file: give it with --key-file (or JEMPUT_KEY_FILE)"
                .into(),
        ));
    }
    Ok(())
}

/// A stored zone name; one this server cannot read (a hand-edited database) is WIB,
/// with a warning, rather than every login and export of the kelurahan failing.
fn stored_zone(name: Option<String>) -> Zone {
    name.map_or(Zone::default(), |z| {
        Zone::parse(&z).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "kelurahan_settings.zone unreadable; using WIB");
            Zone::default()
        })
    })
}

/// A stored round; one this server cannot read is a month, with a warning.
fn stored_period(name: Option<String>) -> PeriodKind {
    name.map_or(PeriodKind::default(), |p| {
        PeriodKind::parse(&p).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "kelurahan_settings.period unreadable; using month");
            PeriodKind::default()
        })
    })
}

/// Stored deadlines; unreadable ones are the defaults, with a warning.
pub(crate) fn stored_deadlines(json: Option<String>) -> jemput_core::muskel::Deadlines {
    json.map_or_else(Default::default, |j| {
        serde_json::from_str(&j).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "kelurahan_settings.deadlines unreadable; using the defaults");
            Default::default()
        })
    })
}

/// The settings of the user's first kelurahan that has any (by code).
fn user_settings(tx: &dyn Tx, user: &str) -> Result<Option<SettingsRow>, StorageError> {
    for area in tx.areas(user)? {
        if let Some(s) = tx.settings(&area.kelurahan)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// The shortest lock time of the user's kelurahans.
fn lock_minutes(tx: &dyn Tx, user: &str) -> Result<u8, StorageError> {
    let mut shortest = None;
    for area in tx.areas(user)? {
        if let Some(m) = tx.settings(&area.kelurahan)?.and_then(|s| s.lock_minutes) {
            shortest = Some(shortest.map_or(m, |s: u8| s.min(m)));
        }
    }
    Ok(shortest.unwrap_or(jemput_core::rules::DEFAULT_LOCK_MINUTES))
}

impl<S: Store> Storage for Server<S> {
    fn add_user(&self, name: &str, role: Role, password: &str) -> Result<(), StorageError> {
        if name.trim().is_empty() {
            return Err(StorageError::Invalid(
                "the user name must not be empty".into(),
            ));
        }
        let hash = accounts::check_new_password(password)?;
        let now = super::now_ms();
        self.write(|tx| {
            tx.put_user(name, role, &hash, now)?;
            // A new password ends every token of the user: each device logs in again.
            tx.end_tokens(name)
        })
    }

    fn assign(&self, user: &str, area: &Area) -> Result<(), StorageError> {
        match self.write(|tx| tx.assign(user, area))? {
            true => Ok(()),
            false => Err(StorageError::NoUser(user.to_string())),
        }
    }

    fn unassign(&self, user: &str, area: &Area) -> Result<(), StorageError> {
        self.write(|tx| tx.unassign(user, area))
    }

    fn areas(&self, user: &str) -> Result<Vec<Area>, StorageError> {
        self.read(|tx| tx.areas(user))
    }

    fn set_device_recipient(&self, device: &str, recipient: &str) -> Result<(), StorageError> {
        self.write(|tx| tx.set_device_recipient(device, recipient))
    }

    fn area_recipients(&self, user: &str) -> Result<Vec<String>, StorageError> {
        self.read(|tx| area_keys(tx, user))
    }

    fn bundle_identity(&self) -> Result<String, StorageError> {
        if let Some(s) = &self.secrets {
            return Ok(s.bundle_identity.clone());
        }
        let kept = self.read(|tx| {
            keys_inside(tx)?;
            Ok(tx.server_secrets()?.1)
        })?;
        match kept {
            Some(identity) => Ok(identity),
            None => {
                let (identity, _) = bundle::new_identity();
                self.write(|tx| {
                    keys_inside(tx)?;
                    tx.init_bundle_identity(&identity)
                })
            }
        }
    }

    fn lock_minutes(&self, user: &str) -> Result<u8, StorageError> {
        self.read(|tx| lock_minutes(tx, user))
    }

    fn set_lock_minutes(&self, kelurahan: &str, minutes: u8) -> Result<(), StorageError> {
        if !(1..=30).contains(&minutes) {
            return Err(StorageError::Invalid(
                "the lock time is 1 to 30 minutes".into(),
            ));
        }
        let s = SettingsRow {
            lock_minutes: Some(minutes),
            ..SettingsRow::default()
        };
        self.write(|tx| tx.put_settings(kelurahan, &s))
    }

    fn zone(&self, kelurahan: &str) -> Result<Zone, StorageError> {
        let s = self.read(|tx| tx.settings(kelurahan))?;
        Ok(stored_zone(s.and_then(|s| s.zone)))
    }

    fn user_zone(&self, user: &str) -> Result<Zone, StorageError> {
        let s = self.read(|tx| user_settings(tx, user))?;
        Ok(stored_zone(s.and_then(|s| s.zone)))
    }

    fn set_zone(&self, kelurahan: &str, zone: Zone) -> Result<(), StorageError> {
        let s = SettingsRow {
            zone: Some(zone.name().to_string()),
            ..SettingsRow::default()
        };
        self.write(|tx| tx.put_settings(kelurahan, &s))
    }

    fn cases(&self, user: &str) -> Result<Vec<jemput_core::cases::Case>, StorageError> {
        self.read(|tx| super::cases::list(tx, user))
    }

    fn case_receive(
        &self,
        user: &str,
        new: jemput_core::cases::NewCase,
    ) -> Result<jemput_core::cases::Case, StorageError> {
        self.write(|tx| super::cases::receive(tx, user, new.clone()))
    }

    fn case_update(
        &self,
        user: &str,
        role: Role,
        id: &str,
        action: super::CaseAction,
    ) -> Result<jemput_core::cases::Case, StorageError> {
        let now = super::now_ms();
        self.write(|tx| match &action {
            super::CaseAction::Assign { kader } => {
                super::cases::assign(tx, user, role, id, kader, now)
            }
            super::CaseAction::Visit { visit } => {
                super::cases::link_visit(tx, user, role, id, visit, now)
            }
            super::CaseAction::Close { outcome, note } => {
                super::cases::close(tx, user, role, id, outcome, note, now)
            }
        })
    }

    fn muskel_sessions(
        &self,
        user: &str,
    ) -> Result<Vec<jemput_core::muskel::Session>, StorageError> {
        self.read(|tx| super::muskel::list(tx, user))
    }

    fn muskel_open(
        &self,
        user: &str,
        role: Role,
        new: jemput_core::muskel::NewSession,
    ) -> Result<jemput_core::muskel::Session, StorageError> {
        self.write(|tx| super::muskel::open(tx, user, role, new, super::now_ms()))
    }

    fn muskel_decide(
        &self,
        user: &str,
        role: Role,
        session: &str,
        household: &str,
        kind: jemput_core::muskel::ProposalKind,
        outcome: jemput_core::muskel::Outcome,
        reason: &str,
    ) -> Result<jemput_core::muskel::Session, StorageError> {
        self.write(|tx| {
            super::muskel::decide(
                tx,
                user,
                role,
                session,
                household,
                kind,
                outcome,
                reason,
                super::now_ms(),
            )
        })
    }

    fn muskel_close(
        &self,
        user: &str,
        role: Role,
        session: &str,
    ) -> Result<jemput_core::muskel::Session, StorageError> {
        self.write(|tx| super::muskel::close(tx, user, role, session))
    }

    fn deadlines(&self, kelurahan: &str) -> Result<jemput_core::muskel::Deadlines, StorageError> {
        let s = self.read(|tx| tx.settings(kelurahan))?;
        Ok(stored_deadlines(s.and_then(|s| s.deadlines)))
    }

    fn user_deadlines(&self, user: &str) -> Result<jemput_core::muskel::Deadlines, StorageError> {
        let s = self.read(|tx| user_settings(tx, user))?;
        Ok(stored_deadlines(s.and_then(|s| s.deadlines)))
    }

    fn set_deadlines(
        &self,
        kelurahan: &str,
        d: jemput_core::muskel::Deadlines,
    ) -> Result<(), StorageError> {
        d.check().map_err(|e| StorageError::Refused(e.0))?;
        let s = SettingsRow {
            deadlines: serde_json::to_string(&d).ok(),
            ..SettingsRow::default()
        };
        self.write(|tx| tx.put_settings(kelurahan, &s))
    }

    fn period_kind(&self, kelurahan: &str) -> Result<PeriodKind, StorageError> {
        let s = self.read(|tx| tx.settings(kelurahan))?;
        Ok(stored_period(s.and_then(|s| s.period)))
    }

    fn user_period_kind(&self, user: &str) -> Result<PeriodKind, StorageError> {
        let s = self.read(|tx| user_settings(tx, user))?;
        Ok(stored_period(s.and_then(|s| s.period)))
    }

    fn set_period_kind(&self, kelurahan: &str, kind: PeriodKind) -> Result<(), StorageError> {
        let s = SettingsRow {
            period: Some(kind.name().to_string()),
            ..SettingsRow::default()
        };
        self.write(|tx| tx.put_settings(kelurahan, &s))
    }

    fn bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError> {
        Ok(self.read(|tx| tx.settings(kelurahan))?.and_then(|s| s.bps))
    }

    fn user_bps(&self, user: &str) -> Result<Option<String>, StorageError> {
        Ok(self.read(|tx| user_settings(tx, user))?.and_then(|s| s.bps))
    }

    fn set_bps(&self, kelurahan: &str, bps: &str) -> Result<(), StorageError> {
        let s = SettingsRow {
            bps: Some(bps.to_string()),
            ..SettingsRow::default()
        };
        self.write(|tx| tx.put_settings(kelurahan, &s))
    }

    fn credentials(&self, user: &str) -> Result<Option<(Role, String)>, StorageError> {
        self.read(|tx| accounts::credentials(tx, user))
    }

    fn register_device(
        &self,
        user: &str,
        role: Role,
        device_name: &str,
        device_key: Option<[u8; 32]>,
        actors: &[ActorId],
        key_proven: bool,
    ) -> Result<LoginOk, StorageError> {
        let now = super::now_ms();
        let (token, device, settings, lock_minutes) = self.write(|tx| {
            let (token, device) =
                accounts::register(tx, user, device_name, device_key, actors, key_proven, now)?;
            Ok((
                token,
                device,
                user_settings(tx, user)?,
                lock_minutes(tx, user)?,
            ))
        })?;
        let server = self.signing_key()?;
        let certificate =
            device_key.map(|k| hex::encode(bundle::certify(&server, &device, user, role, &k)));
        let (zone, bps, period, deadlines) = settings.map_or((None, None, None, None), |s| {
            (s.zone, s.bps, s.period, s.deadlines)
        });
        Ok(LoginOk {
            token,
            device,
            user: user.to_string(),
            role,
            server_key: hex::encode(server.verifying_key().to_bytes()),
            certificate,
            server_ms: super::now_ms(),
            lock_minutes,
            zone: stored_zone(zone),
            period: stored_period(period),
            deadlines: stored_deadlines(deadlines),
            bps,
            server_recipient: bundle::recipient_of(&self.bundle_identity()?).unwrap_or_default(),
        })
    }

    fn throttle(&self, key: &str) -> Result<(u32, i64), StorageError> {
        Ok(self
            .read(|tx| tx.throttle(key))?
            .map_or((0, 0), |(failures, until, _)| (failures, until)))
    }

    fn throttle_fail(
        &self,
        key: &str,
        now_ms: i64,
        until: &dyn Fn(u32) -> i64,
    ) -> Result<(u32, i64), StorageError> {
        self.write(|tx| accounts::throttle_fail(tx, key, now_ms, until))
    }

    fn throttle_reset(&self, key: &str) -> Result<(), StorageError> {
        self.write(|tx| tx.clear_throttle(key))
    }

    fn server_key(&self) -> Result<VerifyingKey, StorageError> {
        Ok(self.signing_key()?.verifying_key())
    }

    fn import_bundle(&self, bytes: &[u8]) -> Result<BundleImport, StorageError> {
        let server_key = self.server_key()?;
        let payload =
            bundle::read(bytes, &server_key).map_err(|e| StorageError::Invalid(e.to_string()))?;
        let cx = self.context(Some(&server_key));
        let (user, rejected) = self.write(|tx| {
            let signer = tx.origin(&payload.device)?.ok_or_else(|| {
                StorageError::Invalid("the bundle's device is unknown to this server".into())
            })?;
            if signer.revoked {
                return Err(StorageError::Invalid(
                    "the bundle's device was revoked: refused".into(),
                ));
            }
            Ok((signer.user, sync::apply_bundle(tx, &cx, &payload, 0)?))
        })?;
        self.write_heads_file()?;
        Ok(BundleImport {
            device: payload.device.clone(),
            user,
            accepted: payload.docs.len() - rejected.len(),
            rejected,
        })
    }

    fn token_state(&self, token: &str) -> Result<TokenState, StorageError> {
        let now = super::now_ms();
        let (state, last_seen_ms) = self.read(|tx| accounts::token_state(tx, token, now))?;
        // When a device was last seen is kept to the minute: most requests write nothing.
        if let TokenState::Valid(session) = &state {
            if now - last_seen_ms >= accounts::SEEN_EVERY_MS {
                self.write(|tx| tx.touch_device(&session.device, now))?;
            }
        }
        Ok(state)
    }

    fn device_record(&self, device: &str) -> Result<Option<DeviceRecord>, StorageError> {
        self.read(|tx| accounts::device_record(tx, device))
    }

    fn put_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        self.write(|tx| tx.put_challenge(device, challenge, expires_ms, super::now_ms()))
    }

    fn take_challenge(
        &self,
        device: &str,
        challenge: &[u8],
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        self.write(|tx| tx.take_challenge(device, challenge, now_ms))
    }

    fn set_token(
        &self,
        device: &str,
        token: Option<&str>,
        expires_ms: i64,
    ) -> Result<(), StorageError> {
        self.write(|tx| match token {
            Some(t) => tx.set_token(device, &crate::auth::token_hash(t), expires_ms),
            // Logged out: the token ends, and only a password login starts a new one.
            None => tx.log_out(device),
        })
    }

    fn set_password(&self, user: &str, password: &str) -> Result<bool, StorageError> {
        let hash = accounts::check_new_password(password)?;
        self.write(|tx| {
            let known = tx.set_password_hash(user, &hash, super::now_ms())?;
            tx.end_tokens(user)?;
            Ok(known)
        })
    }

    fn set_disabled(&self, user: &str, disabled: bool) -> Result<bool, StorageError> {
        self.write(|tx| tx.set_disabled(user, disabled))
    }

    fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, StorageError> {
        self.read(|tx| tx.devices(user))
    }

    fn audit(&self, event: crate::audit::Event<'_>) -> Result<(), StorageError> {
        self.write(|tx| tx.audit(event))?;
        self.write_heads_file()
    }

    fn audit_entries(&self, since_ms: i64) -> Result<Vec<crate::audit::Entry>, StorageError> {
        self.read(|tx| tx.audit_entries(since_ms))
    }

    fn audit_heads(&self) -> Result<(AuditHeads, Option<AuditHeads>), StorageError> {
        let stored = self.read(|tx| tx.audit_heads())?;
        let file = self
            .heads_file()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        Ok((stored, file))
    }

    fn revoke_device(&self, device: &str) -> Result<bool, StorageError> {
        self.write(|tx| tx.revoke_device(device))
    }

    fn insert_households(&self, households: &[NewHousehold]) -> Result<usize, StorageError> {
        self.write(|tx| registry::insert_households(tx, households))
    }

    fn household_count(&self) -> Result<u64, StorageError> {
        self.read(|tx| tx.household_count())
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn document(&self, id: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.read(|tx| tx.household(id))?.map(|s| s.doc))
    }

    fn households(
        &self,
        kelurahan: Option<&str>,
        rw: Option<u16>,
    ) -> Result<Vec<HouseholdArea>, StorageError> {
        self.read(|tx| tx.households(kelurahan, rw))
    }

    fn quarantine_reports(&self) -> Result<Vec<QuarantineReport>, StorageError> {
        self.read(|tx| tx.quarantine_reports())
    }

    fn heads(&self) -> Result<BTreeMap<String, Vec<String>>, StorageError> {
        let all = self.read(|tx| tx.all_heads())?;
        Ok(all
            .into_iter()
            .map(|(id, heads)| {
                let mut hex: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
                hex.sort();
                (id, hex)
            })
            .collect())
    }

    fn move_household(
        &self,
        id: &str,
        rw: u16,
        rt: u16,
        by: &Author,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        self.store.run(true, |tx| {
            let moved = super::moves::move_household(tx, id, (rw, rt), by, now_ms)?;
            Ok((moved, if moved { End::Commit } else { End::Rollback }))
        })
    }

    fn sync(
        &self,
        session: &Session,
        req: &SyncRequest,
        page_limit: usize,
    ) -> Result<SyncResponse, StorageError> {
        self.sync_with(session, req, page_limit, None)
    }

    fn sync_answer(
        &self,
        session: &Session,
        req: &SyncRequest,
        page_limit: usize,
        server_recipient: &str,
    ) -> Result<SyncResponse, StorageError> {
        self.sync_with(session, req, page_limit, Some(server_recipient))
    }

    fn export_rows(
        &self,
        kelurahan: &str,
        cutoff_ms: i64,
    ) -> Result<Vec<(ExportRow, i64)>, StorageError> {
        let mut rows = self.read(|tx| tx.export_rows(kelurahan, cutoff_ms))?;
        rows.sort_by(|(a, _), (b, _)| (a.rw, a.rt, &a.id).cmp(&(b.rw, b.rt, &b.id)));
        Ok(rows)
    }

    fn import_registry(
        &self,
        parsed: Parsed,
        kelurahan: &str,
        how: &registry::ImportRun<'_>,
        progress: &mut dyn FnMut(usize, usize) -> bool,
    ) -> Result<(Counts, Coverage), StorageError> {
        self.store.run(true, |tx| {
            let done = registry::import(tx, parsed, kelurahan, how, progress)?;
            Ok((
                done,
                if how.dry_run {
                    End::Rollback
                } else {
                    End::Commit
                },
            ))
        })
    }

    fn kelurahan_bps(&self, kelurahan: &str) -> Result<Option<String>, StorageError> {
        self.read(|tx| registry::kelurahan_bps(tx, kelurahan))
    }

    fn server_value(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.read(|tx| tx.server_value(key))
    }

    fn set_server_value(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.write(|tx| tx.put_server_value(key, value))
    }

    fn server_id(&self) -> Result<u64, StorageError> {
        self.write(|tx| Identity::get(tx).map(|i| i.id))
    }

    fn restored(&self, replaced: Option<u64>) -> Result<u64, StorageError> {
        let ident = self.write(|tx| {
            let ident = Identity::renew(tx, replaced, super::now_ms())?;
            tx.audit(crate::audit::Event {
                chain: crate::audit::SERVER_CHAIN,
                kind: "restored",
                by: "admin",
                detail: serde_json::json!({ "server_id": format!("{:016x}", ident.id) }),
            })?;
            Ok(ident)
        })?;
        // The chains lost what came after the backup: their heads are the backup's now.
        self.write_heads_file()?;
        Ok(ident.id)
    }
}
