//! The `sash` console script the wheel installs: the command's own `main`
//! (the `sash-cli` crate), so that `pip install sash` gives the same command
//! `make install` does.

use pyo3::prelude::*;
use std::ffi::OsString;

/// Runs the `sash` command with `argv` (the program name first) and returns
/// its exit status. The command owns the process while it runs (its signal
/// handlers, stdout, stderr): `sash._cli.main` is the only caller.
#[pyfunction]
pub fn _cli_main(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(|| sash_cli::main(argv))
}
