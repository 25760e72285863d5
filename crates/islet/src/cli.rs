//! Command-line interface (contract "`islet replay`").
//!
//! Exit status: 0 when every line was used, 1 when any line was rejected,
//! 2 on a usage or I/O error.

use clap::{Parser, Subcommand};
use islet_engine::replay::{replay, ReplayOptions};
use islet_engine::Engine;
use islet_fhir::SiteMapping;
use islet_guideline::{Config, Instant, Profile};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use islet_store::backfill::{backfill, BackfillOptions};
use islet_store::scheduler::{Scheduler, SystemClock};
use islet_store::PgPool;
use islet_store::PgStore;
use islet_synth::{generate, CohortOptions};

/// Logs go to stderr as JSON lines (level `warn` unless `RUST_LOG` says
/// otherwise). They name resources and counts, never patient data values.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(io::stderr).try_init();
}

#[derive(Parser)]
#[command(name = "islet", version, about = "pNET guideline decision support over FHIR R4 events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply NDJSON FHIR messages in memory and print the alerts at an instant.
    Replay {
        /// Evaluate at this instant (RFC 3339, or a date = 00:00 UTC). Default: the latest clinical time seen.
        #[arg(long, value_parser = parse_instant)]
        at: Option<Instant>,
        /// Guideline profile.
        #[arg(long, default_value = "enets")]
        profile: Profile,
        /// Site mapping file (TOML): local codes → Islet facts.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Print the change log (raised / updated / resolved) instead of the current alerts.
        #[arg(long)]
        changes: bool,
        /// Messages per transaction, as the service batches them.
        #[arg(long, default_value_t = 1000)]
        batch_size: usize,
        /// Print counts (lines, resources, rejections, patients, alerts) as JSON on stderr at the end.
        #[arg(long)]
        stats: bool,
        /// Load into this PostgreSQL database (backfill) instead of memory, and
        /// print the database's alerts. Migrations are applied first.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// With --database-url: continue after the last committed line of this file.
        #[arg(long, requires = "database_url")]
        resume: bool,
        /// NDJSON file, or - for standard input (memory only).
        file: String,
    },
    /// Write a synthetic cohort (NDJSON, deterministic for a seed) for demos and benchmarks.
    Generate {
        #[arg(long, default_value_t = 100)]
        patients: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Earliest clinical date (YYYY-MM-DD); dates run up to three years later.
        #[arg(long, value_parser = parse_date)]
        start: Option<time::Date>,
        /// Share of deliberately invalid lines (0–1), to exercise rejections.
        #[arg(long, default_value_t = 0.0)]
        bad_line_rate: f64,
    },
    /// Apply the database migrations (idempotent).
    Migrate {
        #[arg(long, value_name = "URL", env = "ISLET_DATABASE_URL")]
        database_url: String,
    },
    /// Re-evaluate patients whose wake time has passed (follow-ups turning
    /// due / overdue), every interval, until interrupted. Several may run at once.
    Scheduler {
        #[arg(long, value_name = "URL", env = "ISLET_DATABASE_URL")]
        database_url: String,
        /// Seconds between ticks.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Patients per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value = "enets")]
        profile: Profile,
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
    /// Validate an NDJSON file: report each unusable line on stderr, print nothing else.
    Check {
        #[arg(long)]
        mapping: Option<PathBuf>,
        file: String,
    },
}

pub fn run() -> ExitCode {
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match execute(cli.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{}", serde_json::json!({ "error": message }));
            ExitCode::from(2)
        }
    }
}

