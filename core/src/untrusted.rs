//! Every decoder of bytes that come from outside, as one call each: a sync request (the
//! server reads it), a sync response (a device reads it), a bundle file, and a
//! registry file (CSV, or a workbook). The fuzz targets (`fuzz/`) call exactly these,
//! and `core/tests/core/fuzz_corpus.rs` replays their corpora and every crash found as
//! ordinary tests. Each must answer any input with a value or an error, never a panic,
//! a hang or unbounded memory.

use crate::registry::{parse_sheets, ImportOptions, Mapping};

/// What the server accepts decompressed per request (`guard::Limits`).
const MAX_BODY: u64 = 8 * 1024 * 1024;

pub fn sync_request(data: &[u8]) {
    let _ = crate::sync::decode_limited::<crate::sync::SyncRequest>(data, MAX_BODY);
}

pub fn sync_response(data: &[u8]) {
    let _ = crate::sync::decode_limited::<crate::sync::SyncResponse>(data, MAX_BODY);
}

/// The bundle key the fuzz target decrypts with (a test key, public on purpose): the
/// seed corpus holds a file encrypted to it, so the fuzzer reaches the signed bundle
/// inside an encrypted one too.
pub const FUZZ_IDENTITY: &str =
    "AGE-SECRET-KEY-12E0C6UCFQ8KPURPKKATXWP9SFCMR72XUY5NA6JH2569CCYHDDTQS3YH8A4";

/// A bundle file as a device or the server reads it: decrypted (or taken as an older,
/// plain signed bundle), then its signatures checked.
pub fn bundle(data: &[u8]) {
    let Ok(signed) = crate::bundle::unseal(data, FUZZ_IDENTITY, MAX_BODY) else {
        return;
    };
    let server = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let _ = crate::bundle::read_limited(&signed, &server, MAX_BODY);
}

fn options() -> ImportOptions {
    ImportOptions {
        kelurahan: "35.73.01.1007".into(),
        kelurahan_bps: Some("3573010007".into()),
        partial: false,
        mapping: Mapping::default(),
        today: "2026-11-29".into(),
    }
}

pub fn registry_csv(data: &[u8]) {
    if let Ok(sheet) = crate::registry::read::read_csv(data, "fuzz") {
        let _ = parse_sheets(&[sheet], &options());
    }
}

pub fn registry_workbook(data: &[u8]) {
    if let Ok(sheets) = crate::registry::read::read_workbook_bytes(data) {
        let _ = parse_sheets(&sheets, &options());
    }
}

/// A decoder under test: any bytes in, never a panic.
pub type Target = fn(&[u8]);

/// The targets by name, for the fuzz binaries and the corpus replay.
pub const TARGETS: [(&str, Target); 5] = [
    ("sync_request", sync_request),
    ("sync_response", sync_response),
    ("bundle", bundle),
    ("registry_csv", registry_csv),
    ("registry_workbook", registry_workbook),
];
