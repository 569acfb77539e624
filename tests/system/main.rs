//! Cross-process tests: the real server binary, real headless clients, real HTTP.

mod bad_input;
mod crash;
mod field_sync;
