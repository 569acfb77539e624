//! Sync by file, for when no network works: a bundle carries a device's unacknowledged
//! changes, signed by the device, with the server's certificate for the device's key.
//! Any device of the same server (or the server itself) checks both signatures before
//! applying anything; changes are content-addressed, so bundles merge in any order and
//! any number of times.
//!
//! Signed bundle: `JEMPUTB1` then zstd(CBOR {payload, signature}); the payload is the
//! CBOR of [`BundlePayload`], the signature the device key's Ed25519 signature over it.
//!
//! The file a device writes is that signed bundle encrypted in the age format
//! (age-encryption.org/v1, X25519) to the server and to the devices of the same areas
//! the device learned at its last sync ([`seal`]): a lost USB stick or a forwarded
//! chat message shows nobody a NIK. The reader decrypts with its own key ([`unseal`]),
//! then checks the signatures; a device relays the signed bundle, not the file.

use std::io::Read;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::sync::PushDoc;

pub const MAGIC: &[u8; 8] = b"JEMPUTB1";
pub const MAX_BUNDLE: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BundleError {
    #[error("not a Jemput bundle")]
    NotABundle,
    #[error("the bundle file is damaged (truncated or corrupted)")]
    Damaged,
    #[error("the bundle was altered after its device signed it: refused, nothing applied")]
    Tampered,
    #[error("the bundle comes from a device this server never certified (another server, or a forged key): refused, nothing applied")]
    Foreign,
    #[error("the bundle is encrypted for other devices (another area, or this device joined after it was made): nothing applied")]
    NotForUs,
    #[error("this device knows no key to encrypt the bundle for: log in again, then sync once")]
    NoRecipients,
}

/// How an encrypted bundle file starts: the age format's first header line.
pub const SEALED_MAGIC: &[u8] = b"age-encryption.org/v1\n";

/// A new X25519 key pair for bundles: (secret identity, public recipient `age1…`).
pub fn new_identity() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    (
        identity.to_string().expose_secret().to_string(),
        identity.to_public().to_string(),
    )
}

/// Whether `s` is an age X25519 recipient (`age1…`).
pub fn is_recipient(s: &str) -> bool {
    s.len() <= 100 && s.parse::<age::x25519::Recipient>().is_ok()
}

/// The public recipient of a secret identity.
pub fn recipient_of(identity: &str) -> Option<String> {
    identity
        .parse::<age::x25519::Identity>()
        .ok()
        .map(|i| i.to_public().to_string())
}

