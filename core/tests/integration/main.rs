//! The one integration-test binary of sash-core.
mod conformance;
pub mod corpus;
mod layers;
mod parse_conformance;
mod parse_logs;
mod parse_props;
mod parse_records;
mod properties;
mod threads;
