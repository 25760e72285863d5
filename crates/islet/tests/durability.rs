//! Crash safety of `islet replay --database-url`: a loader killed with
//! SIGKILL at random points, restarted with `--resume` until it finishes,
//! leaves exactly the alerts and the change log of an uninterrupted load —
//! no change lost, none doubled.

use islet_store::test_support::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const AT: &str = "2025-06-01";

fn islet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_islet"))
}

fn cohort(dir: &Path, patients: usize, seed: u64) -> PathBuf {
    let path = dir.join(format!("cohort-{patients}-{seed}.ndjson"));
    let out = islet()
        .args(["generate", "--patients", &patients.to_string(), "--seed", &seed.to_string()])
        .output()
        .expect("run islet generate");
    assert!(out.status.success(), "generate failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&path, out.stdout).unwrap();
    path
}

fn load(url: &str, file: &Path, resume: bool) -> Command {
    let mut cmd = islet();
    cmd.args(["replay", "--database-url", url, "--at", AT, "--batch-size", "40"]);
    if resume {
        cmd.arg("--resume");
    }
    cmd.arg(file);
    cmd
}

/// (alerts, change log) as printed by the loader after completion.
fn outputs(url: &str, file: &Path) -> (String, String) {
    let alerts = load(url, file, true).output().unwrap();
    let mut changes_cmd = load(url, file, true);
    changes_cmd.arg("--changes");
    let changes = changes_cmd.output().unwrap();
    (String::from_utf8(alerts.stdout).unwrap(), String::from_utf8(changes.stdout).unwrap())
}

/// A small seeded generator for kill delays (no extra crate needed).
struct Lcg(u64);
impl Lcg {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_loads_resume_to_the_uninterrupted_result() {
    let dir = tempdir();
    let file = cohort(&dir, 400, 11);

    let reference = TestDb::new().await;
    let status = load(&reference.url, &file, false).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(status.code() == Some(0) || status.code() == Some(1), "uninterrupted load failed: {status:?}");
    let expected = outputs(&reference.url, &file);
    assert!(expected.0.lines().count() > 100, "the cohort should raise many alerts");
    assert!(expected.1.lines().count() >= expected.0.lines().count());

    let mut rng = Lcg(0x1517);
    for run in 0..3 {
        let db = TestDb::new().await;
        let mut kills = 0;
        let started = Instant::now();
        loop {
            let mut child = load(&db.url, &file, true).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            let delay = Duration::from_millis(rng.next_ms(150, 900));
            let deadline = Instant::now() + delay;
            let finished = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break Some(status);
                }
                if Instant::now() >= deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            match finished {
                Some(status) => {
                    assert!(matches!(status.code(), Some(0) | Some(1)), "run {run}: loader failed: {status:?}");
                    break;
                }
                None => {
                    child.kill().unwrap(); // SIGKILL
                    child.wait().unwrap();
                    kills += 1;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(240), "run {run}: no progress after {kills} kills");
        }
        assert!(kills > 0, "run {run}: the loader was never interrupted; lower the delays");
        let got = outputs(&db.url, &file);
        assert_eq!(got.0, expected.0, "run {run}: alerts differ after {kills} kills");
        assert_eq!(got.1, expected.1, "run {run}: change log differs after {kills} kills");
    }
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("islet-durability-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
