//! Command-line interface (contract "`islet replay`").
//!
//! Exit status: 0 when every line was used, 1 when any line was rejected (or
//! left unread), 2 on a usage, I/O or database error.

use crate::drivers::backfill::{backfill, BackfillOptions};
use crate::drivers::check::check;
use crate::drivers::clock::{horizon, Clock, FixedClock, SystemClock};
use crate::drivers::replay::{replay, ReplayOptions};
use crate::drivers::scheduler::Scheduler;
use crate::output::{self, Printer};
use crate::serve::Application;
use crate::settings::{parse_instant, Settings, BATCH_SIZE_RANGE};
use clap::{Parser, Subcommand};
use islet_engine::ingest::{Rejection, Source};
use islet_engine::Engine;
use islet_fhir::SiteMapping;
use islet_guideline::{Instant, Profile};
use islet_store::{PgPool, PgStore};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
    /// Settings file (TOML); `ISLET_*` variables and flags override it.
    #[arg(long, global = true, value_name = "FILE", env = "ISLET_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The options every evaluating command shares; each overrides the settings.
#[derive(clap::Args)]
struct GuidelineArgs {
    /// Guideline profile (default: the settings' `guideline.profile`, else enets).
    #[arg(long)]
    profile: Option<Profile>,
    /// Site mapping file (TOML): local codes → Islet facts.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply NDJSON FHIR messages in memory and print the alerts at an instant.
    Replay {
        /// Evaluate at this instant (RFC 3339, or a date = 00:00 UTC). Default: the latest clinical time seen.
        #[arg(long, value_parser = parse_instant)]
        at: Option<Instant>,
        #[command(flatten)]
        guideline: GuidelineArgs,
        /// Print the change log (raised / updated / resolved) instead of the current alerts.
        #[arg(long)]
        changes: bool,
        /// Messages per transaction, as the service batches them (1–100000; default 1000).
        #[arg(long, value_parser = parse_batch_size)]
        batch_size: Option<usize>,
        /// Print counts (messages, resources, rejections, …) as JSON on stderr at the end.
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
    /// Create the database if it does not exist, and apply the migrations (idempotent).
    Migrate {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Re-evaluate patients whose wake time has passed (follow-ups turning
    /// due / overdue), every interval, until interrupted. Several may run at once.
    Scheduler {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Seconds between ticks (default 5).
        #[arg(long)]
        interval: Option<u64>,
        /// Patients per transaction (default 500).
        #[arg(long)]
        batch: Option<usize>,
        #[command(flatten)]
        guideline: GuidelineArgs,
    },
    /// Run the service: HTTP ingest (POST /fhir), /livez, /readyz, /metrics and
    /// the scheduler, until SIGTERM or Ctrl-C. Settings: --config, ISLET_* variables.
    Serve {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Listen address (host:port; default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        http_addr: Option<String>,
        #[command(flatten)]
        guideline: GuidelineArgs,
    },
    /// Print a database's current alerts (or, with --changes, its change log)
    /// exactly as `islet replay` prints them.
    Alerts {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Print the change log (raised / updated / resolved) instead of the current alerts.
        #[arg(long)]
        changes: bool,
    },
    /// The audit trail: check that nobody changed, removed or inserted an event.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Validate an NDJSON file: report each unusable line on stderr, print nothing else.
    Check {
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        file: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every lane's hash chain from its first event to its head.
    /// Prints `head lane=L seq=N hash=H anchor=L:N:H` per lane and exits 0
    /// when intact; exits 1 naming the first broken event; 2 when it cannot
    /// be read.
    Verify {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// An earlier head (`LANE:SEQ:HASH`, the `anchor=` verify printed)
        /// that must still be in its chain: the check that catches a rewrite
        /// of a chain and its head together.
        #[arg(long, value_name = "LANE:SEQ:HASH")]
        anchor: Option<String>,
    },
    /// Print the audit trail as FHIR AuditEvents (IHE BALP), one per line,
    /// oldest first.
    Export {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// From this instant or date (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Up to this instant or date (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Only events about this patient (its FHIR id).
        #[arg(long)]
        patient: Option<String>,
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
    let mut err = output::stderr();
    match execute(cli, &mut err) {
        Ok(code) => code,
        Err(message) => {
            let _ = err.json_line(&serde_json::json!({ "error": message }));
            ExitCode::from(2)
        }
    }
}

/// Loads the settings and applies the command's flags over them.
fn settings(config: Option<&Path>, guideline: Option<&GuidelineArgs>, url: Option<&str>) -> Result<Settings, String> {
    let mut s = Settings::from_env(config).map_err(|e| e.to_string())?;
    if let Some(g) = guideline {
        if let Some(p) = g.profile {
            s.guideline.profile = p;
        }
        if let Some(m) = &g.mapping {
            s.ingest.mapping = Some(m.clone());
        }
    }
    if let Some(url) = url {
        s.database.url = Some(url.to_owned());
    }
    Ok(s)
}

pub(crate) fn engine(s: &Settings) -> Result<Engine, String> {
    Ok(Engine::new(load_mapping(s.ingest.mapping.as_deref())?, s.guideline.clone()))
}

fn execute(cli: Cli, err: &mut Printer<io::Stderr>) -> Result<ExitCode, String> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Replay { at, guideline, changes, batch_size, stats, database_url, resume, file } => {
            let mut s = settings(config, Some(&guideline), database_url.as_deref())?;
            if let Some(n) = batch_size {
                s.ingest.batch_size = n;
            }
            let engine = engine(&s)?;
            let mut report = |r: &Rejection| {
                let _ = err.json_line(r);
            };
            match database_url {
                None => {
                    let opts = ReplayOptions { at, batch_size: s.ingest.batch_size, changes, horizon: horizon(at) };
                    let source = if file == "-" { Source::file("stdin") } else { Source::file(file.clone()) };
                    let outcome = replay(&engine, open(&file)?, &source, &opts, &mut report)
                        .map_err(|e| format!("{file}: {e}"))?;
                    let mut out = output::stdout();
                    let written = if changes {
                        outcome.changes().iter().try_for_each(|c| out.json_line(c))
                    } else {
                        outcome.alerts().into_iter().try_for_each(|a| out.json_line(a))
                    };
                    written.and_then(|_| out.flush()).map_err(|e| format!("writing output: {e}"))?;
                    if stats {
                        let _ = err.json_line(&serde_json::json!({
                            "at": rfc3339(outcome.at), "stats": outcome.stats,
                            "patients": outcome.store.patients().count(), "alerts": outcome.store.alerts().len() }));
                    }
                    Ok(exit_status(outcome.stats.rejected_messages, None))
                }
                Some(url) => {
                    if file == "-" {
                        return Err("--database-url needs a file (its position is kept for --resume), not -".into());
                    }
                    let opts = BackfillOptions {
                        at,
                        batch_size: s.ingest.batch_size,
                        resume,
                        backoff: Default::default(),
                        horizon: horizon(at),
                    };
                    let pool_size = s.database.pool_size;
                    runtime()?.block_on(async move {
                        let store = PgStore::new(connect_and_migrate(&url, pool_size, false).await?);
                        let outcome = backfill(&engine, &store, Path::new(&file), &opts, &mut report)
                            .await
                            .map_err(|e| e.to_string())?;
                        if let Some(line) = outcome.held_back {
                            let _ = output::stderr().json_line(
                                &serde_json::json!({ "line": line, "code": "incomplete-line",
                                "reason": "the last line has no newline and is not complete JSON: not loaded; \
                                           --resume reads it once it is complete" }),
                            );
                        }
                        print_database(&store, changes).await?;
                        if stats {
                            let _ = output::stderr().json_line(&serde_json::json!({
                                "at": outcome.at.map(rfc3339), "stats": outcome.stats,
                                "first_line": outcome.first_line }));
                        }
                        Ok(exit_status(outcome.stats.rejected_messages, outcome.held_back))
                    })
                }
            }
        }
        Command::Serve { database_url, http_addr, guideline } => {
            let mut s = settings(config, Some(&guideline), database_url.as_deref())?;
            if let Some(addr) = http_addr {
                s.set("http.addr", &addr).map_err(|e| format!("--http-addr: {e}"))?;
            }
            let clock = clock_of(&s);
            runtime()?.block_on(async move {
                let app = Application::build(s, clock).await.map_err(|e| e.to_string())?;
                app.run(shutdown_signal()).await.map_err(|e| e.to_string())?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Alerts { database_url, changes } => {
            let s = settings(config, None, database_url.as_deref())?;
            let url = s.database_url()?.to_owned();
            runtime()?.block_on(async move {
                // Reading only: no migration, and a database that is not
                // Islet's (or not migrated) is an error, not created.
                let store = PgStore::new(islet_store::connect(&url, 1).await.map_err(|e| e.to_string())?);
                print_database(&store, changes).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Audit { command: AuditCommand::Verify { database_url, anchor } } => {
            let s = settings(config, None, database_url.as_deref())?;
            let url = s.database_url()?.to_owned();
            let anchor = anchor
                .as_deref()
                .map(islet_store::audit::parse_anchor)
                .transpose()
                .map_err(|e| format!("--anchor: {e}"))?;
            runtime()?.block_on(async move {
                let pool = islet_store::connect(&url, 1).await.map_err(|e| e.to_string())?;
                match islet_store::audit::verify(&pool, anchor).await {
                    Ok(heads) => {
                        for h in heads {
                            println!("head lane={} seq={} hash={} anchor={}", h.lane, h.seq, h.hex(), h.anchor());
                        }
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(islet_store::audit::VerifyError::Broken(b)) => {
                        let _ =
                            err.json_line(&serde_json::json!({ "error": format!("the audit trail is broken: {b}") }));
                        Ok(ExitCode::from(1))
                    }
                    Err(e) => Err(e.to_string()),
                }
            })
        }
        Command::Audit { command: AuditCommand::Export { database_url, from, to, patient } } => {
            let s = settings(config, None, database_url.as_deref())?;
            let url = s.database_url()?.to_owned();
            let instant = |flag: &str, v: Option<String>| {
                v.map(|t| parse_instant(&t).map_err(|e| format!("--{flag}: {e}"))).transpose()
            };
            let filter = islet_store::audit::EventFilter {
                from: instant("from", from)?,
                to: instant("to", to)?,
                patient: patient.map(|p| format!("Patient/{}", p.trim_start_matches("Patient/"))),
                actor: None,
            };
            runtime()?.block_on(async move {
                let pool = islet_store::connect(&url, 1).await.map_err(|e| e.to_string())?;
                let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
                let mut out = io::BufWriter::new(io::stdout().lock());
                let mut after = None;
                loop {
                    let page = islet_store::audit::events(&mut conn, &filter, after, 10_000)
                        .await
                        .map_err(|e| e.to_string())?;
                    let Some(last) = page.last() else { break };
                    after = Some(islet_store::audit::EventCursor::of(last));
                    for e in &page {
                        let line = crate::serve::audit_event::audit_event(e).to_string();
                        if let Err(e) = io::Write::write_all(&mut out, line.as_bytes())
                            .and_then(|_| io::Write::write_all(&mut out, b"\n"))
                        {
                            return if e.kind() == io::ErrorKind::BrokenPipe {
                                Ok(ExitCode::SUCCESS)
                            } else {
                                Err(format!("writing: {e}"))
                            };
                        }
                    }
                }
                io::Write::flush(&mut out).map_err(|e| format!("writing: {e}"))?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Check { mapping, file } => {
            let args = GuidelineArgs { profile: None, mapping };
            let s = settings(config, Some(&args), None)?;
            let engine = engine(&s)?;
            let source = if file == "-" { Source::file("stdin") } else { Source::file(file.clone()) };
            let stats = check(&engine, open(&file)?, &source, horizon(None), &mut |r| {
                let _ = err.json_line(r);
            })
            .map_err(|e| format!("reading {file}: {e}"))?;
            Ok(exit_status(stats.rejected_messages, None))
        }
        Command::Generate { patients, seed, start, bad_line_rate } => {
            if !(0.0..=1.0).contains(&bad_line_rate) {
                return Err(format!("--bad-line-rate {bad_line_rate} must be between 0 and 1"));
            }
            let mut opts = CohortOptions { patients, seed, bad_line_rate, ..CohortOptions::default() };
            if let Some(start) = start {
                opts.start = start;
            }
            let mut out = io::BufWriter::new(io::stdout().lock());
            match generate(&opts, &mut out).and_then(|_| io::Write::flush(&mut out)) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("writing the cohort: {e}")),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Migrate { database_url } => {
            let s = settings(config, None, database_url.as_deref())?;
            let url = s.database_url()?.to_owned();
            runtime()?.block_on(async move {
                connect_and_migrate(&url, 1, true).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Scheduler { database_url, interval, batch, guideline } => {
            let mut s = settings(config, Some(&guideline), database_url.as_deref())?;
            if let Some(i) = interval {
                s.set("scheduler.interval_seconds", &i.to_string())?;
            }
            if let Some(b) = batch {
                s.set("scheduler.batch", &b.to_string())?;
            }
            let engine = Arc::new(engine(&s)?);
            let url = s.database_url()?.to_owned();
            let clock = clock_of(&s);
            runtime()?.block_on(async move {
                let store = PgStore::new(connect_and_migrate(&url, s.database.pool_size, false).await?);
                let scheduler =
                    Scheduler { engine, store, clock, batch: s.scheduler.batch, backoff: Default::default() };
                let shutdown = shutdown_signal();
                scheduler.run(Duration::from_secs(s.scheduler.interval_seconds), shutdown).await;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

/// The database's current alerts (or change log) on stdout, as replay prints them.
async fn print_database(store: &PgStore, changes: bool) -> Result<(), String> {
    let mut out = output::stdout();
    let written = if changes {
        let log = store.change_log().await.map_err(|e| e.to_string())?;
        log.iter().try_for_each(|c| out.json_line(c))
    } else {
        let alerts = store.alerts().await.map_err(|e| e.to_string())?;
        alerts.iter().try_for_each(|a| out.json_line(a))
    };
    written.and_then(|_| out.flush()).map_err(|e| format!("writing output: {e}"))
}

/// "Now": the settings' fixed clock (`ISLET_CLOCK`), else the system clock.
fn clock_of(s: &Settings) -> Arc<dyn Clock> {
    match s.clock {
        Some(at) => Arc::new(FixedClock(at)),
        None => Arc::new(SystemClock),
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (what a container runtime sends).
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// 0: every message used; 1: some rejected, or a last line left unread.
fn exit_status(rejected_messages: u64, held_back: Option<u64>) -> ExitCode {
    if rejected_messages == 0 && held_back.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn rfc3339(t: Instant) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))
}

/// Connects (failing fast on errors retrying cannot fix), optionally
/// creating the database first, and applies the migrations.
pub(crate) async fn connect_and_migrate(url: &str, pool_size: u32, create: bool) -> Result<PgPool, String> {
    if create && islet_store::create_database_if_missing(url).await.map_err(|e| e.to_string())? {
        tracing::warn!("created the database");
    }
    let pool = islet_store::connect(url, pool_size).await.map_err(|e| e.to_string())?;
    islet_store::migrate(&pool).await.map_err(|e| e.to_string())?;
    Ok(pool)
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

fn parse_batch_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("{s:?} is not a whole number"))?;
    if BATCH_SIZE_RANGE.contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is outside {}–{}", BATCH_SIZE_RANGE.start(), BATCH_SIZE_RANGE.end()))
    }
}
