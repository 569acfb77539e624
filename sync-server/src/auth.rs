//! Passwords (argon2id) and bearer tokens (random, stored only as a SHA-256 hash).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

thread_local! {
    /// Argon2's working memory (about 19 MiB), kept by each thread that checks
    /// passwords: allocating it anew for each check left the allocator holding several
    /// copies per thread (877 MiB after 64 wrong logins on 4 threads).
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(hash).ok()?;
        let params = argon2::Params::try_from(&parsed).ok()?;
        let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => argon2::Version::try_from(v).ok()?,
            None => argon2::Version::default(),
        };
        let expected = parsed.hash?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let mut out = vec![0u8; expected.len()];
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params);
        MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() < blocks {
                m.resize(blocks, argon2::Block::default());
            }
            argon
                .hash_password_into_with_memory(
                    password.as_bytes(),
                    salt,
                    &mut out,
                    &mut m[..blocks],
                )
                .ok()
        })?;
        // Constant time: every byte is compared whatever the first difference.
        Some(
            out.iter()
                .zip(expected.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0,
        )
    };
    check().unwrap_or(false)
}

pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_and_others_do_not() {
        let h = hash_password("rahasia-123").expect("hash");
        assert!(verify_password("rahasia-123", &h));
        assert!(!verify_password("rahasia-124", &h));
        assert!(!verify_password("", &h));
        assert!(!verify_password("rahasia-123", "not a hash"));
    }
}
