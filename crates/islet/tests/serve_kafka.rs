//! `islet serve` against a real broker (tansu) and PostgreSQL, events
//! produced by an independent client (PyPI confluent-kafka): the database
//! ends where `islet replay` of the same file ends, the alert and
//! dead-letter topics carry every change and every rejection, and killing,
//! restarting or adding instances changes none of it.

mod common;

use islet::drivers::clock::{Clock, FixedClock};
use islet::serve::{Application, ServeError};
use islet::settings::Settings;
use islet_kafka::test_support::{fast_group_properties, unique, TestBroker};
use islet_store::test_support::{TempCluster, TempDir, TestDb};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::macros::datetime;
use tokio::sync::oneshot;

const AT: &str = "2027-01-01T00:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python of the pinned confluent-kafka venv (created on first use).
fn kafka_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let out = Command::new(repo().join("scripts/ensure-kafka-client"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/ensure-kafka-client");
            assert!(out.status.success(), "scripts/ensure-kafka-client failed");
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        })
        .clone()
}

/// Produces every line of `file` as one record, keyed by resource like HAPI.
fn produce(brokers: &str, topic: &str, file: &Path) {
    let status = Command::new(kafka_python())
        .arg(repo().join("scripts/kafka-produce.py"))
        .args(["--brokers", brokers, "--topic", topic, "--quiet"])
        .arg(file)
        .status()
        .expect("run kafka-produce.py");
    assert!(status.success(), "producing {} failed", file.display());
}

/// Produces `file` at `rate` records per second on a thread of its own (a live feed).
fn produce_live(brokers: &str, topic: &str, file: &Path, rate: u32) -> std::thread::JoinHandle<()> {
    let mut cmd = Command::new(kafka_python());
    cmd.arg(repo().join("scripts/kafka-produce.py"))
        .args(["--brokers", brokers, "--topic", topic, "--quiet", "--rate", &rate.to_string()])
        .arg(file);
    std::thread::spawn(move || {
        let status = cmd.status().expect("run kafka-produce.py");
        assert!(status.success(), "producing failed");
    })
}

/// Every record of `topic` (expects `count` of them), read by the independent client.
fn consume(brokers: &str, topic: &str, count: usize) -> Vec<Value> {
    let out = Command::new(kafka_python())
        .arg(repo().join("scripts/kafka-consume.py"))
        .args(["--brokers", brokers, "--topic", topic, "--count", &count.to_string(), "--idle", "15"])
        .stderr(Stdio::inherit())
        .output()
        .expect("run kafka-consume.py");
    let records: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), count, "records on {topic}");
    records
}

struct Topics {
    input: String,
    alerts: String,
    dead_letters: String,
}

impl Topics {
    fn create(broker: &TestBroker, partitions: u32) -> Topics {
        Topics {
            input: broker.topic("fhir", partitions),
            alerts: broker.topic("alerts", 3),
            dead_letters: broker.topic("dead", 1),
        }
    }
}

fn kafka_settings(db: &TestDb, brokers: &str, topics: &Topics, group: &str) -> Settings {
    let mut s = Settings::default();
    s.database.url = Some(db.url.clone());
    s.http.addr = "127.0.0.1:0".parse().unwrap();
    s.ingest.batch_size = 200;
    s.ingest.max_batch_latency_ms = 50;
    s.kafka.brokers = brokers.to_owned();
    s.kafka.input_topics = vec![topics.input.clone()];
    s.kafka.group_id = group.to_owned();
    s.kafka.alert_topic = topics.alerts.clone();
    s.kafka.dead_letter_topic = topics.dead_letters.clone();
    s.kafka.properties = fast_group_properties();
    s
}

/// The same settings as `ISLET_*` variables, for `islet serve` the process.
fn kafka_env(cmd: &mut Command, db: &TestDb, brokers: &str, topics: &Topics, group: &str) {
    cmd.env("ISLET_DATABASE_URL", &db.url)
        .env("ISLET_HTTP_ADDR", "127.0.0.1:0")
        .env("ISLET_BATCH_SIZE", "200")
        .env("ISLET_MAX_BATCH_LATENCY_MS", "50")
        .env("ISLET_KAFKA_BROKERS", brokers)
        .env("ISLET_INPUT_TOPICS", &topics.input)
        .env("ISLET_GROUP_ID", group)
        .env("ISLET_ALERT_TOPIC", &topics.alerts)
        .env("ISLET_DEAD_LETTER_TOPIC", &topics.dead_letters)
        .env("ISLET_CLOCK", AT);
}

