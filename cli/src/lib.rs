//! `sash`, the command: parse log files and aggregate them over event-time
//! windows from the shell, with the kernel every sash binding runs.
//!
//! ```text
//! sash parse access.log --format combined -o access.parquet
//! sash window access.log --format combined --every 10m --by status --agg 'count() as requests'
//! ```
//!
//! Everything is in this library so that the `sash` binary and the Python
//! wheel's `sash` console script run the same [`main`]. Modules by concern:
//! `args` (the command line), `spec` (kernel specs from options), `input`
//! and `logs` (reading), `output` (writing, atomically), `progress`,
//! `signals`, and one file per subcommand in `commands/`.
//!
//! Exit status: 0 ok, 1 data errors under `--strict`, 2 usage or I/O
//! errors (no output file created or changed), 130 interrupted.

mod args;
mod checkpoint;
mod commands;
mod error;
mod input;
mod logs;
mod output;
mod progress;
mod serve;
mod signals;
mod spec;
mod tail;

pub use error::{EXIT_DATA_ERRORS, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK};
/// The wire format of `sash serve` (docs/protocol.md), public for its fuzz target.
pub use serve::wire;

use args::{Cli, Command};
use clap::{CommandFactory, Parser};
use commands::aggregate::Kind;
use error::{CliError, CliResult};
use std::ffi::OsString;

/// Runs the command line `args` (the program name first) and returns the
/// exit status. Errors are one line on stderr, `sash: error: ...`; a panic
/// is caught and reported the same way, never as a trace.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_FAILURE } else { EXIT_OK };
        }
    };
    signals::install();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sash_core::cancel::with_check(&signals::stop_requested, || run(cli))));
    std::panic::set_hook(previous_hook);
    let result = match outcome {
        Ok(result) => result,
        Err(panic) => {
            let what =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            Err(CliError::io(format!("internal error (please report it): {what}")))
        }
    };
    match result {
        Ok(status) => status,
        Err(CliError::BrokenPipe) => EXIT_OK,
        Err(e) => {
            eprintln!("sash: error: {e}");
            e.exit_status()
        }
    }
}

fn run(cli: Cli) -> CliResult<i32> {
    if let Some(n) = cli.threads {
        sash_core::set_threads(n).map_err(|e| CliError::usage(format!("--threads: {e}")))?;
    }
    match cli.command {
        Command::Parse(args) => commands::parse::run(args, cli.quiet),
        Command::Window(args) => {
            let spec = spec::window_spec(&args.input.agg, &args.grid)?;
            commands::aggregate::run(Kind::Window, &args.input, spec, cli.quiet)
        }
        Command::Rolling(args) => {
            let spec = spec::rolling_spec(&args)?;
            commands::aggregate::run(Kind::Rolling, &args.input, spec, cli.quiet)
        }
        Command::Follow(args) => commands::follow::run(args, cli.quiet),
        Command::Serve(args) => serve::run(args, cli.quiet),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            let mut out = std::io::stdout();
            clap_complete::generate(shell, &mut command, "sash", &mut out);
            Ok(EXIT_OK)
        }
    }
}
