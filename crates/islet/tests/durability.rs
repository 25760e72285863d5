//! Crash safety of `islet replay --database-url`: a loader killed with
//! SIGKILL at random points, restarted with `--resume` until it finishes,
//! leaves exactly the database of an uninterrupted load — every table that
//! holds state, row for row — and prints the same alerts: no change lost,
//! none doubled.
//!
//! The kills must land between commits to prove anything, so the test reads
//! the committed position (`source_position`) just before and just after
//! each kill, and requires a kill after the first batch committed and before
//! the last one did.

mod common;

use common::{line_count, load_into, load_succeeded, run_to_end, Loader};
use islet_store::test_support::{Snapshot, TempDir, TestDb};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const BATCH_SIZE: usize = 40;

/// A small seeded generator for kill points (no extra crate needed).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// `islet replay --database-url` at `at` (`None`: the default instant, the
/// latest clinical time in the file).
fn load(url: &str, file: &Path, at: Option<&str>, resume: bool) -> std::process::Command {
    let mut cmd = load_into(url, BATCH_SIZE);
    if let Some(at) = at {
        cmd.args(["--at", at]);
    }
    if resume {
        cmd.arg("--resume");
    }
    cmd.arg(file);
    cmd
}

/// The database and printed alerts of one uninterrupted load.
async fn uninterrupted(file: &Path, at: Option<&str>) -> (Snapshot, String) {
    let db = TestDb::new().await;
    let out = run_to_end(load(&db.url, file, at, false)).await;
    assert!(load_succeeded(out.status), "uninterrupted load failed: {}", String::from_utf8_lossy(&out.stderr));
    let snapshot = db.snapshot().await;
    assert!(snapshot.empty_tables().is_empty(), "the cohort should fill every table: {:?}", snapshot.empty_tables());
    let alerts = String::from_utf8(out.stdout).unwrap();
    assert!(alerts.lines().count() > 100, "the cohort should raise many alerts");
    (snapshot, alerts)
}

/// When one loader is killed.
enum KillPoint {
    /// This long after it started: it may still be connecting, reading the
    /// file for the default instant, or in its first batches.
    AfterStart(Duration),
    /// Once this line has committed, plus a moment (so the kill falls inside
    /// the next transaction or between two).
    AfterLine(i64, Duration),
}

/// The committed position (next line to read; `None`: nothing committed)
/// read just before one kill, and after it once the killed loader's
/// sessions have ended (a COMMIT in flight at the kill may still land).
#[derive(Debug)]
struct Kill {
    before: Option<i64>,
    after: Option<i64>,
}

/// Loads `file` with a kill at each point and `--resume` after each, then
/// one last `--resume` to the end. The database, the printed alerts, and
/// where the kills landed.
async fn killed_and_resumed(file: &Path, at: Option<&str>, rng: &mut Lcg) -> (TestDb, String, Vec<Kill>) {
    let lines = line_count(file);
    let mut points = vec![KillPoint::AfterStart(Duration::from_millis(20 + rng.below(400)))];
    let mut marks: Vec<i64> = (0..3).map(|_| lines / 10 + rng.below(lines as u64 * 3 / 4) as i64).collect();
    marks.sort();
    points.extend(marks.into_iter().map(|line| KillPoint::AfterLine(line, Duration::from_millis(rng.below(30)))));

    let db = TestDb::new().await;
    let mut kills = Vec::new();
    let started = Instant::now();
    for point in points {
        let mut loader = Loader::spawn(load(&db.url, file, at, true).stdout(Stdio::null()).stderr(Stdio::null()));
        let spawned = Instant::now();
        let finished = loop {
            if let Some(status) = loader.try_wait() {
                break Some(status);
            }
            let due = match point {
                KillPoint::AfterStart(delay) => spawned.elapsed() >= delay,
                KillPoint::AfterLine(line, _) => db.next_line().await.is_some_and(|next| next > line),
            };
            if due {
                break None;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "no progress after {} kills: {kills:?}", kills.len());
            tokio::time::sleep(Duration::from_millis(3)).await;
        };
        if let Some(status) = finished {
            // Done before this point (a slow poll): the remaining points are moot.
            assert!(load_succeeded(status), "loader failed: {status:?}");
            break;
        }
        if let KillPoint::AfterLine(_, moment) = point {
            tokio::time::sleep(moment).await;
        }
        let before = db.next_line().await;
        loader.kill();
        db.wait_for_other_clients().await;
        kills.push(Kill { before, after: db.next_line().await });
    }

    let resume_from = db.next_line().await.unwrap_or(1);
    let mut last = load(&db.url, file, at, true);
    last.arg("--stats");
    let out = run_to_end(last).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(load_succeeded(out.status), "the last --resume failed: {stderr}");
    let stats = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("first_line").is_some())
        .expect("--stats prints a JSON line with first_line");
    assert_eq!(stats["first_line"], resume_from, "--resume should continue right after the committed line");
    (db, String::from_utf8(out.stdout).unwrap(), kills)
}

/// Several killed loads of one cohort at one instant, each compared with
/// an uninterrupted load.
async fn kills_leave_the_uninterrupted_result(at: Option<&str>, runs: usize, seed: u64) {
    let dir = TempDir::new("islet-durability");
    let file = common::cohort(dir.path(), 400, 11);
    let lines = line_count(&file);
    let (expected, expected_alerts) = uninterrupted(&file, at).await;

    let mut rng = Lcg(seed);
    for run in 0..runs {
        let (db, alerts, kills) = killed_and_resumed(&file, at, &mut rng).await;
        // Shown with the test's output when it fails (or with --nocapture).
        eprintln!("at {at:?}, run {run}: {lines} lines, committed position around each kill: {kills:?}");
        // A kill after the first batch committed and before the last one did:
        // the resume had both committed work to keep and work to redo.
        assert!(
            kills.iter().any(|k| k.before.is_some() && k.after.is_some_and(|next| next <= lines)),
            "run {run}: no kill landed between the first and the last commit ({lines} lines): {kills:?}"
        );
        if let Some(difference) = db.snapshot().await.difference(&expected) {
            panic!("run {run}: the database differs after kills {kills:?}:\n{difference}");
        }
        assert!(alerts == expected_alerts, "run {run}: the printed alerts differ after kills {kills:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_loads_at_a_given_instant_resume_to_the_uninterrupted_result() {
    kills_leave_the_uninterrupted_result(Some("2025-06-01"), 2, 0x1517).await;
}

/// Without `--at` each run, resumed or not, first reads the whole file for
/// its latest clinical time: a resumed run must find the same instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_loads_at_the_default_instant_resume_to_the_uninterrupted_result() {
    kills_leave_the_uninterrupted_result(None, 1, 0x2f11).await;
}
