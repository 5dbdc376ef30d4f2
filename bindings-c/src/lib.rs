//! The c binding of sash (issue #5).
//!
//! This crate is a member of the workspace so that the whole tree builds and
//! lints together; the binding itself lands with its issue. Until then it only
//! links the core so a dependency mistake shows up in `cargo build`.

pub use sash_core::VERSION;
