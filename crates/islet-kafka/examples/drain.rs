//! The raw consume limit for `scripts/bench-serve`: a bare librdkafka
//! consumer (no group, no database, no decoding) assigned every partition of
//! a topic from the beginning, counting records and bytes until it has seen
//! `--count` of them. Prints one JSON line: records, bytes, elapsed seconds
//! (from the assignment to the last record), records/s and MB/s.
//!
//!     cargo run --release -p islet-kafka --example drain -- --brokers B --topic T --count N \
//!         [--idle-seconds S] [--timestamps FILE] [--lag] [--property NAME=VALUE]...
//!
//! `--timestamps FILE` also writes `partition offset timestamp_ms arrival_ms` per record
//! (the latency benchmark joins it with commit times), and `--lag` reports
//! the percentiles of arrival time minus record timestamp (run live next to
//! a producer: the delivery latency of broker and client alone). Both slow
//! the drain a little, so the raw-limit run leaves them out. Exit status 0 when `--count` records
//! arrived, 1 when the topic went quiet for `--idle-seconds` (default 30)
//! before that, 2 for usage or client errors.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    brokers: String,
    topic: String,
    count: u64,
    idle: Duration,
    timestamps: Option<String>,
    lag: bool,
    properties: Vec<(String, String)>,
}

const USAGE: &str = "usage: drain --brokers HOST:PORT --topic NAME --count N [--idle-seconds S] \
                     [--timestamps FILE] [--lag] [--property NAME=VALUE]...";

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut brokers, mut topic, mut count) = (None, None, None);
    let (mut idle, mut timestamps, mut properties) = (Duration::from_secs(30), None, Vec::new());
    let mut lag = false;
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => brokers = Some(value()?),
            "--topic" => topic = Some(value()?),
            "--count" => {
                let v = value()?;
                count = Some(
                    v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!("--count {v}: not a positive number"))?,
                );
            }
            "--idle-seconds" => {
                let v = value()?;
                let s = v.parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0);
                idle = Duration::from_secs_f64(s.ok_or(format!("--idle-seconds {v}: not a positive number"))?);
            }
            "--timestamps" => timestamps = Some(value()?),
            "--lag" => lag = true,
            "--property" => {
                let v = value()?;
                let (name, val) = v.split_once('=').ok_or(format!("--property {v}: not NAME=VALUE"))?;
                properties.push((name.to_owned(), val.to_owned()));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        brokers: brokers.ok_or(format!("--brokers is required\n{USAGE}"))?,
        topic: topic.ok_or(format!("--topic is required\n{USAGE}"))?,
        count: count.ok_or(format!("--count is required\n{USAGE}"))?,
        idle,
        timestamps,
        lag,
        properties,
    })
}

/// What the drain saw.
struct Drained {
    partitions: usize,
    records: u64,
    bytes: u64,
    errors: u64,
    elapsed: Duration,
    /// Arrival minus record timestamp, ms, per record (`--lag`).
    lags_ms: Vec<i64>,
}

fn drain(args: &Args) -> Result<Drained, String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.brokers)
        // librdkafka wants a group id for a consumer; nothing is committed to it.
        .set("group.id", format!("islet-drain-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false");
    for (name, value) in &args.properties {
        config.set(name, value);
    }
    let consumer: BaseConsumer = config.create().map_err(|e| format!("creating the consumer: {e}"))?;
    let metadata = consumer
        .fetch_metadata(Some(&args.topic), Duration::from_secs(10))
        .map_err(|e| format!("reading the metadata of {}: {e}", args.topic))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == args.topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!("topic {} has no partitions (does it exist?)", args.topic));
    }
    let mut list = TopicPartitionList::new();
    for p in &partitions {
        list.add_partition_offset(&args.topic, *p, Offset::Beginning).map_err(|e| format!("partition {p}: {e}"))?;
    }
    let mut timestamps = match &args.timestamps {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| format!("creating {path}: {e}"))?)),
        None => None,
    };
    let started = Instant::now();
    consumer.assign(&list).map_err(|e| format!("assigning {} partitions: {e}", partitions.len()))?;
    let (mut records, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut last = Instant::now();
    let mut finished = started;
    let mut lags_ms = Vec::new();
    while records < args.count && last.elapsed() < args.idle {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                records += 1;
                bytes += (m.payload_len() + m.key().map_or(0, <[u8]>::len)) as u64;
                last = Instant::now();
                finished = last;
                let ts = m.timestamp().to_millis();
                let arrived = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
                if let (true, Some(ts)) = (args.lag, ts) {
                    lags_ms.push(arrived - ts);
                }
                if let Some(out) = timestamps.as_mut() {
                    let ts = ts.map_or_else(|| "-".to_owned(), |t| t.to_string());
                    writeln!(out, "{} {} {ts} {arrived}", m.partition(), m.offset())
                        .map_err(|e| format!("writing timestamps: {e}"))?;
                }
            }
            Some(Err(e)) => {
                // Transient (a broker reconnect); librdkafka goes on by itself.
                errors += 1;
                eprintln!("drain: {e}");
            }
        }
    }
    if let Some(mut out) = timestamps {
        out.flush().map_err(|e| format!("writing timestamps: {e}"))?;
    }
    Ok(Drained { partitions: partitions.len(), records, bytes, errors, elapsed: finished - started, lags_ms })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("drain: {why}");
            return ExitCode::from(2);
        }
    };
    match drain(&args) {
        Ok(d) => {
            let seconds = d.elapsed.as_secs_f64().max(1e-9);
            let mut lags = d.lags_ms;
            lags.sort_unstable();
            // Nearest rank.
            let pct = |q: usize| lags.get((lags.len() * q).div_ceil(100).saturating_sub(1)).copied();
            let mut out = serde_json::json!({
                    "topic": args.topic,
                    "partitions": d.partitions,
                    "records": d.records,
                    "bytes": d.bytes,
                    "errors": d.errors,
                    "elapsed_s": (seconds * 1000.0).round() / 1000.0,
                    "records_per_s": (d.records as f64 / seconds).round(),
                    "mb_per_s": (d.bytes as f64 / seconds / 1e6 * 10.0).round() / 10.0,
            });
            if args.lag {
                out["lag_ms"] = serde_json::json!({ "p50": pct(50), "p99": pct(99), "max": lags.last() });
            }
            println!("{out}");
            if d.records < args.count {
                eprintln!("drain: {} of {} records before the topic went quiet", d.records, args.count);
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("drain: {why}");
            ExitCode::from(2)
        }
    }
}
