//! Bad input never stops a load, never vanishes and never crashes a
//! command: each case here was a defect (issue "One ingest path that never
//! stops on bad input"), run through the real binary — `islet check`,
//! in-memory `islet replay` and `islet replay --database-url` — which must
//! agree on what they reject.

use islet_store::test_support::TestDb;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn islet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_islet"))
}

/// A temporary folder, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("islet-bad-input-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const AT: &str = "2024-03-01";

/// A small, valid workload: scenario 01 (three patients, work-up gaps).
fn valid_lines() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios/01-workup-gaps/input.ndjson");
    std::fs::read_to_string(path).unwrap().lines().map(String::from).collect()
}

fn ki67(id: &str, patient: &str, extra: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final",{extra}"code":{{"coding":[{{"system":"http://loinc.org","code":"29593-1"}}]}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2024-02-01","valueQuantity":{{"value":4,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}}}"#
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run islet")
}

fn stderr_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("stderr line is not JSON: {l}")))
        .collect()
}

/// (line, code) of every rejection on stderr.
fn rejections(out: &Output) -> Vec<(u64, String)> {
    stderr_lines(out)
        .iter()
        .filter(|v| v.get("code").is_some())
        .map(|v| (v["line"].as_u64().unwrap(), v["code"].as_str().unwrap().to_owned()))
        .collect()
}

fn replay_memory(file: &Path) -> Output {
    run(islet().args(["replay", "--at", AT]).arg(file))
}

fn replay_db(url: &str, file: &Path, extra: &[&str]) -> Output {
    run(islet().args(["replay", "--database-url", url, "--at", AT, "--batch-size", "4"]).args(extra).arg(file))
}

/// Lines the store cannot hold are rejected by the decoder, with a specific
/// reason, the same way in all three modes; the load goes on, and a resume
/// does not stumble on them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_lines_are_rejected_alike_in_every_mode_and_the_load_goes_on() {
    let dir = TempDir::new("poison");
    let mut lines = valid_lines();
    let deep = format!(r#""nested":{}{}"#, "[".repeat(100_000), "]".repeat(100_000)) + ",";
    let poisons = [
        ki67("nul-unit", "sc-workup-a", "").replace(r#""unit":"%""#, r#""unit":"%\u0000""#),
        ki67("long-version", "sc-workup-a", &format!(r#""meta":{{"versionId":"{}"}},"#, "7".repeat(10_000))),
        ki67("deep", "sc-workup-a", &deep),
    ];
    for (i, p) in poisons.iter().enumerate() {
        lines.insert(2 + 2 * i, p.clone());
    }
    let file = dir.write("poison.ndjson", (lines.join("\n") + "\n").as_bytes());
    let poison_lines: Vec<u64> = vec![3, 5, 7];

    let check = run(islet().arg("check").arg(&file));
    let memory = replay_memory(&file);
    let db = TestDb::new().await;
    let load = replay_db(&db.url, &file, &[]);
    for (mode, out) in [("check", &check), ("memory", &memory), ("database", &load)] {
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", String::from_utf8_lossy(&out.stderr));
        let got = rejections(out);
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), poison_lines, "{mode}: {got:?}");
        assert!(
            got.iter().all(|(_, code)| code != "invalid-json"),
            "{mode}: specific reasons, not invalid-json: {got:?}"
        );
    }
    assert_eq!(rejections(&check), rejections(&memory));
    assert_eq!(rejections(&memory), rejections(&load));
    assert_eq!(memory.stdout, load.stdout, "the database holds what memory replay computed");
    assert!(!memory.stdout.is_empty());
    let resumed = replay_db(&db.url, &file, &["--resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(resumed.stdout, load.stdout);
}

/// A message the decoder accepts but PostgreSQL refuses (here: a trigger
/// raising a data exception for one resource id) is isolated by splitting
/// its batch, rejected by line and resource, kept in the rejection table, and
/// everything else is loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_database_refuses_is_isolated_and_the_rest_is_loaded() {
    let dir = TempDir::new("refused");
    let mut lines = valid_lines();
    lines.insert(4, ki67("refused-by-db", "sc-workup-a", ""));
    let file = dir.write("refused.ndjson", (lines.join("\n") + "\n").as_bytes());
    let without = dir.write(
        "without.ndjson",
        (lines.iter().filter(|l| !l.contains("refused-by-db")).cloned().collect::<Vec<_>>().join("\n") + "\n")
            .as_bytes(),
    );

    let db = TestDb::new().await;
    for statement in [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.resource_id = 'refused-by-db' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END IF; \
           RETURN NEW; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON resource_version FOR EACH ROW EXECUTE FUNCTION refuse()",
    ] {
        sqlx::query(statement).execute(&db.pool).await.unwrap();
    }
    let load = replay_db(&db.url, &file, &[]);
    assert_eq!(load.status.code(), Some(1), "{}", String::from_utf8_lossy(&load.stderr));
    let stderr = stderr_lines(&load);
    let refused: Vec<_> = stderr.iter().filter(|v| v["code"] == "store-refused").collect();
    assert_eq!(refused.len(), 1, "{stderr:?}");
    assert_eq!(refused[0]["line"], 5);
    assert!(refused[0]["reason"].as_str().unwrap().contains("SQLSTATE 22023"), "{:?}", refused[0]);
    assert!(refused[0]["reason"].as_str().unwrap().contains("Observation/refused-by-db"));
    // Everything else is there: the alerts of the file without that line.
    let expected = replay_memory(&without);
    assert_eq!(String::from_utf8_lossy(&load.stdout), String::from_utf8_lossy(&expected.stdout));
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM rejection WHERE code = 'store-refused' AND \"offset\" = 5")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kept, 1);
    let position: i64 =
        sqlx::query_scalar("SELECT next_offset FROM source_position").fetch_one(&db.pool).await.unwrap();
    assert_eq!(position as usize, lines.len() + 1, "the whole file is consumed");
}

