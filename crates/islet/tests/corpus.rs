//! Real FHIR written elsewhere (`../shared/fhir-corpus/`: HL7's R4 examples,
//! the validator's test cases, Synthea, mCODE, HAPI envelopes) through
//! `islet check` and `islet replay --stats`, the way an integration engineer
//! would feed it: nothing panics, memory stays bounded, check and replay
//! reject the same lines, and a reviewed summary per file (messages,
//! resources, skipped, rejections by code) shows any change in what Islet
//! accepts.
//!
//! To re-record after an intended change: `ISLET_BLESS=1 cargo test -p islet
//! --test corpus`, then review the diff of `tests/corpus/*.summary.json`.
//! Without the corpus beside the repository (a user's own clone) the test
//! says so loudly and passes; under CI (`CI=true`) its absence is a failure.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A generous ceiling for one run's peak memory (the largest file is ~6 MB
/// gzipped; a leak or a quadratic structure shows up far above this).
const MAX_PEAK_KIB: i64 = 512 * 1024;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fhir-corpus")
}

fn goldens_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

struct Run {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    peak_kib: i64,
}

/// Runs `islet ARGS -` with the gunzipped file on stdin; returns its output
/// and its own peak resident memory (wait4's rusage, this child only).
fn run_on(file: &Path, args: &[&str]) -> Run {
    let gunzip = Command::new("gzip").arg("-dc").arg(file).stdout(Stdio::piped()).spawn().expect("gzip");
    let mut child = Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(args)
        .arg("-")
        .stdin(gunzip.stdout.unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run islet");
    let mut stdout = Vec::new();
    let mut stderr = String::new();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    out.read_to_end(&mut stdout).unwrap();
    stderr.push_str(&reader.join().unwrap());
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, whose pid we hold; rusage is plain data.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let status = if libc::WIFEXITED(status) { Some(libc::WEXITSTATUS(status)) } else { None };
    Run { status, stdout, stderr, peak_kib: usage.ru_maxrss }
}

fn rejection_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|_| panic!("stderr is not JSON: {l}")))
        .filter(|v| v.get("code").is_some())
        .collect()
}

#[test]
fn every_corpus_file_is_read_as_an_integration_engineer_expects() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "the FHIR corpus is missing at {} (CI must have ../shared beside the clone)", dir.display());
        eprintln!("\n*** skipped: corpus not present at {} ***\n", dir.display());
        return;
    }
    let bless = std::env::var_os("ISLET_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".ndjson.gz"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected the corpus files, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().trim_end_matches(".ndjson.gz").to_string();
        let check = run_on(file, &["check"]);
        // A fixed instant: several files carry no clinical time at all (replay
        // refuses to guess one), and the alert count should not move with the date.
        let replay = run_on(file, &["replay", "--stats", "--at", "2026-01-01"]);
        for (what, run) in [("check", &check), ("replay", &replay)] {
            if !matches!(run.status, Some(0 | 1)) {
                failures.push(format!("{name}: {what} exited {:?}:\n{}", run.status, tail(&run.stderr)));
            }
            if run.stderr.contains("panicked") {
                failures.push(format!("{name}: {what} panicked:\n{}", tail(&run.stderr)));
            }
            if run.peak_kib > MAX_PEAK_KIB {
                failures.push(format!("{name}: {what} peaked at {} MiB", run.peak_kib / 1024));
            }
        }
        let check_rejections = rejection_lines(&check.stderr);
        let mut replay_lines = rejection_lines(&replay.stderr);
        let stats = replay
            .stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v.get("stats").is_some());
        replay_lines.retain(|v| v.get("stats").is_none());
        if check_rejections != replay_lines {
            failures.push(format!("{name}: check and replay reject different lines"));
        }
        let Some(stats) = stats else {
            failures.push(format!("{name}: replay printed no stats"));
            continue;
        };
        let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
        for r in &check_rejections {
            *by_code.entry(r["code"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
        }
        let s = &stats["stats"];
        let summary = serde_json::json!({
            "messages": s["messages"],
            "resources": s["resources"],
            "stored": s["stored"],
            "duplicates": s["duplicates"],
            "skipped": s["skipped"],
            "rejected_messages": s["rejected_messages"],
            "rejections": by_code,
            "alerts": stats["alerts"],
        });
        let text = serde_json::to_string_pretty(&summary).unwrap() + "\n";
        let golden = goldens_dir().join(format!("{name}.summary.json"));
        if bless {
            std::fs::create_dir_all(goldens_dir()).unwrap();
            std::fs::write(&golden, &text).unwrap();
        } else {
            let expected = std::fs::read_to_string(&golden).unwrap_or_default();
            if expected != text {
                failures.push(format!(
                    "{name}: summary differs from {}:\n--- expected\n{expected}+++ got\n{text}",
                    golden.display()
                ));
            }
        }
        let _ = replay.stdout;
    }
    assert!(failures.is_empty(), "{} problem(s):\n\n{}", failures.len(), failures.join("\n\n"));
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}
