//! Integration tests of jemput-core: household documents, merge, store, sync logic.

mod household;
