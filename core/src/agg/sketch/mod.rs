//! Mergeable sketches for the approximate aggregations: HyperLogLog for
//! `approx_count_distinct` and the t-digest for `approx_quantile`.
//!
//! - [`HyperLogLog`]: p = 14, sparse (exact) below 512 distinct values,
//!   Ertl's improved estimator ("New cardinality estimation algorithms for
//!   HyperLogLog sketches", 2017); 0.81% standard error, so past the exact
//!   range an estimate is within 2% about 98.6% of the time (2% ≈ 2.5σ).
//! - [`TDigest`]: Dunning's merging t-digest with the k₁ scale ("Computing
//!   extremely accurate quantiles using t-digests", Dunning & Ertl, 2019);
//!   exact for small inputs, ≤ 1% rank error in general.
//!
//! Both are deterministic (no randomness, no platform-dependent math), so the
//! same input in the same order gives bit-identical results in every binding.

pub mod hll;
pub mod tdigest;

pub use hll::{hash_bytes, hash_u64, HyperLogLog};
pub use tdigest::TDigest;
