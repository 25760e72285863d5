//! A PostgreSQL restart in the middle of a load is survived: the loader
//! retries with backoff (one log line per retry), acknowledges nothing that
//! did not commit, and ends with the same alerts as an undisturbed load.
//! Its own test binary, so no other test's connections see the restart.

use islet_store::test_support::TestDb;
use std::process::{Command, Stdio};
use std::time::Duration;

fn islet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_islet"))
}

fn pg_version() -> String {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("Debian's PostgreSQL layout")
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL cluster")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_load_is_survived() {
    let dir = std::env::temp_dir().join(format!("islet-pg-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cohort.ndjson");
    let out = islet().args(["generate", "--patients", "1500", "--seed", "5"]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&file, out.stdout).unwrap();
    let load = |url: &str| {
        let mut cmd = islet();
        cmd.args(["replay", "--database-url", url, "--at", "2025-06-01", "--batch-size", "20"]).arg(&file);
        cmd
    };

    let reference = TestDb::new().await;
    let expected = load(&reference.url).stderr(Stdio::null()).output().unwrap();
    assert!(!expected.stdout.is_empty());
    drop(reference);

    let db = TestDb::new().await;
    let child = load(&db.url).env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let restart = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &pg_version(), "main", "restart"])
        .status()
        .expect("pg_ctlcluster");
    assert!(restart.success(), "restarting PostgreSQL failed");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0) | Some(1)), "loader failed: {stderr}");
    // A transaction cut by the restart is retried by islet ("retrying"); a
    // pooled connection found dead between transactions is replaced by the
    // pool, which logs that. Either way the disruption is in the log.
    assert!(
        stderr.contains("retrying") || stderr.contains("terminating connection"),
        "the loader should have logged the disruption:\n{stderr}"
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap(), String::from_utf8(expected.stdout).unwrap());
}
