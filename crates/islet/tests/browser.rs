//! The dashboard in a real browser: Debian chromium, driven by npm
//! `playwright-core` (`tests/browser/dashboard.test.mjs`), signing in through
//! a real OpenID Connect provider (npm `oidc-provider`, `tests/browser/op.mjs`)
//! against this service on a fresh database with a generated cohort.
//! `scripts/ensure-browser` installs chromium and the npm packages.
//! Screenshots go to `$CARGO_TARGET_DIR/browser/`.

mod common;

use islet::drivers::clock::FixedClock;
use islet::serve::Application;
use islet::settings::Settings;
use islet_store::test_support::{TempDir, TestDb};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use time::macros::datetime;

/// A child process killed when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let browser_dir = repo().join("tests/browser");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists() && browser_dir.join("node_modules/playwright-core").exists(),
        "chromium and the npm packages are missing: run scripts/ensure-browser (scripts/test does)"
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    // The identity provider.
    let op_port = free_port();
    let mut op = Command::new("node")
        .arg("op.mjs")
        .current_dir(&browser_dir)
        .env("PORT", op_port.to_string())
        .env("REDIRECT", format!("{base}/auth/callback"))
        .env("USERS", "ana:clinician vic:viewer")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut first = String::new();
    BufReader::new(op.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let _op = Killed(op);
    let issuer = serde_json::from_str::<serde_json::Value>(&first).expect("the provider says its issuer")["issuer"]
        .as_str()
        .unwrap()
        .to_owned();

    // Islet on a fresh database with a generated cohort, at a fixed date.
    let db = TestDb::new().await;
    let dir = TempDir::new("browser");
    let file = common::cohort(dir.path(), 12, 5);
    let mut load = common::load_into(&db.url, 200);
    load.args(["--at", "2027-01-01T00:00:00Z"]).arg(&file);
    let out = common::run_to_end(load).await;
    assert!(common::load_succeeded(out.status), "{}", String::from_utf8_lossy(&out.stderr));
    let mut settings = Settings::default();
    settings.database.url = Some(db.url.clone());
    settings.http.addr = format!("127.0.0.1:{port}").parse().unwrap();
    settings.http.public_url = Some(base.clone());
    settings.auth.oidc_issuer = Some(issuer);
    settings.auth.oidc_client_id = Some("islet".into());
    settings.auth.oidc_client_secret = Some("islet-test-secret".into());
    settings.auth.oidc_scopes = "openid profile roles".into();
    let app = Application::build(settings, Arc::new(FixedClock(datetime!(2027-01-01 00:00 UTC))))
        .await
        .expect("the service starts");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));

    // The patient with the most size measurements and an open alert.
    let patient: String = sqlx::query_scalar(
        "SELECT a.patient_id FROM alert a JOIN resource_version r ON r.patient_id = a.patient_id \
         WHERE r.raw::text LIKE '%33728-7%' GROUP BY a.patient_id ORDER BY count(DISTINCT r.resource_id) DESC, 1 LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let shots = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("browser");
    std::fs::create_dir_all(&shots).unwrap();

    let run = Command::new("node")
        .args(["--test", "--test-reporter=spec", "dashboard.test.mjs"])
        .current_dir(&browser_dir)
        .env("BASE", &base)
        .env("PATIENT", patient.trim_start_matches("Patient/"))
        .env("SHOTS", &shots)
        .output()
        .expect("node runs");
    let _ = stop.send(());
    let _ = served.await;
    assert!(
        run.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(shots.join("patient.png").exists());
}