/// One invalid UTF-8 byte is one rejected line, in every mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_utf8_byte_rejects_one_line() {
    let dir = TempDir::new("utf8");
    let lines = valid_lines();
    let mut bytes = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 3 {
            bytes.extend_from_slice(b"{\"resourceType\":\"Observation\",\"id\":\"x\xff\"}\n");
        }
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
    }
    let file = dir.write("utf8.ndjson", &bytes);
    let db = TestDb::new().await;
    let outs = [run(islet().arg("check").arg(&file)), replay_memory(&file), replay_db(&db.url, &file, &[])];
    for out in &outs {
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(rejections(out), vec![(4, "invalid-utf8".to_string())]);
    }
    assert!(!outs[1].stdout.is_empty(), "the other lines were used");
    assert_eq!(outs[1].stdout, outs[2].stdout);
}

/// Without --at, a file with resources but no clinical time is an error
/// (exit 2), not a silent empty load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_clinical_time_and_no_at_is_an_error() {
    let dir = TempDir::new("no-time");
    let file = dir.write("patients.ndjson", b"{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n");
    let memory = run(islet().arg("replay").arg(&file));
    assert_eq!(memory.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&memory.stderr).contains("give --at"));
    let db = TestDb::new().await;
    let load = run(islet().args(["replay", "--database-url", &db.url]).arg(&file));
    assert_eq!(load.status.code(), Some(2), "{}", String::from_utf8_lossy(&load.stderr));
    assert!(String::from_utf8_lossy(&load.stderr).contains("give --at"));
}

