//! What the PostgreSQL tests of the `islet` command line share: the binary,
//! a generated cohort, and a loader process that cannot outlive its test.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};

pub fn islet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_islet"))
}

/// `islet generate` into `dir`: deterministic for a seed, with one line in
/// a hundred invalid so that rejections are stored too (a load then exits 1).
pub fn cohort(dir: &Path, patients: usize, seed: u64) -> PathBuf {
    let path = dir.join(format!("cohort-{patients}-{seed}.ndjson"));
    let out = islet()
        .args(["generate", "--patients", &patients.to_string(), "--seed", &seed.to_string()])
        .args(["--bad-line-rate", "0.01"])
        .output()
        .expect("run islet generate");
    assert!(out.status.success(), "generate failed: {}", String::from_utf8_lossy(&out.stderr));
    // Spread through the file, what no patient holds: a DELETE of a resource
    // Islet never saw, and a versioned resource whose code Islet does not use
    // (both kept as tombstones, so every table has rows to compare).
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let every = (lines.len() / 6).max(1);
    for n in (1..=5).rev() {
        let at = (n * every).min(lines.len());
        lines.insert(at, format!(
            r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"request":{{"method":"DELETE","url":"Observation/never-seen-{n}"}}}}]}}"#
        ));
        lines.insert(at, format!(
            r#"{{"resourceType":"Condition","id":"unused-{n}","meta":{{"versionId":"3"}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"195967001"}}]}},"subject":{{"reference":"Patient/someone-{n}"}}}}"#
        ));
    }
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Lines in a file (the last committed position of a complete load is this + 1).
pub fn line_count(file: &Path) -> i64 {
    std::fs::read_to_string(file).unwrap().lines().count() as i64
}

/// `islet replay --database-url URL --batch-size N`; the caller adds options and the file.
pub fn load_into(url: &str, batch_size: usize) -> Command {
    let mut cmd = islet();
    cmd.args(["replay", "--database-url", url, "--batch-size", &batch_size.to_string()]);
    cmd
}

/// A loader process that is killed (SIGKILL) if its test ends or panics
/// first: a leftover loader would keep retrying against a dropped database.
pub struct Loader {
    child: Option<Child>,
}

impl Loader {
    pub fn spawn(cmd: &mut Command) -> Loader {
        Loader { child: Some(cmd.stdin(Stdio::null()).spawn().expect("run islet")) }
    }

    /// Its exit status, if it has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().expect("poll the loader"))
    }

    /// SIGKILL, as a crash or `kill -9` would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill the loader");
            child.wait().expect("reap the loader");
        }
    }

    /// Waits for its end (blocking): status and captured output.
    pub fn output(mut self) -> Output {
        self.child.take().expect("a running loader").wait_with_output().expect("wait for the loader")
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        if self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none()) {
            self.kill();
        }
    }
}

/// Exit status of a load that used every line (0) or rejected some (1): anything else is a failure.
pub fn load_succeeded(status: ExitStatus) -> bool {
    matches!(status.code(), Some(0) | Some(1))
}

/// Runs a command to its end off the async runtime (a test's proxy or
/// polling may need the runtime meanwhile); its status and output.
pub async fn run_to_end(mut cmd: Command) -> Output {
    let loader = Loader::spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
    tokio::task::spawn_blocking(move || loader.output()).await.expect("wait for islet")
}
