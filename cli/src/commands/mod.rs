//! One file per subcommand.

pub mod aggregate;
pub mod follow;
pub mod parse;
