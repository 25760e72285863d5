//! A PostgreSQL restart in the middle of a load, inside one of its
//! transactions, is survived: the loader retries with backoff (one log line
//! per retry), acknowledges nothing that did not commit, and ends with the
//! same database and alerts as an undisturbed load. The server restarted
//! is a throwaway cluster of this test's own (`TempCluster`), never the
//! machine's.

mod common;

use common::{line_count, load_into, load_succeeded, run_to_end, Loader};
use islet_store::test_support::{TempCluster, TempDir, TestDb};
use std::process::Stdio;
use std::time::{Duration, Instant};

const BATCH_SIZE: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_load_is_survived() {
    let dir = TempDir::new("islet-pg-restart");
    let file = common::cohort(dir.path(), 250, 5);
    let lines = line_count(&file);
    let cluster = TempCluster::start();
    let load = |url: &str| {
        let mut cmd = load_into(url, BATCH_SIZE);
        cmd.args(["--at", "2025-06-01"]).arg(&file);
        cmd
    };

    let reference = TestDb::on(&cluster.server_url()).await;
    let expected = run_to_end(load(&reference.url)).await;
    assert!(load_succeeded(expected.status));
    assert!(!expected.stdout.is_empty());
    let expected_tables = reference.snapshot().await;

    let db = TestDb::on(&cluster.server_url()).await;
    let mut loader = Loader::spawn(load(&db.url).env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::piped()));
    // Once a fifth of the file has committed, hold the next batch inside its
    // transaction (its write of the position waits for a table lock), and
    // restart then: the restart always cuts a transaction with uncommitted
    // writes, however fast the machine.
    let started = Instant::now();
    loop {
        if db.next_line().await.is_some_and(|next| next > lines / 5) {
            break;
        }
        assert!(loader.try_wait().is_none(), "the load ended before the restart");
        assert!(started.elapsed() < Duration::from_secs(60), "the load made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let hold = db.block_writes("source_position").await;
    db.wait_for_a_blocked_client().await;
    let committed_before_restart = db.next_line().await.unwrap();
    assert!(committed_before_restart <= lines, "the load had finished before the restart");
    cluster.restart();
    drop(hold); // its session ended with the restart

    let output = tokio::task::spawn_blocking(move || loader.output()).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(load_succeeded(output.status), "loader failed: {stderr}");
    assert!(stderr.contains("retrying"), "the loader should have logged its retry of the cut batch:\n{stderr}");
    assert!(output.stdout == expected.stdout, "the printed alerts differ from an undisturbed load");
    if let Some(difference) = db.snapshot().await.difference(&expected_tables) {
        panic!("the database differs from an undisturbed load:\n{difference}");
    }
}
