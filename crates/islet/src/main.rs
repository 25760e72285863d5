//! The one binary: `islet replay`, `islet check`, `islet generate`,
//! `islet migrate`, `islet scheduler`, `islet serve`, `islet alerts`.

// Replay allocates many small short-lived objects; measured ~40 % of replay
// time in glibc malloc/free (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    islet::cli::run()
}
