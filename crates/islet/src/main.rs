//! The one binary: `islet replay`, `islet check`, `islet generate`,
//! `islet migrate`, `islet scheduler`.

fn main() -> std::process::ExitCode {
    islet::cli::run()
}
