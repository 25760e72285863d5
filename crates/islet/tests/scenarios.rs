//! Recorded scenarios, run as data: each folder under `tests/scenarios/`
//! holds `input.ndjson`, optional `args` (extra `islet replay` arguments on
//! one line), and the golden `expected.ndjson` (stdout) and
//! `expected.stderr` (one JSON rejection per line; absent = none). The exit
//! status must be 1 exactly when something was rejected.
//!
//! To re-record after an intended change: `ISLET_BLESS=1 cargo test -p islet --test scenarios`,
//! then review the diff of the golden files like code.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn recorded_scenarios_match_their_golden_output() {
    let bless = std::env::var_os("ISLET_BLESS").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("tests/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.ndjson").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "expected the recorded scenarios, found {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let args = read_or_empty(&dir.join("args"));
        let output = Command::new(env!("CARGO_BIN_EXE_islet"))
            .arg("replay")
            .args(args.split_whitespace())
            .arg(dir.join("input.ndjson"))
            .output()
            .expect("run islet");
        let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
        let stderr = String::from_utf8(output.stderr).expect("utf-8 stderr");
        let code = output.status.code();
        let expected_code = if stderr.is_empty() { Some(0) } else { Some(1) };
        if code != expected_code {
            failures.push(format!("{name}: exit {code:?}, expected {expected_code:?}; stderr:\n{stderr}"));
            continue;
        }
        if bless {
            std::fs::write(dir.join("expected.ndjson"), &stdout).unwrap();
            if stderr.is_empty() {
                let _ = std::fs::remove_file(dir.join("expected.stderr"));
            } else {
                std::fs::write(dir.join("expected.stderr"), &stderr).unwrap();
            }
            continue;
        }
        let expected = read_or_empty(&dir.join("expected.ndjson"));
        if stdout != expected {
            failures.push(format!("{name}: stdout differs from expected.ndjson\n{}", diff(&expected, &stdout)));
        }
        let expected_err = read_or_empty(&dir.join("expected.stderr"));
        if stderr != expected_err {
            failures.push(format!("{name}: stderr differs from expected.stderr\n{}", diff(&expected_err, &stderr)));
        }
    }
    assert!(failures.is_empty(), "{} scenario(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Lines only in one side, enough to see what changed.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for l in &e {
        if !a.contains(l) {
            out.push_str(&format!("- {l}\n"));
        }
    }
    for l in &a {
        if !e.contains(l) {
            out.push_str(&format!("+ {l}\n"));
        }
    }
    if out.is_empty() {
        out.push_str("(same lines, different order)\n");
    }
    out
}

/// Every rule of the spec is exercised end to end by some scenario.
#[test]
fn every_rule_fires_in_some_scenario() {
    let mut seen = String::new();
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let dir = entry.unwrap().path();
        seen.push_str(&read_or_empty(&dir.join("expected.ndjson")));
    }
    let missing: Vec<&str> = islet_guideline::rules::catalogue()
        .into_iter()
        .map(|r| r.id)
        .filter(|id| !seen.contains(&format!("\"rule\":\"{id}\"")))
        .collect();
    assert!(missing.is_empty(), "rules no scenario shows firing: {missing:?}");
}

/// Issue "PostgreSQL state": the PostgreSQL path (`replay --database-url`,
/// a fresh database per scenario) prints exactly what the in-memory replay
/// prints, alerts or change log, and reports the same rejections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replay_equals_memory_replay_on_every_scenario() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.ndjson").exists())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let args = read_or_empty(&dir.join("args"));
        let db = islet_store::test_support::TestDb::new().await;
        let output = Command::new(env!("CARGO_BIN_EXE_islet"))
            .arg("replay")
            .args(args.split_whitespace())
            .args(["--database-url", &db.url])
            .arg(dir.join("input.ndjson"))
            .output()
            .expect("run islet");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        if stdout != read_or_empty(&dir.join("expected.ndjson")) {
            failures.push(format!(
                "{name}: PostgreSQL stdout differs\n{}",
                diff(&read_or_empty(&dir.join("expected.ndjson")), &stdout)
            ));
        }
        if stderr != read_or_empty(&dir.join("expected.stderr")) {
            failures.push(format!(
                "{name}: PostgreSQL stderr differs\n{}",
                diff(&read_or_empty(&dir.join("expected.stderr")), &stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{} scenario(s) differ:\n\n{}", failures.len(), failures.join("\n\n"));
}
