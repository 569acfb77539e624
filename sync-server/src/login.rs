//! Logins that cannot be abused, on any storage backend:
//! - password checks run on [`MAX_CHECKS`] threads of their own (argon2 takes about
//!   19 MiB each; on the shared blocking pool every new thread kept its own 19 MiB
//!   arena, 4.6 GB after 256 wrong logins), with a bounded queue, so a flood of logins
//!   cannot exhaust the server's memory;
//! - an unknown user costs the same password check as a wrong password, so user names
//!   cannot be told apart by time;
//! - per account: from the 5th failure in a row, the account is held back 15 s, then
//!   twice as long at each further failure, up to 15 min (`429` + `Retry-After`, the
//!   password is not even checked); a success resets the count;
//! - per address: from the 20th failure, a wrong password answers `429` with a hold
//!   that doubles up to 60 s; never a lockout: a correct password is never held back
//!   by its address.
//!
//! Only failures count. The counts live in the store (`throttle`), so several server
//! processes share them.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use automerge::ActorId;

use crate::service::{LoginOk, Role, Storage, StorageError};

pub const MAX_CHECKS: usize = 4;
const ACCOUNT_FREE: u32 = 5;
const ACCOUNT_FIRST_MS: i64 = 15_000;
const ACCOUNT_MAX_MS: i64 = 15 * 60_000;
const ADDRESS_FREE: u32 = 20;
const ADDRESS_FIRST_MS: i64 = 1_000;
const ADDRESS_MAX_MS: i64 = 60_000;

/// How long `failures` failures hold a key back: nothing below `free`, then `first_ms`
/// doubling at each further failure, at most `max_ms`.
fn hold_ms(failures: u32, free: u32, first_ms: i64, max_ms: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(30);
    first_ms.saturating_mul(1 << doublings).min(max_ms)
}

pub fn account_hold_ms(failures: u32) -> i64 {
    hold_ms(failures, ACCOUNT_FREE, ACCOUNT_FIRST_MS, ACCOUNT_MAX_MS)
}

pub fn address_hold_ms(failures: u32) -> i64 {
    hold_ms(failures, ADDRESS_FREE, ADDRESS_FIRST_MS, ADDRESS_MAX_MS)
}

/// The role if `password` is the user's; an unknown user (`None`) is checked against a
/// stand-in hash, so both take the same time.
pub fn check_password(credentials: Option<(Role, String)>, password: &str) -> Option<Role> {
    static STAND_IN: OnceLock<String> = OnceLock::new();
    match credentials {
        Some((role, hash)) => crate::auth::verify_password(password, &hash).then_some(role),
        None => {
            let hash = STAND_IN.get_or_init(|| {
                crate::auth::hash_password("not a password anyone has").unwrap_or_default()
            });
            let _ = crate::auth::verify_password(password, hash);
            None
        }
    }
}

/// One login as it arrived.
pub struct Attempt {
    pub user: String,
    pub password: String,
    pub device_name: String,
    pub device_key: Option<[u8; 32]>,
    pub actors: Vec<ActorId>,
    pub key_proven: bool,
    pub address: Option<IpAddr>,
    /// The device's bundle key (`age1…`, checked), when it sent one.
    pub age_recipient: Option<String>,
}

pub enum Outcome {
    Ok(Box<LoginOk>),
    Wrong,
    /// Held back: try again after this many seconds.
    Held(u64),
}

/// Logins waiting for a password check; beyond, a login is told to come back.
const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce() + Send>;

/// Where logins pass: the threads that check passwords, and their queue.
pub struct Gate {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl Default for Gate {
    fn default() -> Gate {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..MAX_CHECKS {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking check must not take its thread with it (its
                        // login gets no answer: the caller sees an internal error).
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return, // the gate is gone
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-check thread");
            }
        }
        Gate { jobs }
    }
}

impl Gate {
    pub async fn login(
        &self,
        storage: Arc<dyn Storage>,
        attempt: Attempt,
    ) -> Result<Outcome, StorageError> {
        let now = crate::service::now_ms();
        let account = format!("user:{}", attempt.user);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(decide(storage.as_ref(), &attempt, &account, now));
        });
        if let Err(e) = self.jobs.try_send(job) {
            tracing::warn!(error = %e, "login refused: password checks queue full");
            return Ok(Outcome::Held(1));
        }
        answer
            .await
            .map_err(|_| StorageError::Internal("password check failed".into()))?
    }
}

fn decide(
    storage: &dyn Storage,
    a: &Attempt,
    account: &str,
    queued_at: i64,
) -> Result<Outcome, StorageError> {
    // The time of the check, not of the queueing: a hold that began meanwhile counts.
    let now = crate::service::now_ms().max(queued_at);
    let held_until = storage.throttle(account)?.1;
    if held_until > now {
        tracing::warn!(user = %a.user, "login refused: account held back");
        return Ok(Outcome::Held(seconds(held_until - now)));
    }
    if let Some(role) = check_password(storage.credentials(&a.user)?, &a.password) {
        storage.throttle_reset(account)?;
        let ok = storage.register_device(
            &a.user,
            role,
            &a.device_name,
            a.device_key,
            &a.actors,
            a.key_proven,
        )?;
        if let Some(r) = &a.age_recipient {
            storage.set_device_recipient(&ok.device, r)?;
        }
        tracing::info!(user = %a.user, device = %ok.device, "login");
        storage.audit(crate::audit::Event {
            chain: crate::audit::SERVER_CHAIN,
            kind: "login",
            by: &a.user,
            detail: serde_json::json!({ "device": ok.device, "address": address(a) }),
        })?;
        return Ok(Outcome::Ok(Box::new(ok)));
    }
    let hold = |f: u32| now + account_hold_ms(f);
    let (failures, until) = storage.throttle_fail(account, now, &hold)?;
    let held = until > now;
    if held {
        tracing::warn!(user = %a.user, failures, hold_s = seconds(until - now), "login failed: account held back");
    } else {
        tracing::info!(user = %a.user, failures, "login failed");
    }
    storage.audit(crate::audit::Event {
        chain: crate::audit::SERVER_CHAIN,
        kind: if held { "lockout" } else { "login_failed" },
        by: &a.user,
        detail: serde_json::json!({
            "failures": failures,
            "hold_s": if held { seconds(until - now) } else { 0 },
            "address": address(a),
        }),
    })?;
    if let Some(ip) = a.address {
        let hold = |f: u32| now + address_hold_ms(f);
        let (failures, until) = storage.throttle_fail(&format!("addr:{ip}"), now, &hold)?;
        if until > now {
            tracing::warn!(address = %ip, failures, "login failed: address held back");
            return Ok(Outcome::Held(seconds(until - now)));
        }
    }
    Ok(Outcome::Wrong)
}

fn address(a: &Attempt) -> String {
    a.address.map(|ip| ip.to_string()).unwrap_or_default()
}

fn seconds(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_start_at_the_fifth_failure_and_double_to_fifteen_minutes() {
        let holds: Vec<i64> = (1..=13).map(account_hold_ms).collect();
        assert_eq!(&holds[..4], &[0, 0, 0, 0]);
        assert_eq!(holds[4], 15_000);
        assert_eq!(holds[5], 30_000);
        assert_eq!(holds[10], 900_000);
        assert_eq!(holds[12], 900_000);
        assert_eq!(account_hold_ms(u32::MAX), 900_000);
        assert_eq!(address_hold_ms(19), 0);
        assert_eq!(address_hold_ms(20), 1_000);
        assert_eq!(address_hold_ms(40), 60_000);
    }
}
