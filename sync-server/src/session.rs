//! Sessions that end, on any storage backend. An access token lives [`TOKEN_MS`]
//! (24 h). The long-term credential is the device key the server certified at the
//! password login: a device whose token expired — after any time offline — asks for a
//! one-time challenge, signs it with that key and gets a new token, unless the device
//! was revoked or its user disabled (then it must erase its data), the password
//! changed since its last password login or it logged out (then its user logs in
//! again with the password, and the device keeps its store and unsent work), or its
//! user has no area left.

use rand::RngCore;

use crate::service::{Storage, StorageError};

pub const TOKEN_MS: i64 = 24 * 3600 * 1000;
const CHALLENGE_MS: i64 = 5 * 60 * 1000;

/// A refusal to renew, with the code the device acts on.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Revoked device or disabled user: erase the data.
    Revoked,
    /// Log in again with the password (changed, or logged out); keep the data.
    PasswordNeeded,
    /// Not a device or challenge the server knows, or a bad signature.
    Unknown,
    NoArea,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Revoked => "revoked",
            Refusal::PasswordNeeded => "password_needed",
            Refusal::Unknown => "unauthenticated",
            Refusal::NoArea => "no_area",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Revoked => "this device was revoked by the office",
            Refusal::PasswordNeeded => {
                "log in again with your password (it was changed, or this device logged out); the work on this phone is kept"
            }
            Refusal::Unknown => "unknown device or challenge",
            Refusal::NoArea => "this user has no area any more",
        }
    }
}

/// A one-time challenge for `device` (32 random bytes, valid 5 minutes).
pub fn challenge(
    storage: &dyn Storage,
    device: &str,
    now_ms: i64,
) -> Result<Vec<u8>, StorageError> {
    let mut c = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut c);
    storage.put_challenge(device, &c, now_ms + CHALLENGE_MS)?;
    Ok(c)
}

/// A new token for `device` if `signature` is its key's over the challenge and nothing
/// ended its session: `(token, expires_ms)`.
pub fn refresh(
    storage: &dyn Storage,
    device: &str,
    challenge: &[u8],
    signature: &[u8],
    now_ms: i64,
) -> Result<Result<(String, i64), Refusal>, StorageError> {
    if !storage.take_challenge(device, challenge, now_ms)? {
        return Ok(Err(Refusal::Unknown));
    }
    let Some(d) = storage.device_record(device)? else {
        return Ok(Err(Refusal::Unknown));
    };
    let Some(key) = d.public_key else {
        return Ok(Err(Refusal::PasswordNeeded));
    };
    let message = jemput_core::bundle::refresh_message(device, challenge);
    if !jemput_core::bundle::signed_by(&key, &message, signature) {
        return Ok(Err(Refusal::Unknown));
    }
    if d.revoked || d.disabled {
        return Ok(Err(Refusal::Revoked));
    }
    if d.login_ms == 0 || d.password_ms > d.login_ms {
        return Ok(Err(Refusal::PasswordNeeded));
    }
    if !d.has_area {
        return Ok(Err(Refusal::NoArea));
    }
    let token = crate::auth::new_token();
    let expires = now_ms + TOKEN_MS;
    storage.set_token(device, Some(&token), expires)?;
    tracing::info!(user = %d.user, device, "token renewed");
    storage.audit(crate::audit::Event {
        chain: crate::audit::SERVER_CHAIN,
        kind: "token_renewed",
        by: &d.user,
        detail: serde_json::json!({ "device": device }),
    })?;
    Ok(Ok((token, expires)))
}
