//! # sash-core
//!
//! The kernel of sash: windowed and rolling aggregation over Apache Arrow
//! record batches, and parsing of raw log text into typed Arrow columns
//! ([`parse`], `docs/parsing.md`), with one set of semantics for every language binding
//! (Python, C, JVM). This crate has no FFI code; bindings are thin shims over
//! the functions below. The rules are written down in `docs/semantics.md`
//! and pinned by the conformance corpus in `tests/conformance/`.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Float64Array, Int32Array, RecordBatch, TimestampMillisecondArray};
//! use arrow_schema::{DataType, Field, Schema, TimeUnit};
//! use sash_core::{window_agg, WindowSpec};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
//!     Field::new("key", DataType::Int32, false),
//!     Field::new("val", DataType::Float64, true),
//! ]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(TimestampMillisecondArray::from(vec![0, 30_000, 61_000])),
//!     Arc::new(Int32Array::from(vec![1, 1, 2])),
//!     Arc::new(Float64Array::from(vec![1.0, 3.0, 5.0])),
//! ]).unwrap();
//!
//! let spec = WindowSpec::from_json(
//!     r#"{"time": "ts", "every": "1m", "by": "key", "aggs": ["count() as n", "mean(val)"]}"#,
//! ).unwrap();
//! let out = window_agg(&schema, &[batch], &spec).unwrap();
//! assert_eq!(out.num_rows(), 2); // [0, 1m) for key 1, [1m, 2m) for key 2
//! assert_eq!(out.schema().field(4).name(), "mean(val)");
//! ```

mod agg;
mod bytes;
pub mod error;
mod exec;
pub mod parse;
/// The brute-force reference implementation: the executable specification of
/// `docs/semantics.md`, used by the tests of the engine and of every binding
/// (the `reference` feature; shipped libraries leave it out).
#[cfg(feature = "reference")]
pub mod reference;
mod rolling;
pub mod spec;
mod window;

pub use agg::sketch;
pub use error::{ErrorKind, Result, SashError};
pub use exec::cancel;
pub use exec::pool::{self, default_threads, set_threads, threads, MAX_THREADS, THREADS_ENV};
pub use exec::snapshot::StreamStats;
pub use parse::spec::{FieldType, LogFormat, OnError, ParseSpec, StringOutput};
pub use parse::{parse_bytes, parse_lines, ChunkSource, CompleteRecords, ParseOutput, ParseReader, Parser, RowSource, ERROR_COLUMN};
pub use rolling::stream::RollingStream;
#[doc(hidden)]
pub use rolling::FloatSum;
pub use rolling::{rolling, rolling_with_schema};
pub use spec::duration::{self, Duration};
pub use spec::expr::{self, AggExpr, AggFunc};
pub use spec::types;
pub use spec::{Closed, NullTime, RollingPeriod, RollingSpec, WindowKind, WindowSpec, DROPPED_NULL_TIMES_KEY};
pub use window::stream::WindowStream;
/// Two-phase window aggregation: per-partition partial states and their merge.
pub use window::two_phase as partial;
pub use window::window_agg;

/// The crate version, shared by every binding.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