/// A last line still being written is not consumed by a database load; once
/// complete, --resume loads it; the result equals a load of the whole file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_last_line_is_left_for_resume() {
    let dir = TempDir::new("partial");
    let lines = valid_lines();
    let full = lines.join("\n") + "\n";
    let last = lines.last().unwrap();
    let cut = full.len() - 1 - last.len() / 2;
    let file = dir.write("growing.ndjson", &full.as_bytes()[..cut]);
    let db = TestDb::new().await;
    let first = replay_db(&db.url, &file, &[]);
    assert_eq!(first.status.code(), Some(1), "a line was left unread: {}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(rejections(&first), vec![(lines.len() as u64, "incomplete-line".to_string())]);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM rejection").fetch_one(&db.pool).await.unwrap();
    assert_eq!(stored, 0, "an incomplete line is not a rejection to keep");
    // The writer finishes the line.
    std::fs::write(&file, &full).unwrap();
    let resumed = replay_db(&db.url, &file, &["--resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", String::from_utf8_lossy(&resumed.stderr));
    let fresh = TestDb::new().await;
    let whole = replay_db(&fresh.url, &file, &[]);
    assert_eq!(resumed.stdout, whole.stdout);
    // In memory nothing is kept, so the same incomplete line is simply rejected.
    let memory = replay_memory(&dir.write("cut.ndjson", &full.as_bytes()[..cut]));
    assert_eq!(rejections(&memory), vec![(lines.len() as u64, "incomplete-line".to_string())]);
}