/// An in-process service, stopped (drained) on `stop()` or drop.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
    base: String,
}

impl Running {
    async fn start(settings: Settings) -> Running {
        let clock: Arc<dyn Clock> = Arc::new(FixedClock(datetime!(2027-01-01 00:00 UTC)));
        let app = Application::build(settings, clock).await.expect("serve starts");
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        Running { stop: Some(stop), task, base }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap().expect("a clean stop");
    }
}

/// `islet serve` the process, killed with SIGKILL when dropped.
struct ServeProcess(Child);

impl ServeProcess {
    fn start(db: &TestDb, brokers: &str, topics: &Topics, group: &str, log: &Path) -> ServeProcess {
        // librdkafka properties have no variables: a settings file carries them.
        let config = log.with_extension("toml");
        let properties: String = fast_group_properties().iter().map(|(k, v)| format!("\"{k}\" = \"{v}\"\n")).collect();
        std::fs::write(&config, format!("[kafka.properties]\n{properties}")).unwrap();
        let mut cmd = common::islet();
        cmd.arg("serve").arg("--config").arg(&config);
        kafka_env(&mut cmd, db, brokers, topics, group);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        ServeProcess(cmd.spawn().expect("start islet serve"))
    }

    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next offsets committed in PostgreSQL for `topic`, summed: every
/// record consumed when it equals the number produced.
async fn consumed(db: &TestDb, topic: &str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>("SELECT sum(next_offset)::bigint FROM source_position WHERE source = $1")
        .bind(topic)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .unwrap_or(0)
}

async fn wait_consumed(db: &TestDb, topic: &str, records: i64, within: Duration) {
    let started = Instant::now();
    loop {
        let n = consumed(db, topic).await;
        if n == records {
            return;
        }
        assert!(n < records, "more consumed ({n}) than produced ({records})");
        assert!(started.elapsed() < within, "only {n} of {records} records consumed after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_published(db: &TestDb, within: Duration) -> (i64, i64) {
    wait_published_logged(db, within, None).await
}

/// As [`wait_published`]; a failure shows the end of the service's log.
async fn wait_published_logged(db: &TestDb, within: Duration, log: Option<&Path>) -> (i64, i64) {
    let started = Instant::now();
    loop {
        let changes: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_change_outbox WHERE published_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let rejections: i64 = sqlx::query_scalar("SELECT count(*) FROM rejection_outbox WHERE published_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if changes == 0 && rejections == 0 {
            let c: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_change").fetch_one(&db.pool).await.unwrap();
            let r: i64 = sqlx::query_scalar("SELECT count(*) FROM rejection").fetch_one(&db.pool).await.unwrap();
            return (c, r);
        }
        if started.elapsed() > within {
            let log = log.map(|p| std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "{changes} changes and {rejections} rejections still unpublished; log tail (newest first):\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `islet replay --at AT FILE`: the alerts, and the reason codes of the rejected lines.
fn replay(file: &Path) -> (String, Vec<String>) {
    let out = common::islet().args(["replay", "--at", AT]).arg(file).output().unwrap();
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1), "replay failed");
    let mut codes: Vec<String> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["code"].as_str().map(String::from))
        .collect();
    codes.sort();
    (String::from_utf8(out.stdout).unwrap(), codes)
}

fn served_alerts(db: &TestDb) -> String {
    let out = common::islet().args(["alerts", "--database-url", &db.url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn stored_codes(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT code FROM rejection ORDER BY code").fetch_all(&db.pool).await.unwrap()
}

/// The alert topic after deduplication by `islet.change` is the change log,
/// each record keyed by its patient, with the FHIR resource as value.
async fn check_alert_topic(db: &TestDb, brokers: &str, topic: &str, changes: i64) {
    let records = consume(brokers, topic, changes as usize);
    let mut seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM alert_change ORDER BY seq").fetch_all(&db.pool).await.unwrap();
    let mut seen: Vec<i64> =
        records.iter().map(|r| r["headers"]["islet.change"].as_str().unwrap().parse().unwrap()).collect();
    seen.sort();
    seen.dedup();
    seqs.sort();
    assert_eq!(seen, seqs, "every change once after dedup by islet.change");
    for r in &records {
        let value: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
        assert!(
            ["DetectedIssue", "Task", "RequestGroup"].contains(&value["resourceType"].as_str().unwrap()),
            "{value}"
        );
        assert_eq!(value["id"].as_str(), r["headers"]["islet.alert.id"].as_str());
        assert!(r["key"].as_str().unwrap().starts_with("Patient/"), "keyed by patient");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cohort_over_six_partitions_gives_what_replay_gives_and_fills_both_topics() {
    let broker = TestBroker::start();
    let topics = Topics::create(&broker, 6);
    let dir = TempDir::new("serve-kafka");
    let file = common::cohort(dir.path(), 60, 21);
    let lines = common::line_count(&file);
    let db = TestDb::new().await;
    produce(&broker.brokers(), &topics.input, &file);
    let service = Running::start(kafka_settings(&db, &broker.brokers(), &topics, &unique("g"))).await;
    wait_consumed(&db, &topics.input, lines, Duration::from_secs(120)).await;

    let (replayed, replay_codes) = replay(&file);
    assert!(!replayed.is_empty());
    assert_eq!(served_alerts(&db), replayed, "the database's alerts are replay's");
    assert_eq!(stored_codes(&db).await, replay_codes, "the same messages rejected for the same reasons");

    let (changes, rejections) = wait_published(&db, Duration::from_secs(60)).await;
    check_alert_topic(&db, &broker.brokers(), &topics.alerts, changes).await;
    let dead = consume(&broker.brokers(), &topics.dead_letters, rejections as usize);
    for d in &dead {
        assert_eq!(d["headers"]["islet.source.topic"].as_str(), Some(topics.input.as_str()));
        assert!(d["headers"]["islet.reason.code"].is_string());
        assert!(d["headers"]["islet.source.offset"].is_string());
    }
    let metrics = reqwest::get(format!("{}/metrics", service.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("islet_consumer_records_total{{source=\"{}\"", topics.input)), "{metrics}");
    assert!(metrics.contains("islet_rebalances_total{event=\"assign\"}"), "{metrics}");
    let ready = reqwest::get(format!("{}/readyz", service.base)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    service.stop().await;
}

/// A record that is not a message (bytes that are not UTF-8, an empty
/// value) is dead-lettered with its original bytes and reason; the records
/// around it are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_is_dead_lettered_and_the_rest_flows() {
    let broker = TestBroker::start();
    let topics = Topics::create(&broker, 1);
    let dir = TempDir::new("serve-poison");
    let file = dir.path().join("poison.ndjson");
    let good = |id: &str| {
        format!(
            r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"33728-7"}}]}},"subject":{{"reference":"Patient/p"}},"effectiveDateTime":"2026-10-01","valueQuantity":{{"value":14,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}}}}"#
        )
    };
    let mut bytes = good("o1").into_bytes();
    bytes.extend_from_slice(b"\n{\"resourceType\":\"Observation\",\"id\":\"\xff\xfe\"}\n\n");
    bytes.extend_from_slice(good("o2").as_bytes());
    bytes.push(b'\n');
    std::fs::write(&file, &bytes).unwrap();
    let db = TestDb::new().await;
    produce(&broker.brokers(), &topics.input, &file);
    let service = Running::start(kafka_settings(&db, &broker.brokers(), &topics, &unique("g"))).await;
    wait_consumed(&db, &topics.input, 4, Duration::from_secs(60)).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM resource_version").fetch_one(&db.pool).await.unwrap();
    assert_eq!(stored, 2, "both good records applied");
    wait_published(&db, Duration::from_secs(60)).await;
    let mut dead = consume(&broker.brokers(), &topics.dead_letters, 2);
    dead.sort_by_key(|d| d["headers"]["islet.source.offset"].as_str().unwrap().to_owned());
    assert_eq!(dead[0]["headers"]["islet.source.offset"], "1");
    assert_eq!(dead[0]["headers"]["islet.reason.code"], "invalid-utf8");
    assert_eq!(
        dead[0]["value"].as_str().unwrap(),
        String::from_utf8_lossy(b"{\"resourceType\":\"Observation\",\"id\":\"\xff\xfe\"}")
    );
    assert_eq!(dead[1]["headers"]["islet.source.offset"], "2");
    assert_eq!(dead[1]["headers"]["islet.reason.code"], "empty-record");
    service.stop().await;
}

/// SIGKILL at random points of a live feed, five times, then a run to the
/// end: the alerts and rejections are replay's (each rejection stored once),
/// and every change reached the alert topic at least once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_five_times_it_ends_where_an_uninterrupted_run_ends() {
    let broker = TestBroker::start();
    let topics = Topics::create(&broker, 6);
    let dir = TempDir::new("serve-kill");
    let file = common::cohort(dir.path(), 120, 5);
    let lines = common::line_count(&file);
    let db = TestDb::new().await;
    let group = unique("g");
    let log = dir.path().join("serve.log");
    // About 25 s of feed; the five runs below last 3–7 s each.
    let feed = produce_live(&broker.brokers(), &topics.input, &file, (lines / 25) as u32);
    // Deterministic "random" kill points (a fixed seed).
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut progress = Vec::new();
    for _ in 0..5 {
        let before = consumed(&db, &topics.input).await;
        let serve = ServeProcess::start(&db, &broker.brokers(), &topics, &group, &log);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(3000 + seed % 4000)).await;
        serve.kill();
        progress.push(consumed(&db, &topics.input).await - before);
    }
    let done = consumed(&db, &topics.input).await;
    assert!(done < lines, "the kills landed mid-stream ({done} of {lines} consumed)");
    assert!(progress.iter().filter(|p| **p > 0).count() >= 3, "most runs were consuming when killed: {progress:?}");
    let last = ServeProcess::start(&db, &broker.brokers(), &topics, &group, &log);
    feed.join().unwrap();
    wait_consumed(&db, &topics.input, lines, Duration::from_secs(180)).await;
    let (replayed, replay_codes) = replay(&file);
    assert_eq!(served_alerts(&db), replayed);
    assert_eq!(stored_codes(&db).await, replay_codes, "each rejection stored exactly once");
    let (changes, _) = wait_published(&db, Duration::from_secs(60)).await;
    // At least once: a kill between delivery and marking sends a row again.
    let published = consume(&broker.brokers(), &topics.alerts, changes as usize);
    let mut seen: Vec<i64> =
        published.iter().map(|r| r["headers"]["islet.change"].as_str().unwrap().parse().unwrap()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len() as i64, changes, "every change on the alert topic");
    last.kill();
}