/// A short digest of a set of recipients (order and repeats do not matter): a device
/// sends the digest of the keys it knows, the server sends the keys when they differ.
pub fn recipients_digest(recipients: &[String]) -> u64 {
    use sha2::Digest;
    let set: std::collections::BTreeSet<&str> = recipients.iter().map(String::as_str).collect();
    let mut h = sha2::Sha256::new();
    for r in set {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    let d = h.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Encrypts a signed bundle to `recipients` (`age1…`; unparsable ones are skipped).
pub fn seal(signed: &[u8], recipients: &[String]) -> Result<Vec<u8>, BundleError> {
    use std::io::Write;
    let set: std::collections::BTreeSet<&str> = recipients.iter().map(String::as_str).collect();
    let keys: Vec<age::x25519::Recipient> = set.iter().filter_map(|r| r.parse().ok()).collect();
    if keys.is_empty() {
        return Err(BundleError::NoRecipients);
    }
    let encryptor = age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
        .map_err(|_| BundleError::NoRecipients)?;
    let mut out = Vec::with_capacity(signed.len() + 100 * keys.len() + 200);
    let sealed = (|| {
        let mut w = encryptor.wrap_output(&mut out)?;
        w.write_all(signed)?;
        w.finish()
    })();
    // Writing into memory fails only when memory does.
    sealed.map_err(|_| BundleError::NoRecipients)?;
    Ok(out)
}

/// The signed bundle inside a file: decrypted with `identity` (this device's or the
/// server's), at most `max` bytes; a file from before bundles were encrypted (a signed
/// bundle as is) is returned unchanged, since its signatures are what is checked.
pub fn unseal(file: &[u8], identity: &str, max: u64) -> Result<Vec<u8>, BundleError> {
    if file.starts_with(MAGIC) {
        return Ok(file.to_vec());
    }
    if !file.starts_with(SEALED_MAGIC) {
        return Err(BundleError::NotABundle);
    }
    let identity: age::x25519::Identity = identity.parse().map_err(|_| BundleError::NotForUs)?;
    let decryptor = age::Decryptor::new(file).map_err(|_| BundleError::Damaged)?;
    let reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => BundleError::NotForUs,
            _ => BundleError::Damaged,
        })?;
    let mut inner = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut inner)
        .map_err(|_| BundleError::Damaged)?;
    if inner.len() as u64 > max {
        return Err(BundleError::Damaged);
    }
    Ok(inner)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundlePayload {
    /// The server's id for the device that made the bundle.
    pub device: String,
    pub user: String,
    /// The device's Ed25519 public key.
    pub device_key: ByteBuf,
    /// The signer's role, as the server certified it: a device that imports the
    /// bundle judges its changes with the rule book for this role.
    pub role: crate::rules::Role,
    /// The server's signature over (device, user, role, device_key): see
    /// [`certificate_message`].
    pub certificate: ByteBuf,
    pub created_at: i64,
    pub docs: Vec<PushDoc>,
    /// Other devices' bundles this device imported and passes on whole: their
    /// changes are judged as their own signer's, which only their signature proves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<ByteBuf>,
}

#[derive(Serialize, Deserialize)]
struct BundleFile {
    payload: ByteBuf,
    signature: ByteBuf,
}

/// What the server signs when it certifies a device's key at login.
pub fn certificate_message(
    device: &str,
    user: &str,
    role: crate::rules::Role,
    device_key: &[u8],
) -> Vec<u8> {
    let mut m = b"jemput-device-certificate-v2\0".to_vec();
    m.extend_from_slice(device.as_bytes());
    m.push(0);
    m.extend_from_slice(user.as_bytes());
    m.push(0);
    m.extend_from_slice(role.as_str().as_bytes());
    m.push(0);
    m.extend_from_slice(device_key);
    m
}

/// What a device signs with its key at login, proving it holds the key whose
/// earlier logins' actors it claims (`actors`: hex, in the order sent).
pub fn login_proof_message(user: &str, device_name: &str, actors: &[String]) -> Vec<u8> {
    let mut m = b"jemput-login-v1\0".to_vec();
    m.extend_from_slice(user.as_bytes());
    m.push(0);
    m.extend_from_slice(device_name.as_bytes());
    for a in actors {
        m.push(0);
        m.extend_from_slice(a.as_bytes());
    }
    m
}

/// What a device signs with its key to renew its token: the server's one-time
/// challenge, for this device.
pub fn refresh_message(device: &str, challenge: &[u8]) -> Vec<u8> {
    let mut m = b"jemput-refresh-v1\0".to_vec();
    m.extend_from_slice(device.as_bytes());
    m.push(0);
    m.extend_from_slice(challenge);
    m
}

