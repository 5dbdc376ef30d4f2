//! What can go wrong in a command, and the exit status each cause gets.

use sash_core::SashError;
use std::fmt;

/// Exit status: every line parsed (or errors allowed), output written.
pub const EXIT_OK: i32 = 0;
/// Exit status under `--strict`: the output is written, but lines failed to
/// parse (or rows were late).
pub const EXIT_DATA_ERRORS: i32 = 1;
/// Exit status: a usage error (bad option, bad spec) or an I/O error; no
/// output file was created or changed.
pub const EXIT_FAILURE: i32 = 2;
/// Exit status after SIGINT/SIGTERM stopped a command that cannot commit
/// what it did (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A command's failure: one line for the user, and why it happened (which
/// picks the exit status).
#[derive(Debug)]
pub enum CliError {
    /// Options, specs, formats: the user asked for something that cannot be.
    Usage(String),
    /// Reading inputs or writing outputs failed.
    Io(String),
    /// The kernel refused the data or the spec.
    Kernel(SashError),
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The reader of stdout went away (`| head`): not an error.
    BrokenPipe,
}

pub type CliResult<T> = std::result::Result<T, CliError>;

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    pub fn io(message: impl Into<String>) -> CliError {
        CliError::Io(message.into())
    }

    /// An I/O error while doing `what` (e.g. "writing out.parquet").
    pub fn io_while(what: &str, e: &std::io::Error) -> CliError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError::BrokenPipe;
        }
        CliError::Io(format!("{what}: {}", describe_io(e)))
    }

    pub fn exit_status(&self) -> i32 {
        match self {
            CliError::Interrupted => EXIT_INTERRUPTED,
            CliError::BrokenPipe => EXIT_OK,
            _ => EXIT_FAILURE,
        }
    }
}

/// An I/O error in words, without Rust's "(os error N)" suffix.
pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => "no space left on the device".into(),
        Some(libc::EFBIG) => "the file grew past the size this process may write (ulimit -f)".into(),
        Some(libc::EDQUOT) => "the disk quota is exceeded".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

impl From<SashError> for CliError {
    fn from(e: SashError) -> CliError {
        match e {
            SashError::Cancelled => CliError::Interrupted,
            e => CliError::Kernel(e),
        }
    }
}

impl From<arrow_schema::ArrowError> for CliError {
    fn from(e: arrow_schema::ArrowError) -> CliError {
        match e {
            arrow_schema::ArrowError::IoError(what, e) => CliError::io_while(&what, &e),
            e => CliError::Io(e.to_string()),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Io(m) => f.write_str(m),
            // The kernel's messages are one line; its kind says which table of
            // docs/errors.md to read.
            CliError::Kernel(e) => write!(f, "{e}"),
            CliError::Interrupted => f.write_str("interrupted; no output was written"),
            CliError::BrokenPipe => f.write_str("the output pipe was closed"),
        }
    }
}
