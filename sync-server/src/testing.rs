//! For tests of both backends (the conformance suite): with `JEMPUT_TEST_DATABASE` set
//! to a PostgreSQL server's URL (`scripts/pg.sh start` prints one), each test's store
//! is a fresh database on it; without, the SQLite store in the test's folder.

use std::path::Path;

use crate::error::StorageError;
use crate::guard::Limits;
use crate::service::Storage;

/// The PostgreSQL server the tests run against, if any.
pub fn postgres() -> Option<String> {
    std::env::var("JEMPUT_TEST_DATABASE")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The URL of a database on the test server named after `key` (a test's folder),
/// created on first use; `None` without a test server.
pub fn database_for(key: &Path) -> Result<Option<String>, StorageError> {
    let Some(admin) = postgres() else {
        return Ok(None);
    };
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.to_string_lossy().as_bytes());
    let name = format!("jemput_t_{}", &hex::encode(digest)[..20]);
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
        .is_some();
    if !exists {
        // Another process may create it meanwhile: that is as good.
        if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {name}")) {
            if e.code() != Some(&postgres::error::SqlState::DUPLICATE_DATABASE) {
                return Err(e.into());
            }
        }
    }
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Ok(Some(format!("{base}/{name}")))
}

/// The store of a test that works in `dir`: PostgreSQL when the tests run against
/// it, else SQLite in `dir`.
pub fn open(dir: &Path, limits: Limits) -> Result<Box<dyn Storage>, StorageError> {
    Ok(match database_for(dir)? {
        Some(url) => Box::new(crate::PostgresStorage::connect(&url)?.with_limits(limits)),
        None => Box::new(crate::SqliteStorage::open(dir)?.with_limits(limits)),
    })
}

/// A device's token hash and expiry as the store of the test in `dir` holds them
/// (tests that check what the server keeps, never what it answers).
pub fn device_token(dir: &Path, device: &str) -> Result<Option<(Vec<u8>, i64)>, StorageError> {
    Ok(match database_for(dir)? {
        Some(url) => postgres::Client::connect(&url, postgres::NoTls)?
            .query_opt(
                "SELECT token_hash, token_expires_ms FROM devices WHERE id = $1",
                &[&device],
            )?
            .map(|r| (r.get(0), r.get(1))),
        None => rusqlite::OptionalExtension::optional(
            rusqlite::Connection::open(dir.join("jemput-server.db"))?.query_row(
                "SELECT token_hash, token_expires_ms FROM devices WHERE id = ?1",
                [device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ),
        )?,
    })
}

/// Runs one statement (written for both SQLite and PostgreSQL) on the store of the test
/// in `dir`: a test that plays the clock or the office's hand.
pub fn execute(dir: &Path, sql: &str) -> Result<u64, StorageError> {
    Ok(match database_for(dir)? {
        Some(url) => postgres::Client::connect(&url, postgres::NoTls)?.execute(sql, &[])?,
        None => rusqlite::Connection::open(dir.join("jemput-server.db"))?.execute(sql, [])? as u64,
    })
}
