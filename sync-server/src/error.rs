//! The server's one error type for storage and service alike: what went wrong, never
//! a value from a household (errors travel into logs).

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("database schema {found} is newer than this server ({known})")]
    TooNew { found: i64, known: i64 },
    #[error("{0}")]
    Invalid(String),
    #[error("no user `{0}`")]
    NoUser(String),
    #[error("internal: {0}")]
    Internal(String),
    /// A request the service refuses as asked (`400 bad_request`): the message says why
    /// and names no person.
    #[error("{0}")]
    Refused(String),
    /// The user's role or areas do not allow it (`403 forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing of that name where the user may look (`404 not_found`).
    #[error("{0}")]
    NotFound(String),
    /// A registry import refused by its whole-file checks; nothing was written.
    #[error(transparent)]
    Stopped(#[from] jemput_core::registry::Stop),
}
