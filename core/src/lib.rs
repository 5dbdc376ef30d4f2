//! sash-core: the kernel (in progress).
pub mod duration;
pub mod error;
pub mod expr;
/// The brute-force reference implementation: the executable specification of
/// `docs/semantics.md`, used by the tests of the engine and of every binding.
pub mod reference;
pub mod spec;
pub mod types;

pub use error::{ErrorKind, Result, SashError};

/// The crate version, shared by every binding.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Schema metadata key holding how many rows `null_time = "drop"` left out.
pub const DROPPED_NULL_TIMES_KEY: &str = "sash.dropped_null_times";
