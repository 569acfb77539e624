//! The fuzz targets' seed corpus and every crash the fuzzer found (`fuzz/corpus/`,
//! `fuzz/crashes/`), replayed through the same decoders (`jemput_core::untrusted`) as
//! ordinary tests: a crash fixed stays fixed.

use std::path::Path;

#[test]
fn every_corpus_file_and_crash_decodes_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for (name, target) in jemput_core::untrusted::TARGETS {
        for dir in ["corpus", "crashes"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() && !path.ends_with("README.txt") {
                    let bytes = std::fs::read(&path).expect("read");
                    target(&bytes);
                    replayed += 1;
                }
            }
        }
    }
    assert!(replayed >= 8, "the seed corpus is there ({replayed} files)");
}

/// Truncations and bit flips of each seed: the cheap half of what the fuzzer does,
/// on every test run.
#[test]
fn mangled_seeds_are_errors_not_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, target) in jemput_core::untrusted::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).expect("read");
            for cut in (0..bytes.len()).step_by((bytes.len() / 64).max(1)) {
                target(&bytes[..cut]);
            }
            for i in (0..bytes.len()).step_by((bytes.len() / 97).max(1)) {
                let mut flipped = bytes.clone();
                flipped[i] ^= 0x5a;
                target(&flipped);
            }
        }
    }
}

/// The encrypted seed opens with the fuzz target's key, so the fuzzer starts inside.
#[test]
fn the_encrypted_bundle_seed_opens_with_the_fuzz_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/bundle/sealed");
    let file = std::fs::read(path).expect("read");
    let signed = jemput_core::bundle::unseal(
        &file,
        jemput_core::untrusted::FUZZ_IDENTITY,
        jemput_core::bundle::MAX_BUNDLE,
    )
    .expect("opens");
    assert!(signed.starts_with(jemput_core::bundle::MAGIC));
}

/// The workbook the fuzzer found crashing calamine (an overflow on a huge cell
/// reference) is refused as damaged: the import says so and goes on.
#[test]
fn the_workbook_that_crashed_the_reader_is_refused_as_damaged() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/crashes/registry_workbook");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("kept crashes").flatten() {
        let bytes = std::fs::read(entry.path()).expect("read");
        let result = jemput_core::registry::read::read_workbook_bytes(&bytes);
        assert!(result.is_err(), "{}", entry.path().display());
        seen += 1;
    }
    assert!(seen >= 1);
}