/// Two instances in one group on a live feed: the second joins mid-stream
/// and the first is then killed; the second takes every partition over and
/// the database ends where replay ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_mid_stream_loses_and_doubles_nothing() {
    let broker = TestBroker::start();
    let topics = Topics::create(&broker, 6);
    let dir = TempDir::new("serve-rebalance");
    let file = common::cohort(dir.path(), 120, 8);
    let lines = common::line_count(&file);
    let db = TestDb::new().await;
    let group = unique("g");
    let log = dir.path().join("serve.log");
    let first = ServeProcess::start(&db, &broker.brokers(), &topics, &group, &log);
    // About 20 s of feed.
    let feed = produce_live(&broker.brokers(), &topics.input, &file, (lines / 20) as u32);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = ServeProcess::start(&db, &broker.brokers(), &topics, &group, &log);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let at_kill = consumed(&db, &topics.input).await;
    first.kill();
    assert!(0 < at_kill && at_kill < lines, "killed mid-stream ({at_kill} of {lines})");
    feed.join().unwrap();
    wait_consumed(&db, &topics.input, lines, Duration::from_secs(180)).await;
    let (replayed, replay_codes) = replay(&file);
    assert_eq!(served_alerts(&db), replayed);
    assert_eq!(stored_codes(&db).await, replay_codes);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.matches("partitions assigned").count() >= 3, "both joined, then the second took over:\n{log}");
    second.kill();
}

