//! # sash-ffi
//!
//! What every sash binding shares, written once: the checked import of
//! Arrow C Data Interface structs a caller made ([`import`]), the status
//! table every binding's errors come from ([`status`], driven by
//! `ErrorKind::ALL`), catching panics before they reach another language
//! ([`panic`]), and running an operation from a JSON spec ([`run`]).
//!
//! An internal crate: the C library, the JNI library and the Python module
//! depend on it; no binding depends on another.

pub mod import;
pub mod panic;
pub mod run;
pub mod status;

pub use status::{Error, SashStatus};
