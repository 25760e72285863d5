//! The one binary: `islet replay`, `islet check`, `islet generate`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
