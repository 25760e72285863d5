//! Decode an NDJSON file (one message per line) and summarise what came out:
//! changes by kind, facts by kind, rejections by code, and the decode time.
//!
//! `cargo run --release -p islet-fhir --example decode_ndjson -- FILE [MAPPING.toml]`

use islet_fhir::{Change, Decoder, SiteMapping};
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: decode_ndjson FILE [MAPPING.toml]");
        std::process::exit(2);
    };
    let mapping = match args.next() {
        Some(m) => SiteMapping::load(std::path::Path::new(&m)).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        }),
        None => SiteMapping::empty(),
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let decoder = Decoder::new(mapping);

    let started = Instant::now();
    let decoded: Vec<_> = lines.iter().map(|l| decoder.decode(l.as_bytes())).collect();
    let elapsed = started.elapsed();

    let mut changes = BTreeMap::<String, usize>::new();
    let mut facts = BTreeMap::<String, usize>::new();
    let mut rejections = BTreeMap::<String, usize>::new();
    let mut examples = BTreeMap::<String, String>::new();
    for (n, d) in decoded.iter().enumerate() {
        for c in &d.changes {
            let key = match c {
                Change::Upsert(v) => {
                    for f in &v.facts {
                        let kind = format!("{:?}", f.kind);
                        let name = kind.split(['(', ' ', '{']).next().unwrap_or("").to_owned();
                        *facts.entry(name).or_default() += 1;
                    }
                    format!("upsert {}", v.resource_type)
                }
                Change::Delete { resource_type, .. } => format!("delete {resource_type}"),
                Change::Skipped { resource_type, .. } => format!("skipped {resource_type}"),
                Change::Unused(v) => format!("unused {}", v.resource_type),
                Change::Shared(s) => format!("shared {}", s.reference.split('/').next().unwrap_or("")),
            };
            *changes.entry(key).or_default() += 1;
        }
        for r in &d.rejections {
            let code = r.reason.code().to_owned();
            *rejections.entry(code.clone()).or_default() += 1;
            examples.entry(code).or_insert_with(|| format!("line {}: {r}", n + 1));
        }
    }
    println!(
        "{} messages, {} bytes, {:.2} µs/message ({:.0} messages/s)",
        lines.len(),
        text.len(),
        elapsed.as_secs_f64() * 1e6 / lines.len().max(1) as f64,
        lines.len() as f64 / elapsed.as_secs_f64()
    );
    println!("changes:");
    for (k, n) in &changes {
        println!("  {n:7}  {k}");
    }
    println!("facts:");
    for (k, n) in &facts {
        println!("  {n:7}  {k}");
    }
    println!("rejections:");
    for (k, n) in &rejections {
        println!("  {n:7}  {k}    e.g. {}", examples[k]);
    }
}