/// PostgreSQL restarts (a throwaway cluster of this test's own) while a
/// batch transaction is open: serve retries it, the member stays in its
/// group, the relays lead again, and the database ends where replay ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_stream_is_survived() {
    let broker = TestBroker::start();
    let topics = Topics::create(&broker, 6);
    let dir = TempDir::new("serve-pg-restart");
    let file = common::cohort(dir.path(), 120, 13);
    let lines = common::line_count(&file);
    let cluster = TempCluster::start();
    let db = TestDb::on(&cluster.server_url()).await;
    let log = dir.path().join("serve.log");
    let serve = ServeProcess::start(&db, &broker.brokers(), &topics, &unique("g"), &log);
    let feed = produce_live(&broker.brokers(), &topics.input, &file, (lines / 15) as u32);
    let started = Instant::now();
    while consumed(&db, &topics.input).await < lines / 5 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress before the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Hold the next batch inside its transaction (its fence waits for the
    // lock), so the restart cuts a transaction with uncommitted writes.
    let hold = db.block_writes("source_position").await;
    db.wait_for_a_blocked_client().await;
    let before = consumed(&db, &topics.input).await;
    assert!(before < lines, "the feed ended before the restart");
    cluster.restart();
    drop(hold);
    feed.join().unwrap();
    wait_consumed(&db, &topics.input, lines, Duration::from_secs(180)).await;
    let (replayed, replay_codes) = replay(&file);
    assert_eq!(served_alerts(&db), replayed);
    assert_eq!(stored_codes(&db).await, replay_codes);
    let (changes, _) = wait_published(&db, Duration::from_secs(90)).await;
    check_alert_topic(&db, &broker.brokers(), &topics.alerts, changes).await;
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("retrying"), "the cut batch was retried:\n{log}");
    serve.kill();
}