/// Whether `signature` (64 bytes) is `key`'s signature of `message`.
pub fn signed_by(key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (
        VerifyingKey::from_bytes(key),
        Signature::from_slice(signature),
    ) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

/// Whether `proof` (64 bytes) is the device key's signature of the login message.
pub fn login_proven(
    device_key: &[u8; 32],
    proof: &[u8],
    user: &str,
    device_name: &str,
    actors: &[String],
) -> bool {
    signed_by(
        device_key,
        &login_proof_message(user, device_name, actors),
        proof,
    )
}

pub fn certify(
    server: &SigningKey,
    device: &str,
    user: &str,
    role: crate::rules::Role,
    device_key: &[u8],
) -> Vec<u8> {
    server
        .sign(&certificate_message(device, user, role, device_key))
        .to_bytes()
        .to_vec()
}

pub fn write(payload: &BundlePayload, device_key: &SigningKey) -> Vec<u8> {
    let mut cbor = Vec::new();
    // Serialising into memory cannot fail.
    #[allow(clippy::expect_used)]
    ciborium::into_writer(payload, &mut cbor).expect("CBOR into memory");
    let signature = device_key.sign(&cbor).to_bytes().to_vec();
    let file = BundleFile {
        payload: ByteBuf::from(cbor),
        signature: ByteBuf::from(signature),
    };
    let mut body = Vec::new();
    #[allow(clippy::expect_used)]
    ciborium::into_writer(&file, &mut body).expect("CBOR into memory");
    let mut out = MAGIC.to_vec();
    #[allow(clippy::expect_used)]
    out.extend(zstd::encode_all(&body[..], 9).expect("zstd into memory"));
    out
}

/// Reads and checks a bundle: the device's signature over the payload, and the
/// server's certificate for the device's key (`server_key` is the server's public key).
pub fn read(bytes: &[u8], server_key: &VerifyingKey) -> Result<BundlePayload, BundleError> {
    read_limited(bytes, server_key, MAX_BUNDLE)
}

/// As [`read`], with at most `max` bytes once decompressed (a server reading bundles
/// relayed inside a sync request caps them like the request).
pub fn read_limited(
    bytes: &[u8],
    server_key: &VerifyingKey,
    max: u64,
) -> Result<BundlePayload, BundleError> {
    let body = bytes.strip_prefix(MAGIC).ok_or(BundleError::NotABundle)?;
    let mut cbor = Vec::new();
    zstd::Decoder::new(body)
        .map_err(|_| BundleError::Damaged)?
        .take(max + 1)
        .read_to_end(&mut cbor)
        .map_err(|_| BundleError::Damaged)?;
    if cbor.len() as u64 > max {
        return Err(BundleError::Damaged);
    }
    let file: BundleFile = ciborium::from_reader(&cbor[..]).map_err(|_| BundleError::Damaged)?;
    let payload: BundlePayload =
        ciborium::from_reader(&file.payload[..]).map_err(|_| BundleError::Damaged)?;
    let key_bytes: [u8; 32] = payload
        .device_key
        .as_slice()
        .try_into()
        .map_err(|_| BundleError::Tampered)?;
    let device_key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| BundleError::Tampered)?;
    let sig = Signature::from_slice(&file.signature).map_err(|_| BundleError::Tampered)?;
    device_key
        .verify_strict(&file.payload, &sig)
        .map_err(|_| BundleError::Tampered)?;
    let cert = Signature::from_slice(&payload.certificate).map_err(|_| BundleError::Foreign)?;
    server_key
        .verify_strict(
            &certificate_message(
                &payload.device,
                &payload.user,
                payload.role,
                &payload.device_key,
            ),
            &cert,
        )
        .map_err(|_| BundleError::Foreign)?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    fn bundle(server: &SigningKey, device: &SigningKey) -> Vec<u8> {
        let dk = device.verifying_key().to_bytes().to_vec();
        let payload = BundlePayload {
            relays: Vec::new(),
            device: "d-1".into(),
            user: "kader-a".into(),
            role: crate::rules::Role::Kader,
            certificate: ByteBuf::from(certify(
                server,
                "d-1",
                "kader-a",
                crate::rules::Role::Kader,
                &dk,
            )),
            device_key: ByteBuf::from(dk),
            created_at: 1,
            docs: vec![PushDoc {
                id: "hh-1".into(),
                changes: ByteBuf::from(vec![1, 2, 3]),
            }],
        };
        write(&payload, device)
    }

    #[test]
    fn a_sealed_bundle_opens_only_for_its_recipients_and_whole() {
        let (server, device) = (key(1), key(2));
        let signed = bundle(&server, &device);
        let (a, a_pub) = new_identity();
        let (b, b_pub) = new_identity();
        let (c, _) = new_identity();
        assert_eq!(recipient_of(&a).as_deref(), Some(a_pub.as_str()));
        let file = seal(&signed, &[a_pub.clone(), b_pub.clone(), a_pub.clone()]).unwrap();
        assert!(file.starts_with(SEALED_MAGIC));
        assert!(
            !file.windows(8).any(|w| w == MAGIC),
            "nothing of the bundle in clear"
        );
        for id in [&a, &b] {
            let inner = unseal(&file, id, MAX_BUNDLE).unwrap();
            assert_eq!(inner, signed);
            assert!(read(&inner, &server.verifying_key()).is_ok());
        }
        assert_eq!(unseal(&file, &c, MAX_BUNDLE), Err(BundleError::NotForUs));
        assert_eq!(
            unseal(&file[..file.len() - 10], &a, MAX_BUNDLE),
            Err(BundleError::Damaged)
        );
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(unseal(&flipped, &a, MAX_BUNDLE), Err(BundleError::Damaged));
        assert_eq!(
            unseal(&file, &a, 10),
            Err(BundleError::Damaged),
            "over the cap"
        );
        assert_eq!(
            unseal(&signed, &c, MAX_BUNDLE).unwrap(),
            signed,
            "an older, plain file"
        );
        assert_eq!(
            unseal(b"hello", &a, MAX_BUNDLE),
            Err(BundleError::NotABundle)
        );
        assert_eq!(
            seal(&signed, &["not a key".into()]),
            Err(BundleError::NoRecipients)
        );
        assert_eq!(
            recipients_digest(&[a_pub.clone(), b_pub.clone()]),
            recipients_digest(&[b_pub.clone(), a_pub.clone(), b_pub])
        );
        assert_ne!(recipients_digest(&[a_pub]), recipients_digest(&[]));
    }

    #[test]
    fn a_login_proof_binds_the_key_to_this_login() {
        let device = key(2);
        let actors = vec!["aa01".to_string()];
        let proof = device
            .sign(&login_proof_message("kader-a", "hp", &actors))
            .to_bytes();
        let k = device.verifying_key().to_bytes();
        assert!(login_proven(&k, &proof, "kader-a", "hp", &actors));
        assert!(
            !login_proven(&k, &proof, "kader-b", "hp", &actors),
            "another user"
        );
        assert!(!login_proven(
            &k,
            &proof,
            "kader-a",
            "hp",
            &["bb02".to_string()]
        ));
        assert!(!login_proven(
            &key(3).verifying_key().to_bytes(),
            &proof,
            "kader-a",
            "hp",
            &actors
        ));
        assert!(!login_proven(&k, &proof[..10], "kader-a", "hp", &actors));
    }

    #[test]
    fn a_signed_certified_bundle_reads_back() {
        let (server, device) = (key(1), key(2));
        let p = read(&bundle(&server, &device), &server.verifying_key()).expect("valid");
        assert_eq!(p.docs[0].id, "hh-1");
    }

    #[test]
    fn altered_foreign_and_broken_bundles_are_refused() {
        let (server, device) = (key(1), key(2));
        let good = bundle(&server, &device);
        assert_eq!(
            read(&good, &key(9).verifying_key()),
            Err(BundleError::Foreign),
            "another server"
        );
        let forged = bundle(&key(9), &device);
        assert_eq!(
            read(&forged, &server.verifying_key()),
            Err(BundleError::Foreign),
            "self-made certificate"
        );
        assert_eq!(
            read(&good[..good.len() - 5], &server.verifying_key()),
            Err(BundleError::Damaged)
        );
        assert_eq!(
            read(b"PK\x03\x04 a zip", &server.verifying_key()),
            Err(BundleError::NotABundle)
        );
        // Change one byte of the payload and re-wrap it: the device signature fails.
        let body = zstd::decode_all(&good[8..]).expect("zstd");
        let mut file: BundleFile = ciborium::from_reader(&body[..]).expect("cbor");
        let n = file.payload.len();
        file.payload[n - 1] ^= 1;
        let mut cbor = Vec::new();
        ciborium::into_writer(&file, &mut cbor).expect("cbor");
        let mut tampered = MAGIC.to_vec();
        tampered.extend(zstd::encode_all(&cbor[..], 3).expect("zstd"));
        assert_eq!(
            read(&tampered, &server.verifying_key()),
            Err(BundleError::Tampered)
        );
    }
}

