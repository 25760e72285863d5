//! `islet serve` over HTTP (no broker): each answer of `POST /fhir`, health,
//! metrics, shutdown, and the same cohort through HTTP and through replay.

mod common;

use islet::drivers::clock::{Clock, FixedClock};
use islet::serve::{Application, ServeError, State};
use islet::settings::Settings;
use islet_store::test_support::{TempDir, TestDb};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use time::macros::datetime;
use tokio::sync::oneshot;

const FHIR: &str = "application/fhir+json";
const TOKEN: &str = "a-test-token-long-enough";

/// A running service on a random port with its own fresh database
/// (zero2prod's `spawn_app`); dropping it shuts the service down.
struct TestApp {
    base: String,
    db: TestDb,
    state: Arc<State>,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl TestApp {
    async fn spawn(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::spawn_with_clock(adjust, Arc::new(FixedClock(datetime!(2027-01-01 00:00 UTC)))).await
    }

    async fn spawn_with_clock(adjust: impl FnOnce(&mut Settings), clock: Arc<dyn Clock>) -> TestApp {
        let db = TestDb::new().await;
        let mut settings = Settings::default();
        settings.database.url = Some(db.url.clone());
        settings.http.addr = "127.0.0.1:0".parse().unwrap();
        settings.scheduler.interval_seconds = 1;
        adjust(&mut settings);
        let app = Application::build(settings, clock).await.expect("the service starts");
        let base = format!("http://{}", app.local_addr());
        let state = app.state();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        TestApp { base, db, state, client: reqwest::Client::new(), stop: Some(stop), task: Some(task) }
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", FHIR)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().expect("clean stop");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn observation(id: &str, patient: &str, mm: f64) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"33728-7"}}]}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-10-01","valueQuantity":{{"value":{mm},"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}}}}"#
    )
}

fn codes(outcome: &Value) -> Vec<String> {
    outcome["issue"]
        .as_array()
        .map(|issues| {
            issues.iter().filter_map(|i| i["details"]["coding"][0]["code"].as_str().map(String::from)).collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn each_ingest_answer_has_its_status_and_reason() {
    let app = TestApp::spawn(|s| s.http.max_body_bytes = 4096).await;

    let (status, body) = app.post("/fhir", observation("size-1", "p1", 14.0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome");
    let summary = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(summary.contains("1 applied"), "{summary}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM resource_version").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, 1, "committed before the answer");

    let (status, body) = app.post("/fhir", observation("size-1", "p1", 14.0)).await;
    assert_eq!(status, 200);
    assert!(body["issue"][0]["diagnostics"].as_str().unwrap().contains("1 already stored"), "{body}");

    let (status, body) = app.post("/fhir", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(codes(&body), ["invalid-json"]);

    let (status, body) = app.post("/fhir/Condition", observation("size-2", "p1", 15.0)).await;
    assert_eq!(status, 400);
    assert_eq!(codes(&body), ["wrong-resource-type"]);
    let r = app
        .client
        .put(format!("{}/fhir/Observation/other-id", app.base))
        .header("content-type", FHIR)
        .body(observation("size-2", "p1", 15.0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(codes(&r.json().await.unwrap()), ["id-mismatch"]);
    let r = app
        .client
        .put(format!("{}/fhir/Observation/size-2", app.base))
        .header("content-type", "application/fhir+json; charset=utf-8")
        .body(observation("size-2", "p1", 15.0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A Bundle with one good and one bad entry: applied, the bad entry named.
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"resource":{}}},{{"resource":{{"resourceType":"Observation","id":"x","code":{{"coding":[{{"system":"http://loinc.org","code":"33728-7"}}]}},"subject":{{"reference":"Patient/p1"}}}}}}]}}"#,
        observation("size-3", "p1", 16.0)
    );
    let (status, body) = app.post("/fhir", bundle).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issue"][1]["expression"][0], "Bundle.entry[1]", "{body}");
    assert_eq!(codes(&body), ["missing-status"]);

    let (status, body) =
        app.post("/fhir", format!("{{\"resourceType\":\"Basic\",\"x\":\"{}\"}}", "a".repeat(5000))).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["resourceType"], "OperationOutcome");

    let r = app.client.post(format!("{}/fhir", app.base)).header("content-type", "text/plain").body("x").send().await;
    assert_eq!(r.unwrap().status().as_u16(), 415);
    let (status, _) = app.post("/fhir", "").await;
    assert_eq!(status, 400);

    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("islet_http_requests_total{route=\"/fhir\",status=\"400\"}"), "{metrics}");
    assert!(metrics.contains("islet_resources_total{outcome=\"applied\"} 3"), "{metrics}");
    assert!(metrics.contains("islet_rejections_total{code=\"missing-status\"} 1"), "{metrics}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_is_required_when_configured_and_off_loopback() {
    let app = TestApp::spawn(|s| s.http.ingest_token = Some(TOKEN.into())).await;
    let (status, body) = app.post("/fhir", observation("o", "p", 1.0)).await;
    assert_eq!(status, 401, "{body}");
    let r = app
        .client
        .post(format!("{}/fhir", app.base))
        .header("content-type", FHIR)
        .bearer_auth(TOKEN)
        .body(observation("o", "p", 1.0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Health and metrics stay open to the platform's probes.
    assert_eq!(app.get("/livez").await.0, 200);
    app.shutdown().await;

    let db = TestDb::new().await;
    let mut open = Settings::default();
    open.database.url = Some(db.url.clone());
    open.http.addr = "0.0.0.0:0".parse().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(datetime!(2027-01-01 00:00 UTC)));
    match Application::build(open, clock).await {
        Err(ServeError::Settings(why)) => assert!(why.contains("ingest_token"), "{why}"),
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("listening on all interfaces without a token must be refused"),
    }
}

#[tokio::test]
async fn readiness_follows_the_database_and_draining() {
    let app = TestApp::spawn(|_| {}).await;
    assert_eq!(app.get("/readyz").await.0, 200);
    assert_eq!(app.get("/livez").await.0, 200);
    app.state.draining.store(true, Ordering::SeqCst);
    let (status, body) = app.get("/readyz").await;
    assert_eq!((status, body.as_str()), (503, "not ready: draining\n"));
    let (status, _) = app.post("/fhir", observation("o", "p", 1.0)).await;
    assert_eq!(status, 503, "no new work while draining");
    app.state.draining.store(false, Ordering::SeqCst);
    // The database goes away: readiness says so, liveness does not.
    app.state.store.pool().close().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("database unreachable"), "{body}");
    assert_eq!(app.get("/livez").await.0, 200);
    // Ingest says so too, and applied nothing: the client sends again later.
    let r = app
        .client
        .post(format!("{}/fhir", app.base))
        .header("content-type", FHIR)
        .body(observation("o", "p", 1.0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["issue"][0]["code"], "transient");
}

/// The same cohort sent over HTTP (four clients at once, so in no
/// particular order) and replayed from the file give the same alerts at the
/// same instant, and `islet alerts` prints them as replay does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cohort_over_http_gives_the_alerts_replay_gives() {
    let dir = TempDir::new("serve-http");
    let file = common::cohort(dir.path(), 40, 11);
    let app = TestApp::spawn(|_| {}).await;
    let lines: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(String::from).collect();
    let lines = Arc::new(lines);
    let mut clients = Vec::new();
    for n in 0..4 {
        let (lines, client, base) = (lines.clone(), app.client.clone(), app.base.clone());
        clients.push(tokio::spawn(async move {
            let mut rejected = 0;
            for line in lines.iter().skip(n).step_by(4) {
                let r = client.post(format!("{base}/fhir")).header("content-type", FHIR).body(line.clone());
                let status = r.send().await.unwrap().status().as_u16();
                assert!(status == 200 || status == 400, "{status}");
                rejected += (status == 400) as usize;
            }
            rejected
        }));
    }
    let mut rejected = 0;
    for c in clients {
        rejected += c.await.unwrap();
    }
    assert!(rejected > 0, "the cohort has bad lines");

    let replayed = common::islet().args(["replay", "--at", "2027-01-01T00:00:00Z"]).arg(&file).output().unwrap();
    assert_eq!(replayed.status.code(), Some(1), "some lines are rejected");
    let served = common::islet().args(["alerts", "--database-url", &app.db.url]).output().unwrap();
    assert!(served.status.success(), "{}", String::from_utf8_lossy(&served.stderr));
    assert!(!served.stdout.is_empty());
    assert_eq!(String::from_utf8(served.stdout).unwrap(), String::from_utf8(replayed.stdout).unwrap());
    app.shutdown().await;
}

/// `islet serve` the process: ready, then stops cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_command_drains_and_exits_on_sigterm() {
    let db = TestDb::new().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = common::islet()
        .args(["serve", "--database-url", &db.url, "--http-addr", &format!("127.0.0.1:{port}")])
        .env("ISLET_CLOCK", "2027-01-01")
        .spawn()
        .expect("start islet serve");
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let mut up = false;
    for _ in 0..100 {
        if client.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !up {
        let _ = child.kill();
        panic!("islet serve never became ready");
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("islet serve did not stop within 10 s of SIGTERM");
    };
    assert!(status.success(), "{status:?}");
}

/// The scheduler runs inside serve: with no new event, a follow-up turns
/// due when the clock reaches its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_scheduler_turns_a_follow_up_due() {
    use islet::drivers::clock::ManualClock;
    let clock = Arc::new(ManualClock::new(datetime!(2024-06-01 00:00 UTC)));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios/04-surveillance-scheduled");
    for line in std::fs::read_to_string(scenario.join("input.ndjson")).unwrap().lines() {
        let (status, body) = app.post("/fhir", line.to_owned()).await;
        assert_eq!(status, 200, "{body}");
    }
    let imaging_state = || async {
        let out = common::islet().args(["alerts", "--database-url", &app.db.url]).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|a| a["rule"] == "followup.surveillance-imaging")
            .map(|a| a["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(imaging_state().await.as_deref(), Some("scheduled"));
    // Due 2024-07-10: due from 14 days before.
    clock.set(datetime!(2024-07-01 00:00 UTC));
    let started = std::time::Instant::now();
    while imaging_state().await.as_deref() != Some("due") {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "the scheduler did not wake the patient");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (_, metrics) = app.get("/metrics").await;
    assert!(!metrics.contains("islet_scheduler_wakes_total 0"), "{metrics}");
    app.shutdown().await;
}