fn execute(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Replay { at, profile, mapping, changes, batch_size, stats, database_url, resume, file } => {
            let engine = Engine::new(load_mapping(mapping.as_deref())?, Config { profile, ..Config::default() });
            match database_url {
                None => replay_in_memory(&engine, &file, ReplayOptions { at, batch_size, changes }, stats),
                Some(url) => {
                    let opts = BackfillOptions { at, batch_size, resume, backoff: Default::default() };
                    replay_into_database(&engine, &url, &file, &opts, changes, stats)
                }
            }
        }
        Command::Check { mapping, file } => {
            let engine = Engine::new(load_mapping(mapping.as_deref())?, Config::default());
            let input = open(&file)?;
            let mut rejected = false;
            for (i, line) in input.lines().enumerate() {
                let line = line.map_err(|e| format!("reading {file}: {e}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                for r in &engine.decode(line.as_bytes()).rejections {
                    rejected = true;
                    eprintln!("{}", rejection_json(i + 1, r));
                }
            }
            Ok(if rejected { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Generate { patients, seed, start, bad_line_rate } => {
            if !(0.0..=1.0).contains(&bad_line_rate) {
                return Err(format!("--bad-line-rate {bad_line_rate} must be between 0 and 1"));
            }
            let mut opts = CohortOptions { patients, seed, bad_line_rate, ..CohortOptions::default() };
            if let Some(start) = start {
                opts.start = start;
            }
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            generate(&opts, &mut out).and_then(|_| out.flush()).map_err(|e| format!("writing the cohort: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database_url } => runtime()?.block_on(async move {
            connect_and_migrate(&database_url).await?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Scheduler { database_url, interval, batch, profile, mapping } => {
            let config = Config { profile, ..Config::default() };
            let engine = Arc::new(Engine::new(load_mapping(mapping.as_deref())?, config));
            runtime()?.block_on(async move {
                let store = PgStore::new(connect_and_migrate(&database_url).await?);
                let scheduler =
                    Scheduler { engine, store, clock: Arc::new(SystemClock), batch, backoff: Default::default() };
                let shutdown = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                scheduler.run(Duration::from_secs(interval), shutdown).await.map_err(|e| e.to_string())?;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

fn replay_in_memory(engine: &Engine, file: &str, opts: ReplayOptions, stats: bool) -> Result<ExitCode, String> {
    let input = open(file)?;
    let outcome = replay(engine, input, &opts).map_err(|e| format!("reading {file}: {e}"))?;
    report_rejections(&outcome.rejections);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = if opts.changes {
        outcome.changes().iter().try_for_each(|c| write_json_line(&mut out, c))
    } else {
        outcome.alerts().into_iter().try_for_each(|a| write_json_line(&mut out, a))
    };
    written.and_then(|_| out.flush()).map_err(|e| format!("writing output: {e}"))?;
    if stats {
        let at = outcome.at.format(&time::format_description::well_known::Rfc3339).ok();
        eprintln!("{}", serde_json::json!({ "stats": outcome.stats, "at": at }));
    }
    Ok(if outcome.rejections.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn replay_into_database(
    engine: &Engine,
    url: &str,
    file: &str,
    opts: &BackfillOptions,
    changes: bool,
    stats: bool,
) -> Result<ExitCode, String> {
    if file == "-" {
        return Err("--database-url needs a file (its position is kept for --resume), not -".into());
    }
    runtime()?.block_on(async move {
        let store = PgStore::new(connect_and_migrate(url).await?);
        // Rejections are printed as they are found, line by line.
        let outcome = backfill(engine, &store, Path::new(file), opts).await.map_err(|e| e.to_string())?;
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        let written = if changes {
            let log = store.change_log().await.map_err(|e| e.to_string())?;
            log.iter().try_for_each(|c| write_json_line(&mut out, c))
        } else {
            let alerts = store.alerts().await.map_err(|e| e.to_string())?;
            alerts.iter().try_for_each(|a| write_json_line(&mut out, a))
        };
        written.and_then(|_| out.flush()).map_err(|e| format!("writing output: {e}"))?;
        if stats {
            eprintln!(
                "{}",
                serde_json::json!({ "first_line": outcome.first_line, "lines": outcome.lines,
                    "stored": outcome.stats.stored, "duplicates": outcome.stats.duplicates,
                    "stale": outcome.stats.stale, "rejected": outcome.rejections.len() })
            );
        }
        Ok(if outcome.rejections.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))
}

async fn connect_and_migrate(url: &str) -> Result<PgPool, String> {
    let backoff = islet_store::retry::Backoff::default();
    let pool = islet_store::retry::with_retry("connect", &backoff, || islet_store::connect(url))
        .await
        .map_err(|e| format!("database: {e}"))?;
    islet_store::migrate(&pool).await.map_err(|e| e.to_string())?;
    Ok(pool)
}

fn rejection_json(line: usize, r: &islet_fhir::Rejection) -> serde_json::Value {
    let mut v = serde_json::json!({ "line": line, "code": r.reason.code(), "reason": r.reason.to_string() });
    if let Some(e) = r.entry {
        v["entry"] = e.into();
    }
    if let Some(res) = &r.resource {
        v["resource"] = res.clone().into();
    }
    v
}

fn report_rejections(rejections: &[islet_engine::replay::LineRejection]) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for r in rejections {
        let _ = writeln!(err, "{}", serde_json::to_string(r).unwrap_or_default());
    }
}

fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

fn load_mapping(path: Option<&Path>) -> Result<SiteMapping, String> {
    match path {
        None => Ok(SiteMapping::empty()),
        Some(p) => SiteMapping::load(p).map_err(|e| format!("mapping file {}: {e}", p.display())),
    }
}

fn open(file: &str) -> Result<Box<dyn BufRead + Send>, String> {
    if file == "-" {
        Ok(Box::new(BufReader::new(io::stdin())))
    } else {
        let f = std::fs::File::open(file).map_err(|e| format!("opening {file}: {e}"))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
    }
}

fn parse_date(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{s:?} is not a YYYY-MM-DD date"))
}

/// RFC 3339 instant, or a plain date meaning 00:00 UTC that day.
fn parse_instant(s: &str) -> Result<Instant, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, date_format)
        .map(islet_guideline::calendar::start_of)
        .map_err(|_| format!("{s:?} is neither an RFC 3339 instant nor a YYYY-MM-DD date"))
}