/// A durable broker (tansu's SQLite build) of this test's own, started and
/// stopped with `scripts/ensure-broker`.
struct DurableBroker {
    port: String,
    dir: TempDir,
}

impl DurableBroker {
    fn script(&self, args: &[&str]) {
        let out = Command::new(repo().join("scripts/ensure-broker"))
            .args(args)
            .args(["--port", &self.port])
            .output()
            .expect("run scripts/ensure-broker");
        assert!(out.status.success(), "ensure-broker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn start(&self) {
        let data = self.dir.path().to_str().unwrap().to_owned();
        self.script(&["start", "--durable", "--data", &data]);
    }

    fn stop(&self) {
        let data = self.dir.path().to_str().unwrap().to_owned();
        self.script(&["stop", "--data", &data]);
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for DurableBroker {
    fn drop(&mut self) {
        let data = self.dir.path().to_str().unwrap().to_owned();
        let _ = Command::new(repo().join("scripts/ensure-broker")).args(["stop", "--data", &data]).output();
    }
}

/// The broker (durable build) restarts between two halves of a feed: the
/// member rejoins, nothing is lost or applied twice, and the alert topic
/// still carries every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_is_survived() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let broker = DurableBroker { port, dir: TempDir::new("serve-durable-broker") };
    broker.start();
    let topics = Topics { input: unique("fhir"), alerts: unique("alerts"), dead_letters: unique("dead") };
    broker.script(&[
        "topics",
        &format!("{}:6", topics.input),
        &format!("{}:3", topics.alerts),
        &format!("{}:1", topics.dead_letters),
    ]);
    let dir = TempDir::new("serve-broker-restart");
    let file = common::cohort(dir.path(), 60, 17);
    let lines = common::line_count(&file);
    let text = std::fs::read_to_string(&file).unwrap();
    let all: Vec<&str> = text.lines().collect();
    let (first, second) = (dir.path().join("first.ndjson"), dir.path().join("second.ndjson"));
    std::fs::write(&first, all[..all.len() / 2].join("\n") + "\n").unwrap();
    std::fs::write(&second, all[all.len() / 2..].join("\n") + "\n").unwrap();
    let db = TestDb::new().await;
    let log = dir.path().join("serve.log");
    let serve = ServeProcess::start(&db, &broker.brokers(), &topics, &unique("g"), &log);
    produce(&broker.brokers(), &topics.input, &first);
    wait_consumed(&db, &topics.input, (all.len() / 2) as i64, Duration::from_secs(120)).await;
    broker.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.start();
    produce(&broker.brokers(), &topics.input, &second);
    wait_consumed(&db, &topics.input, lines, Duration::from_secs(180)).await;
    let (replayed, replay_codes) = replay(&file);
    assert_eq!(served_alerts(&db), replayed);
    assert_eq!(stored_codes(&db).await, replay_codes);
    let (changes, _) = wait_published_logged(&db, Duration::from_secs(120), Some(&log)).await;
    check_alert_topic(&db, &broker.brokers(), &topics.alerts, changes).await;
    serve.kill();
}
