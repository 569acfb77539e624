//! The key of a device's encrypted store (SQLCipher). A random 32-byte store key
//! encrypts every table, the search index, the signing key and the token; it never sits
//! unwrapped in the home folder. It is kept wrapped (ChaCha20-Poly1305) in `keys.json`:
//! - by a key derived from the kader's PIN (Argon2id, 64 MiB, 3 passes): the app's PIN
//!   screen, `JEMPUT_PIN`, `--pin-stdin`; wrong PINs are counted by `pin`;
//! - by a key file outside the home (the user's config directory, mode 0600), for the
//!   headless client without a PIN.
//!
//! On Android the store key would also be wrapped by the hardware keystore (designed,
//! not built here: nothing on this machine can test it).

use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use serde::{Deserialize, Serialize};

use crate::home::DeviceError;

/// How the store is opened.
#[derive(Clone)]
pub enum Unlock {
    Pin(String),
    /// The key file in this folder (outside the home).
    KeyFile(PathBuf),
}

impl Unlock {
    /// `JEMPUT_PIN` if set, otherwise the key file in the user's config directory.
    pub fn from_env() -> Unlock {
        match std::env::var("JEMPUT_PIN") {
            Ok(pin) if !pin.is_empty() => Unlock::Pin(pin),
            _ => Unlock::KeyFile(default_key_dir()),
        }
    }
}

/// `$XDG_CONFIG_HOME/jemput/keys` (or `~/.config/jemput/keys`).
pub fn default_key_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("jemput").join("keys")
}