/// What applying a bundle did on a device.
#[derive(Debug, Default, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Imported {
    pub households: usize,
    pub new_households: usize,
    /// Documents left out: outside this device's areas, missing earlier history, or
    /// refused by the rule book for the bundle's signer.
    pub skipped: usize,
}

/// Applies a checked bundle to a device's store in one transaction. Imported work is
/// marked pending, so this device relays it to the server at its next sync.
pub fn apply(
    store: &mut crate::store::Store,
    payload: &BundlePayload,
    set: &crate::IndicatorSet,
) -> Result<Imported, crate::store::StoreError> {
    use crate::household::Household;
    use crate::sync::Area;
    let scope: Vec<Area> = store
        .cursors()?
        .iter()
        .filter_map(|(k, _)| Area::parse_key(k))
        .collect();
    let mut out = Imported::default();
    let tx = store.transaction()?;
    for d in &payload.docs {
        let existing: Option<Vec<u8>> = rusqlite::OptionalExtension::optional(tx.query_row(
            "SELECT doc FROM households WHERE id = ?1",
            [&d.id],
            |r| r.get(0),
        ))?;
        let before = match &existing {
            Some(bytes) => automerge::AutoCommit::load(bytes)
                .map_err(crate::household::HouseholdError::from)?,
            None => automerge::AutoCommit::new(),
        };
        let mut doc = before.clone();
        let before_heads = doc.get_heads();
        if doc.load_incremental(&d.changes).is_err() || !doc.get_missing_deps(&[]).is_empty() {
            out.skipped += 1;
            continue;
        }
        // The same rule book the server applies, for the signer's certified role: a
        // peer's forbidden edit never enters this device (nor blocks its own work).
        let changes: Vec<automerge::ExpandedChange> = doc
            .get_changes(&before_heads)
            .iter()
            .map(|c| c.decode())
            .collect();
        let actors: std::collections::HashSet<automerge::ActorId> =
            changes.iter().map(|c| c.actor_id.clone()).collect();
        let signer = crate::rules::Signer {
            role: payload.role,
            user: &payload.user,
            actors: &actors,
        };
        let judged = crate::rules::judge(&before, &changes, &signer, None, set).and_then(|()| {
            if existing.is_none() {
                crate::rules::check_new_household(&doc, payload.role)
            } else {
                Ok(())
            }
        });
        if judged.is_err() {
            out.skipped += 1;
            continue;
        }
        let Ok(mut hh) = Household::from_doc(doc) else {
            out.skipped += 1;
            continue;
        };
        let (kel, rw, _) = hh.area();
        if hh.id().as_deref() != Some(d.id.as_str()) || !scope.iter().any(|a| a.covers(&kel, rw)) {
            out.skipped += 1;
            continue;
        }
        crate::store::write_household(&tx, &mut hh, set)?;
        tx.execute("UPDATE households SET pending = 1 WHERE id = ?1", [&d.id])?;
        out.households += 1;
        if existing.is_none() {
            out.new_households += 1;
        }
    }
    tx.commit()?;
    Ok(out)
}