/// --resume refuses a file that is not the one whose prefix was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_replaced_file() {
    let dir = TempDir::new("replaced");
    let lines = valid_lines();
    let file = dir.write("feed.ndjson", (lines.join("\n") + "\n").as_bytes());
    let db = TestDb::new().await;
    assert_eq!(replay_db(&db.url, &file, &[]).status.code(), Some(0));
    // Appending is fine: the committed prefix is unchanged.
    let appended = lines.join("\n") + "\n" + &ki67("late", "sc-workup-a", "") + "\n";
    std::fs::write(&file, &appended).unwrap();
    let ok = replay_db(&db.url, &file, &["--resume"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    // Replaced: same path, other content.
    std::fs::write(&file, appended.replace("sc-workup-a", "sc-workup-z")).unwrap();
    let refused = replay_db(&db.url, &file, &["--resume"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not the one loaded before"), "{err}");
    // Truncated: shorter than what was committed.
    std::fs::write(&file, &appended[..appended.len() / 2]).unwrap();
    assert_eq!(replay_db(&db.url, &file, &["--resume"]).status.code(), Some(2));
}

#[test]
fn batch_sizes_out_of_range_are_usage_errors() {
    let dir = TempDir::new("batch-size");
    let file = dir.write("f.ndjson", (valid_lines().join("\n") + "\n").as_bytes());
    for size in ["0", "1000000000000", "-1", "x"] {
        let out = run(islet().args(["replay", "--batch-size", size]).arg(&file));
        assert_eq!(out.status.code(), Some(2), "--batch-size {size}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    let out = run(islet().args(["replay", "--at", AT, "--batch-size", "100000"]).arg(&file));
    assert_eq!(out.status.code(), Some(0));
}

/// `cmd | head -n 1`: the command's own exit status (bash PIPESTATUS) and stderr.
fn piped_to_head(args: &str, redirect_stderr: bool) -> (i32, String) {
    let islet = env!("CARGO_BIN_EXE_islet");
    let redirect = if redirect_stderr { "2>&1" } else { "2>\"$ERR\"" };
    let script = format!("\"{islet}\" {args} {redirect} | head -n 1 >/dev/null; echo ${{PIPESTATUS[0]}}");
    let err_file = std::env::temp_dir().join(format!("islet-pipe-{}-{}", std::process::id(), redirect_stderr));
    let out =
        Command::new("bash").arg("-c").arg(script).env("ERR", &err_file).stderr(Stdio::inherit()).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
    let _ = std::fs::remove_file(&err_file);
    (status, stderr)
}

/// A reader that goes away ends output quietly: no panic, no error, the
/// usual exit status, and a database load still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pipes_end_output_quietly() {
    let dir = TempDir::new("pipes");
    let mut lines = Vec::new();
    for i in 0..3000 {
        lines.push(format!("{{\"resourceType\":\"Observaton\",\"id\":\"x{i}\"}}"));
    }
    lines.extend(valid_lines());
    let bad = dir.write("many-bad.ndjson", (lines.join("\n") + "\n").as_bytes());
    let (status, _) = piped_to_head(&format!("check {}", bad.display()), true);
    assert_eq!(status, 1, "check: rejections found, no crash");

    let cohort = dir.0.join("cohort.ndjson");
    let gen = run(islet().args(["generate", "--patients", "300", "--seed", "1"]));
    std::fs::write(&cohort, &gen.stdout).unwrap();
    let (status, stderr) = piped_to_head(&format!("replay --at 2025-06-01 {}", cohort.display()), false);
    assert_eq!((status, stderr.as_str()), (0, ""), "replay | head -n 3 ends quietly");

    let db = TestDb::new().await;
    let (status, _) = piped_to_head(&format!("replay --database-url {} --at {AT} {}", db.url, bad.display()), true);
    assert_eq!(status, 1);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM rejection").fetch_one(&db.pool).await.unwrap();
    assert_eq!(kept, 3000, "the load went on after stderr closed");
    let next: i64 = sqlx::query_scalar("SELECT next_offset FROM source_position").fetch_one(&db.pool).await.unwrap();
    assert_eq!(next as usize, lines.len() + 1);
}

/// A wrong database URL fails at once with the reason, never the password.
#[test]
fn a_wrong_database_url_fails_fast_and_clearly() {
    let dir = TempDir::new("url");
    let file = dir.write("f.ndjson", (valid_lines().join("\n") + "\n").as_bytes());
    let started = std::time::Instant::now();
    let out =
        run(islet().args(["replay", "--database-url", "postgres://postgres:hunter2@127.0.0.1:1/islet"]).arg(&file));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connection refused at 127.0.0.1:1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}

/// `islet migrate` creates the database it is pointed at when it is missing.
#[test]
fn migrate_creates_a_missing_database() {
    let name = format!("islet_migrate_{}", std::process::id());
    let url = format!("{}/{name}", islet_store::test_support::server_url());
    let out = run(islet().args(["migrate", "--database-url", &url]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let again = run(islet().args(["migrate", "--database-url", &url]));
    assert_eq!(again.status.code(), Some(0));
    let dropped = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-qAt", "-c", &format!("DROP DATABASE {name} WITH (FORCE)")])
        .status()
        .unwrap();
    assert!(dropped.success());
}

/// Without --at, a date far in the future neither moves the replay's instant
/// nor vanishes: it is an implausible value the clinician sees.
#[test]
fn a_future_date_does_not_move_the_replay_instant() {
    let dir = TempDir::new("future");
    let mut lines = valid_lines();
    lines.push(ki67("far-future", "sc-workup-a", "").replace("2024-02-01", "9999-01-01"));
    lines.push(r#"{"resourceType":"Patient","id":"sc-born-later","birthDate":"2999-05-01"}"#.to_string());
    let file = dir.write("future.ndjson", (lines.join("\n") + "\n").as_bytes());
    let out = run(islet().args(["replay", "--stats"]).arg(&file));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = stderr_lines(&out).pop().unwrap();
    let at = stats["at"].as_str().unwrap();
    assert!(at.starts_with("2024-"), "the instant stays in the file's plausible range: {at}");
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let implausible: Vec<&serde_json::Value> =
        alerts.iter().filter(|a| a["rule"] == "data.implausible-value").collect();
    let evidence: Vec<&str> = implausible
        .iter()
        .flat_map(|a| a["evidence"].as_array().unwrap())
        .map(|e| e["reference"].as_str().unwrap())
        .collect();
    assert!(evidence.contains(&"Observation/far-future"), "{implausible:?}");
    assert!(evidence.contains(&"Patient/sc-born-later"), "{implausible:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("effectiveDateTime 9999-01-01 lies in the future"), "{text}");
    let today = time::OffsetDateTime::now_utc().date().to_string();
    assert!(!text.contains(&today), "replay output must not depend on the day it runs");
}