#[derive(Serialize, Deserialize, Default)]
struct KeysFile {
    /// The store key wrapped by the PIN's key.
    pin: Option<Wrapped>,
    /// The store key wrapped by the key file `<key dir>/<file_id>.key`.
    file: Option<Wrapped>,
    file_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Wrapped {
    /// Argon2id salt (hex), for a PIN.
    #[serde(default)]
    salt: String,
    nonce: String,
    sealed: String,
}

const KEYS: &str = "keys.json";

/// The store key of the home at `dir`: unwrapped with `unlock`, or made anew (and
/// wrapped with it) for a home that has none yet.
pub fn store_key(dir: &Path, unlock: &Unlock) -> Result<[u8; 32], DeviceError> {
    key_of(dir, unlock, true)
}

fn key_of(dir: &Path, unlock: &Unlock, create: bool) -> Result<[u8; 32], DeviceError> {
    crate::pin::finish_erase(dir)?;
    let path = dir.join(KEYS);
    let mut keys: KeysFile = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| DeviceError::Invalid(format!("keys.json is damaged: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeysFile::default(),
        Err(e) => return Err(e.into()),
    };
    let fresh = keys.pin.is_none() && keys.file.is_none();
    if fresh && !create {
        return Err(DeviceError::Invalid(
            "this phone's store key is gone: it cannot be opened".into(),
        ));
    }
    if fresh {
        let key: [u8; 32] = rand::random();
        wrap_with(&mut keys, unlock, &key)?;
        // Two processes opening a new home at once: only the first key is kept (a
        // hard link never replaces), the other process uses it.
        let tmp = unique_tmp(&path);
        jemput_core::files::create_private(
            &tmp,
            &serde_json::to_vec_pretty(&keys).map_err(io_json)?,
        )?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        return match linked {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => key_of(dir, unlock, create),
            Err(e) => Err(e.into()),
        };
    }
    let key = match unlock {
        Unlock::Pin(pin) => {
            let w = keys.pin.as_ref().ok_or_else(|| {
                DeviceError::Invalid("this store has no PIN: open it without JEMPUT_PIN".into())
            })?;
            let salt = hex_bytes(&w.salt)?;
            let now_ms = jemput_core::Clock::now_ms(&jemput_core::SystemClock);
            crate::pin::attempt(dir, now_ms, || open(&pin_key(pin, &salt).ok()?, w))?
        }
        Unlock::KeyFile(key_dir) => {
            let (Some(w), Some(id)) = (&keys.file, &keys.file_id) else {
                return Err(DeviceError::Invalid(
                    "this phone's store is locked with a PIN: set JEMPUT_PIN or use --pin-stdin"
                        .into(),
                ));
            };
            let kek = read_key_file(&key_dir.join(format!("{id}.key")))?;
            open(&kek, w).ok_or_else(|| {
                DeviceError::Invalid("the key file does not open this store".into())
            })?
        }
    };
    Ok(key)
}

/// Checks a PIN against an existing store (counted like any try) and never makes a
/// store key: the relocked app, whose store is already open.
pub fn check_pin(dir: &Path, pin: &str) -> Result<(), DeviceError> {
    key_of(dir, &Unlock::Pin(pin.to_string()), false).map(|_| ())
}

/// The shortest PIN.
pub const PIN_MIN_DIGITS: usize = 6;

/// Whether `pin` may become a PIN: digits only, at least [`PIN_MIN_DIGITS`].
pub fn check_new_pin(pin: &str) -> Result<(), DeviceError> {
    if pin.len() < PIN_MIN_DIGITS || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(DeviceError::Invalid(format!(
            "a PIN is at least {PIN_MIN_DIGITS} digits"
        )));
    }
    Ok(())
}

/// Whether the home at `dir` has a store key wrapped by a PIN.
pub fn has_pin(dir: &Path) -> bool {
    std::fs::read(dir.join(KEYS))
        .ok()
        .and_then(|b| serde_json::from_slice::<KeysFile>(&b).ok())
        .is_some_and(|k| k.pin.is_some())
}

/// Moves a store opened by a key file to a PIN: the store key is wrapped by the PIN,
/// and the key file's wrapping and the key file itself are erased (the app, when it
/// first asks for a PIN on a phone set up before it did).
pub fn move_to_pin(dir: &Path, key_dir: &Path, pin: &str) -> Result<(), DeviceError> {
    let key = store_key(dir, &Unlock::KeyFile(key_dir.to_path_buf()))?;
    let path = dir.join(KEYS);
    let mut keys: KeysFile = serde_json::from_slice(&std::fs::read(&path)?).map_err(io_json)?;
    let file = keys
        .file_id
        .take()
        .map(|id| key_dir.join(format!("{id}.key")));
    keys.file = None;
    wrap_with(&mut keys, &Unlock::Pin(pin.to_string()), &key)?;
    write_private(&path, &serde_json::to_vec_pretty(&keys).map_err(io_json)?)?;
    if let Some(file) = file {
        let _ = crate::pin::overwrite(&file);
        let _ = std::fs::remove_file(&file);
    }
    Ok(())
}

/// Where the key file of the home at `dir` is, if it has one.
pub fn key_file_of(dir: &Path, key_dir: &Path) -> Option<PathBuf> {
    let keys: KeysFile = serde_json::from_slice(&std::fs::read(dir.join(KEYS)).ok()?).ok()?;
    keys.file_id.map(|id| key_dir.join(format!("{id}.key")))
}

fn wrap_with(keys: &mut KeysFile, unlock: &Unlock, key: &[u8; 32]) -> Result<(), DeviceError> {
    match unlock {
        Unlock::Pin(pin) => {
            check_new_pin(pin)?;
            let salt: [u8; 16] = rand::random();
            let kek = pin_key(pin, &salt)?;
            let mut w = seal(&kek, key)?;
            w.salt = hex::encode(salt);
            keys.pin = Some(w);
        }
        Unlock::KeyFile(key_dir) => {
            let id = hex::encode(rand::random::<[u8; 8]>());
            let kek: [u8; 32] = rand::random();
            std::fs::create_dir_all(key_dir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(key_dir, std::fs::Permissions::from_mode(0o700));
            }
            write_private(
                &key_dir.join(format!("{id}.key")),
                hex::encode(kek).as_bytes(),
            )?;
            keys.file = Some(seal(&kek, key)?);
            keys.file_id = Some(id);
        }
    }
    Ok(())
}

fn pin_key(pin: &str, salt: &[u8]) -> Result<[u8; 32], DeviceError> {
    let params = argon2::Params::new(64 * 1024, 3, 1, Some(32))
        .map_err(|e| DeviceError::Invalid(format!("argon2: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(pin.as_bytes(), salt, &mut out)
        .map_err(|e| DeviceError::Invalid(format!("argon2: {e}")))?;
    Ok(out)
}

fn seal(kek: &[u8; 32], key: &[u8; 32]) -> Result<Wrapped, DeviceError> {
    let aead = LessSafeKey::new(
        UnboundKey::new(&CHACHA20_POLY1305, kek).map_err(|_| DeviceError::Invalid("key".into()))?,
    );
    let nonce: [u8; 12] = rand::random();
    let mut buf = key.to_vec();
    aead.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
        .map_err(|_| DeviceError::Invalid("cannot wrap the store key".into()))?;
    Ok(Wrapped {
        salt: String::new(),
        nonce: hex::encode(nonce),
        sealed: hex::encode(buf),
    })
}

fn open(kek: &[u8; 32], w: &Wrapped) -> Option<[u8; 32]> {
    let aead = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, kek).ok()?);
    let nonce: [u8; 12] = hex::decode(&w.nonce).ok()?.try_into().ok()?;
    let mut buf = hex::decode(&w.sealed).ok()?;
    let plain = aead
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
        .ok()?;
    plain.try_into().ok()
}

fn read_key_file(path: &Path) -> Result<[u8; 32], DeviceError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DeviceError::Invalid(format!(
            "the store's key file {} cannot be read ({e}): without it (or the PIN) the store stays locked",
            path.display()
        ))
    })?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DeviceError::Invalid(format!("{} is not a key file", path.display())))
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, DeviceError> {
    hex::decode(s).map_err(|_| DeviceError::Invalid("keys.json is damaged".into()))
}

fn io_json(e: serde_json::Error) -> DeviceError {
    DeviceError::Invalid(e.to_string())
}

/// Writes a file only its owner can read (0600), whole or not at all.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DeviceError> {
    let tmp = unique_tmp(path);
    jemput_core::files::create_private(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    jemput_core::files::sync_parent(path)?;
    Ok(())
}

/// A temporary name beside `path` that no other writer uses.
fn unique_tmp(path: &Path) -> PathBuf {
    path.with_extension(format!(
        "{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ))
}
