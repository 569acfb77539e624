//! Users, devices and sessions over the store: who may log in, what a token is, how a
//! device registers and which of its actors it takes over. Password hashing and the
//! throttle's arithmetic live in `crate::auth` and `crate::login`; the store keeps rows.

use automerge::ActorId;
use jemput_core::rules::Role;

use super::api::{DeviceRecord, Session, TokenState};
use super::store::{NewDevice, Tx};
use crate::error::StorageError;

/// Failures older than this are forgotten: a few typos a week never add up.
const THROTTLE_MEMORY_MS: i64 = 24 * 3600 * 1000;

/// A user who may log in: not disabled, and an admin or holding an area. Anyone else
/// answers like an unknown user.
pub fn credentials(tx: &dyn Tx, user: &str) -> Result<Option<(Role, String)>, StorageError> {
    let Some(row) = tx.user(user)? else {
        return Ok(None);
    };
    if row.disabled || (row.role != Role::Admin && tx.areas(user)?.is_empty()) {
        return Ok(None);
    }
    Ok(Some((row.role, row.password_hash)))
}

/// Registers a device of `user` whose password was checked: a new token (returned
/// with the device id), its actors bound.
pub fn register(
    tx: &dyn Tx,
    user: &str,
    device_name: &str,
    device_key: Option<[u8; 32]>,
    actors: &[ActorId],
    key_proven: bool,
    now_ms: i64,
) -> Result<(String, String), StorageError> {
    let token = crate::auth::new_token();
    let device = format!("d-{}", &crate::auth::new_token()[..16]);
    let key = device_key.as_ref().map(|k| &k[..]);
    tx.insert_device(&NewDevice {
        id: &device,
        user,
        name: device_name,
        token_hash: &crate::auth::token_hash(&token),
        public_key: key,
        now_ms,
        expires_ms: now_ms + crate::session::TOKEN_MS,
    })?;
    // The device's actors are its own from now on. An actor already bound moves only
    // from an earlier login of the same install (same user, same proven device key).
    for actor in actors {
        match tx.actor_owner(actor)? {
            None => tx.bind_actor(actor, &device, user)?,
            Some(old) => {
                let same_install = key_proven
                    && key.is_some()
                    && tx
                        .device(&old)?
                        .is_some_and(|d| d.user == user && d.public_key.as_deref() == key);
                if same_install {
                    tx.rebind_actor(actor, &device)?;
                    tx.name_author(actor, user)?;
                }
            }
        }
    }
    // The same install logging in again keeps its first registration: its unsent work
    // from before stays inside the accepted time window.
    if let (Some(key), true) = (key, key_proven) {
        if let Some(first) = tx.first_registered(user, key)? {
            tx.set_registered(&device, first)?;
        }
    }
    Ok((token, device))
}

/// How often a device's last contact is written: at most once a minute.
pub const SEEN_EVERY_MS: i64 = 60_000;

/// What a bearer token is, and when its device was last seen.
pub fn token_state(
    tx: &dyn Tx,
    token: &str,
    now_ms: i64,
) -> Result<(TokenState, i64), StorageError> {
    let Some((device, d, expires_ms)) = tx.device_by_token(&crate::auth::token_hash(token))? else {
        return Ok((TokenState::Unknown, 0));
    };
    let seen = d.last_seen_ms;
    let state = if d.revoked || d.disabled {
        TokenState::Revoked
    } else if expires_ms <= now_ms {
        TokenState::Expired
    } else if d.role != Role::Admin && tx.areas(&d.user)?.is_empty() {
        TokenState::NoArea
    } else {
        TokenState::Valid(Session {
            user: d.user,
            role: d.role,
            device,
        })
    };
    Ok((state, seen))
}

/// A device as the token renewal needs it.
pub fn device_record(tx: &dyn Tx, device: &str) -> Result<Option<DeviceRecord>, StorageError> {
    let Some(d) = tx.device(device)? else {
        return Ok(None);
    };
    let has_area = d.role == Role::Admin || !tx.areas(&d.user)?.is_empty();
    Ok(Some(DeviceRecord {
        public_key: d.public_key.and_then(|k| <[u8; 32]>::try_from(k).ok()),
        user: d.user,
        role: d.role,
        revoked: d.revoked,
        disabled: d.disabled,
        login_ms: d.login_ms,
        password_ms: d.password_ms,
        has_area,
    }))
}

/// Counts one more failure under `key` (the count of a day ago forgotten) and holds
/// it until `until` says: (failures, held until).
pub fn throttle_fail(
    tx: &dyn Tx,
    key: &str,
    now_ms: i64,
    until: &dyn Fn(u32) -> i64,
) -> Result<(u32, i64), StorageError> {
    let earlier = tx
        .throttle(key)?
        .filter(|&(_, _, last)| last > now_ms - THROTTLE_MEMORY_MS)
        .map_or(0, |(failures, _, _)| failures);
    let failures = earlier + 1;
    let until_ms = until(failures);
    tx.put_throttle(key, failures, until_ms, now_ms)?;
    Ok((failures, until_ms))
}

/// A password a user may have: at least 8 characters.
pub fn check_new_password(password: &str) -> Result<String, StorageError> {
    if password.chars().count() < 8 {
        return Err(StorageError::Invalid(
            "the password must have at least 8 characters".into(),
        ));
    }
    crate::auth::hash_password(password).map_err(StorageError::Internal)
}
