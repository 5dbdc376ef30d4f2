//! One file per subcommand.

pub mod aggregate;
pub mod parse;
