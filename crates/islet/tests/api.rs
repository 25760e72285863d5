//! The JSON API and sign-in against a real PostgreSQL and a local OpenID
//! Connect provider: nothing open by default, the development sign-in, the
//! code flow with PKCE, the bearer-token matrix, the reads and their audit
//! trail, and tampering caught by `islet audit verify`.

mod common;
#[path = "common/issuer.rs"]
mod issuer;

use common::run_to_end;
use islet::drivers::clock::FixedClock;
use islet::serve::{Application, ServeError};
use islet::settings::Settings;
use islet_store::audit::{self, Broken, VerifyError};
use islet_store::test_support::{TempDir, TestDb};
use issuer::TestIssuer;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::sync::Arc;
use time::macros::datetime;
use tokio::sync::oneshot;

/// A running service on a random port with its own fresh database.
struct TestApp {
    base: String,
    db: TestDb,
    /// Follows no redirects (each step of a sign-in is checked) and keeps no cookies.
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl TestApp {
    /// `adjust` sees the settings and the base URL the service will have.
    async fn spawn(adjust: impl FnOnce(&mut Settings, &str)) -> TestApp {
        let db = TestDb::new().await;
        // The port is chosen first so the public URL can name it.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let mut settings = Settings::default();
        settings.database.url = Some(db.url.clone());
        settings.http.addr = format!("127.0.0.1:{port}").parse().unwrap();
        adjust(&mut settings, &base);
        let clock = Arc::new(FixedClock(datetime!(2027-01-01 00:00 UTC)));
        let app = Application::build(settings, clock).await.expect("the service starts");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestApp { base, db, client, stop: Some(stop), task: Some(task) }
    }

    async fn dev(user: &str) -> TestApp {
        let user = user.to_owned();
        TestApp::spawn(move |s, _| s.auth.dev_user = Some(user)).await
    }

    async fn oidc(issuer: &TestIssuer) -> TestApp {
        let iss = issuer.issuer.clone();
        TestApp::spawn(move |s, base| {
            s.http.public_url = Some(base.to_owned());
            s.auth.oidc_issuer = Some(iss);
            s.auth.oidc_client_id = Some(issuer::CLIENT_ID.into());
            s.auth.oidc_client_secret = Some(issuer::CLIENT_SECRET.into());
        })
        .await
    }

    /// GET with a cookie or a bearer token: status, headers, JSON body.
    async fn get(&self, path: &str, auth: &Auth) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = auth.apply(self.client.get(format!("{}{path}", self.base))).send().await.expect("request");
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    /// Loads a generated cohort through `islet replay --database-url` (the same engine).
    async fn load_cohort(&self, patients: usize) {
        let dir = TempDir::new("api-cohort");
        let file = common::cohort(dir.path(), patients, 7);
        let mut cmd = common::load_into(&self.db.url, 200);
        cmd.args(["--at", "2027-01-01T00:00:00Z"]).arg(&file);
        let out = run_to_end(cmd).await;
        assert!(common::load_succeeded(out.status), "{}", String::from_utf8_lossy(&out.stderr));
    }

    async fn audit_rows(&self) -> Vec<(i64, String, String, Option<String>, Option<String>)> {
        sqlx::query_as("SELECT seq, actor, subtype, patient_id, entity FROM audit_event ORDER BY recorded, lane, seq")
            .fetch_all(&self.db.pool)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

enum Auth {
    None,
    Cookie(String),
    Bearer(String),
}

impl Auth {
    fn apply(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => r,
            Auth::Cookie(c) => r.header("cookie", c),
            Auth::Bearer(t) => r.bearer_auth(t),
        }
    }
}

/// The `name=value` of each `Set-Cookie`.
fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned()).collect()
}

/// Signs in through the development sign-in; the session cookie.
async fn dev_sign_in(app: &TestApp) -> String {
    let r = app.client.post(format!("{}/auth/dev", app.base)).form(&[("return_to", "/api/me")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/api/me");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn nothing_is_open_when_sign_in_is_not_configured() {
    let app = TestApp::spawn(|_, _| {}).await;
    for path in ["/api/alerts", "/api/me", "/api/patients/p1", "/api/changes", "/fhir/Task?patient=p1"] {
        let (status, headers, body) = app.get(path, &Auth::None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(headers["www-authenticate"], "Bearer", "{path}");
        let message = body["message"].as_str().or(body["issue"][0]["diagnostics"].as_str()).unwrap_or_default();
        assert!(message.contains("not configured"), "{path}: {body}");
    }
    let r = app.client.get(format!("{}/auth/login", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let r = app.client.post(format!("{}/auth/dev", app.base)).form(&[("return_to", "/")]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "no development sign-in unless configured");
    let r = app.client.post(format!("{}/auth/dev", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The API's description is public.
    let (status, _, spec) = app.get("/api/openapi.json", &Auth::None).await;
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(app.audit_rows().await.is_empty(), "refusals before anyone is known are not audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_reads_are_answered_and_audited_with_their_patient() {
    let app = TestApp::dev("ana:clinician").await;
    app.load_cohort(6).await;
    let session = Auth::Cookie(dev_sign_in(&app).await);

    let (status, _, me) = app.get("/api/me", &session).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["key"], "dev|ana");
    assert_eq!(me["role"], "clinician");
    assert_eq!(me["roles"], json!(["viewer", "clinician"]));
    assert_eq!(me["csrf_token"].as_str().unwrap().len(), 64);

    // The worklist: every current alert, paged without gaps or repeats.
    let (status, _, first) = app.get("/api/alerts?limit=200", &session).await;
    assert_eq!(status, 200, "{first}");
    let items = first["items"].as_array().unwrap().clone();
    assert!(items.iter().all(|i| i["acknowledged"] == false && i["etag"].as_str().unwrap().starts_with('"')));
    let everything: Vec<Value> = items.iter().map(|i| i["alert"].clone()).collect();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM alert").fetch_one(&app.db.pool).await.unwrap();
    assert!(total > 5, "the cohort raises alerts");
    assert_eq!(everything.len() as i64, total);
    let counted: i64 = first["counts"].as_object().unwrap().values().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!(counted, total);
    let rank = |a: &Value| match a["state"].as_str().unwrap() {
        "overdue" => 0,
        "due" => 1,
        "active" => 2,
        _ => 3,
    };
    assert!(everything.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])), "due and overdue follow-ups lead");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/alerts?limit=4&cursor={c}"),
            None => "/api/alerts?limit=4".into(),
        };
        let (status, _, page) = app.get(&path, &session).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["items"].as_array().unwrap().iter().map(|i| i["alert"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, everything, "pages of 4 give the same list as one page");

    // Filters.
    let (_, _, safety) = app.get("/api/alerts?kind=safety,follow-up&limit=200", &session).await;
    let kinds: Vec<&Value> = safety["items"].as_array().unwrap().iter().map(|i| &i["alert"]["kind"]).collect();
    assert!(kinds.iter().all(|k| *k == "safety" || *k == "follow-up"), "{kinds:?}");
    let (status, _, bad) = app.get("/api/alerts?state=done", &session).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("bad-request")), "{bad}");
    let (status, _, bad) = app.get("/api/alerts?stat=due", &session).await;
    assert_eq!(status, 400, "a misspelt filter is refused, not ignored: {bad}");
    let (status, _, bad) = app.get("/api/alerts?cursor=nonsense", &session).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("bad-cursor")));

    // One patient: summary, alerts, an evidence resource, history, FHIR.
    let alert = &everything[0];
    let patient = alert["patient"].as_str().unwrap();
    let pid = patient.strip_prefix("Patient/").unwrap();
    let (status, _, summary) = app.get(&format!("/api/patients/{pid}"), &session).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["id"], patient);
    let (_, _, alerts) = app.get(&format!("/api/patients/{pid}/alerts"), &session).await;
    let own = alerts["items"].as_array().unwrap();
    assert_eq!(summary["current_alerts"].as_i64().unwrap(), own.len() as i64);
    assert!(own.iter().all(|a| a["alert"]["patient"] == patient));
    let (status, headers, one) = app.get(&format!("/api/alerts/{}", alert["id"].as_str().unwrap()), &session).await;
    assert_eq!((status, &one["alert"]), (200, alert));
    assert_eq!(one["disposition"]["acknowledged"], false);
    assert_eq!(headers["etag"].to_str().unwrap(), one["disposition"]["etag"]);
    let evidence = alert["evidence"][0]["reference"].as_str().unwrap();
    let r = app
        .client
        .get(format!("{}/api/patients/{pid}/resources/{evidence}", app.base))
        .header(
            "cookie",
            match &session {
                Auth::Cookie(c) => c.clone(),
                _ => unreachable!(),
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/fhir+json");
    let resource: Value = r.json().await.unwrap();
    assert_eq!(
        format!("{}/{}", resource["resourceType"].as_str().unwrap(), resource["id"].as_str().unwrap()),
        evidence
    );
    let (status, _, _) = app.get(&format!("/api/patients/someone-else/resources/{evidence}"), &session).await;
    assert_eq!(status, 404, "a resource is only reachable under its own patient");
    let (_, _, history) = app.get(&format!("/api/patients/{pid}/history"), &session).await;
    let changes = history["items"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|c| c["alert"]["patient"] == patient));
    assert!(changes.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
    let (status, _, missing) = app.get("/api/patients/never-seen", &session).await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not-found")));

    // The alerts as FHIR resources, as the alert topic renders them.
    let mut fhir_total = 0;
    for kind in ["DetectedIssue", "Task", "RequestGroup"] {
        let (status, headers, bundle) = app.get(&format!("/fhir/{kind}?patient={pid}"), &session).await;
        assert_eq!(status, 200, "{bundle}");
        assert_eq!(headers["content-type"], "application/fhir+json");
        assert_eq!(bundle["type"], "searchset");
        for e in bundle["entry"].as_array().unwrap() {
            assert_eq!(e["resource"]["resourceType"], kind);
            let (status, _, read) = app.get(&format!("/fhir/{}", e["fullUrl"].as_str().unwrap()), &session).await;
            assert_eq!((status, &read), (200, &e["resource"]));
            fhir_total += 1;
        }
    }
    assert_eq!(fhir_total, own.len(), "every current alert is one FHIR resource");
    let (status, _, outcome) = app.get("/fhir/Observation?patient=x", &session).await;
    assert_eq!((status, outcome["resourceType"].as_str()), (404, Some("OperationOutcome")));

    // The change feed: pages follow one another to the whole log; `since=now` is the end.
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM alert_change").fetch_one(&app.db.pool).await.unwrap();
    // The feed's horizon is the cluster's oldest running transaction: other
    // tests (other databases) may hold it back for a moment; it catches up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seqs = Vec::new();
    let mut since = String::new();
    while (seqs.len() as i64) < logged && std::time::Instant::now() < deadline {
        let (status, _, feed) = app.get(&format!("/api/changes?limit=5{since}"), &session).await;
        assert_eq!(status, 200, "{feed}");
        seqs.extend(feed["items"].as_array().unwrap().iter().map(|i| i["seq"].as_i64().unwrap()));
        since = format!("&since={}", feed["next"].as_str().unwrap());
        if feed["more"] == false {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    assert_eq!(seqs, (1..=logged).collect::<Vec<_>>());
    let (_, _, end) = app.get("/api/changes?since=now", &session).await;
    assert_eq!(end["items"], json!([]));

    // Every read of patient data names its patient in the audit trail.
    let rows = app.audit_rows().await;
    assert_eq!(rows[0].2, "login");
    let patient_reads: Vec<_> = rows.iter().filter(|r| r.3.as_deref() == Some(patient)).collect();
    assert!(patient_reads.len() >= 6, "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == "dev|ana"));
    let heads = audit::verify(&app.db.pool, None).await.expect("the chains verify");
    assert_eq!(heads.iter().map(|h| h.seq).sum::<i64>(), rows.len() as i64, "every event is in one lane");
    assert!(heads.iter().filter(|h| h.seq > 0).count() > 1, "requests spread over lanes");
    let out = common::islet().args(["audit", "verify", "--database-url", &app.db.url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: String = heads
        .iter()
        .map(|h| format!("head lane={} seq={} hash={} anchor={}\n", h.lane, h.seq, h.hex(), h.anchor()))
        .collect();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), printed);
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let app = TestApp::dev("ana").await;
    // As the README's curl does it: no form body at all.
    let r = app.client.post(format!("{}/auth/dev", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/worklist");
    let cookie = set_cookies(r.headers()).into_iter().find(|c| c.starts_with("islet=")).unwrap();
    let (_, _, me) = app.get("/api/me", &Auth::Cookie(cookie.clone())).await;
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let logout = |form: Vec<(&'static str, String)>| {
        app.client.post(format!("{}/auth/logout", app.base)).header("cookie", cookie.clone()).form(&form).send()
    };
    let r = logout(vec![]).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf");
    let r = logout(vec![("_csrf", "0".repeat(64))]).await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "a wrong token is refused");
    let r = logout(vec![("_csrf", csrf)]).await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(set_cookies(r.headers()).contains(&"islet=".to_owned()), "the cookie is removed");
    let (status, _, body) = app.get("/api/me", &Auth::Cookie(cookie)).await;
    assert_eq!(status, 401, "the session ended on the server, not only in the browser: {body}");
    let subtypes: Vec<String> = app.audit_rows().await.into_iter().map(|r| r.2).collect();
    assert_eq!(subtypes, ["login", "logout"]);
}

#[tokio::test]
async fn a_session_ends_after_its_idle_time() {
    let app = TestApp::spawn(|s, _| {
        s.auth.dev_user = Some("ana".into());
        s.auth.session_idle_seconds = 1;
    })
    .await;
    let cookie = Auth::Cookie(dev_sign_in(&app).await);
    assert_eq!(app.get("/api/me", &cookie).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.get("/api/me", &cookie).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_signs_in_with_pkce_and_the_provider_s_roles() {
    let idp = TestIssuer::start().await;
    let app = TestApp::oidc(&idp).await;
    let browser = &app.client;

    // Sign-in as a clinician, following each redirect by hand.
    idp.next_user("u-17", &["clinician"]);
    let r = browser.get(format!("{}/auth/login?return_to=/api/alerts", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let to_provider = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to_provider.starts_with(&format!("{}/authorize?", idp.issuer)), "{to_provider}");
    assert!(to_provider.contains("code_challenge_method=S256"), "{to_provider}");
    let login_cookie = set_cookies(r.headers()).into_iter().find(|c| c.starts_with("islet_login=")).unwrap();
    let r = browser.get(&to_provider).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/auth/callback?", app.base)), "{callback}");

    // The callback in another browser (no login cookie) is refused.
    let r = browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "login CSRF: the state is bound to the browser that started");

    // That attempt spent nothing (the state is only taken once the cookie
    // matches): the browser that started completes.
    let r = browser.get(&callback).header("cookie", &login_cookie).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/api/alerts");
    let session = set_cookies(r.headers()).into_iter().find(|c| c.starts_with("islet=")).unwrap();
    let (status, _, me) = app.get("/api/me", &Auth::Cookie(session.clone())).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["key"], format!("{}|u-17", idp.issuer));
    assert_eq!(me["name"], "Dr u-17");
    assert_eq!(me["role"], "clinician");

    // The same callback again: a code and a state are good once.
    let r = browser.get(&callback).header("cookie", &login_cookie).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // A user the provider knows but who holds no Islet role: refused, audited.
    idp.next_user("u-99", &["cleaner"]);
    let (status, body) = sign_in(&app, &idp).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no Islet role"), "{body}");

    // An ID token for another sign-in (wrong nonce) is refused.
    idp.next_user("u-18", &["viewer"]);
    idp.send_wrong_nonce();
    let (status, _) = sign_in(&app, &idp).await;
    assert_eq!(status, 403);

    let rows = app.audit_rows().await;
    let summary: Vec<(&str, &str)> = rows.iter().map(|r| (r.1.as_str(), r.2.as_str())).collect();
    let u17 = format!("{}|u-17", idp.issuer);
    let u99 = format!("{}|u-99", idp.issuer);
    assert_eq!(
        summary,
        [
            ("anonymous", "login-failed"),
            (u17.as_str(), "login"),
            ("anonymous", "login-failed"),
            (u99.as_str(), "login-failed"),
            ("anonymous", "login-failed"),
        ]
    );
    audit::verify(&app.db.pool, None).await.unwrap();
}

/// A whole sign-in with the provider's current user: the callback's status and body.
async fn sign_in(app: &TestApp, idp: &TestIssuer) -> (u16, String) {
    let r = app.client.get(format!("{}/auth/login", app.base)).send().await.unwrap();
    let login_cookie = set_cookies(r.headers()).into_iter().find(|c| c.starts_with("islet_login=")).unwrap();
    let r = app.client.get(r.headers()["location"].to_str().unwrap()).send().await.unwrap();
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.contains("code="), "{callback} ({})", idp.issuer);
    let r = app.client.get(&callback).header("cookie", login_cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn bearer_tokens_are_checked_in_every_way_that_matters() {
    let idp = TestIssuer::start().await;
    let app = TestApp::oidc(&idp).await;
    let audience = format!("{}/api", app.base);
    let good = idp.claims("svc-reporting", &audience, &["viewer"]);
    let (status, _, me) = app.get("/api/me", &Auth::Bearer(idp.mint(&good))).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["csrf_token"], Value::Null, "bearer clients need no CSRF token");

    let now = jsonwebtoken::get_current_timestamp();
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let refused = [
        ("expired", idp.mint(&with(json!({"exp": now - 3600})))),
        ("not yet valid", idp.mint(&with(json!({"nbf": now + 3600})))),
        ("wrong audience", idp.mint(&with(json!({"aud": "https://other.example/api"})))),
        ("foreign issuer", idp.mint(&with(json!({"iss": "https://evil.example"})))),
        (
            "no expiry",
            idp.mint(&{
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        ("unknown key", issuer::sign(&good, Algorithm::ES256, Some("another-key"))),
        ("no key id", issuer::sign(&good, Algorithm::ES256, None)),
        ("alg none", issuer::unsigned(&good)),
        ("HS256 keyed with the public key", issuer::hmac_with_public_key(&good)),
        ("tampered payload", {
            let t = idp.mint(&good);
            let other = idp.mint(&with(json!({"roles": ["admin"]})));
            let parts: Vec<&str> = t.split('.').collect();
            let other_parts: Vec<&str> = other.split('.').collect();
            format!("{}.{}.{}", parts[0], other_parts[1], parts[2])
        }),
        ("not a JWT", "abc".to_owned()),
    ];
    for (why, token) in refused {
        let (status, headers, body) = app.get("/api/alerts", &Auth::Bearer(token)).await;
        assert_eq!(status, 401, "{why}: {body}");
        assert_eq!(headers["www-authenticate"], r#"Bearer error="invalid_token""#, "{why}");
        assert_eq!(body["code"], "unauthenticated", "{why}");
    }
    let (status, _, body) = app.get("/api/alerts", &Auth::Bearer(idp.mint(&with(json!({"roles": ["cleaner"]}))))).await;
    assert_eq!(status, 403, "a valid token without an Islet role: {body}");
    assert!(app.audit_rows().await.iter().all(|r| r.1 != "anonymous"), "token refusals are counted, not audited");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("islet_auth_refusals_total{reason=\"token\"} 11"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_keep_the_chain_whole_and_tampering_is_found() {
    let app = TestApp::dev("ana").await;
    let cookie = dev_sign_in(&app).await;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let (client, base, cookie) = (app.client.clone(), app.base.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let r = client.get(format!("{base}/api/patients/p{n}")).header("cookie", cookie).send().await.unwrap();
            r.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 404, "unknown patients, but each read is audited");
    }
    let lanes: Vec<(i16, i64)> =
        sqlx::query_as("SELECT lane, seq FROM audit_event ORDER BY lane, seq").fetch_all(&app.db.pool).await.unwrap();
    assert_eq!(lanes.len(), 41);
    for lane in 0..audit::LANES {
        let seqs: Vec<i64> = lanes.iter().filter(|(l, _)| *l == lane).map(|(_, s)| *s).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "lane {lane} is gap-free");
    }
    let heads = audit::verify(&app.db.pool, None).await.unwrap();
    // The busiest lane is the one tampered with below.
    let busiest = *heads.iter().max_by_key(|h| h.seq).unwrap();
    let (lane, n) = (busiest.lane, busiest.seq);
    assert!(n >= 3, "{heads:?}");
    let anchor = busiest.anchor();

    // The service's own role cannot rewrite history.
    let e = sqlx::query("UPDATE audit_event SET entity = 'x' WHERE lane = $1 AND seq = 2")
        .bind(lane)
        .execute(&app.db.pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    assert!(sqlx::query("DELETE FROM audit_event WHERE lane = $1 AND seq = $2")
        .bind(lane)
        .bind(n)
        .execute(&app.db.pool)
        .await
        .is_err());

    // A database owner can; the chain shows where.
    sqlx::query("ALTER TABLE audit_event DISABLE TRIGGER USER").execute(&app.db.pool).await.unwrap();
    let original: String = sqlx::query_scalar("SELECT patient_id FROM audit_event WHERE lane = $1 AND seq = 2")
        .bind(lane)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_event SET patient_id = 'Patient/p99' WHERE lane = $1 AND seq = 2")
        .bind(lane)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let found = audit::verify(&app.db.pool, None).await;
    assert!(matches!(found, Err(VerifyError::Broken(Broken::Content { lane: l, seq: 2 })) if l == lane), "{found:?}");
    let out = common::islet().args(["audit", "verify", "--database-url", &app.db.url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("lane {lane} row 2")), "{said}");
    sqlx::query("UPDATE audit_event SET patient_id = $1 WHERE lane = $2 AND seq = 2")
        .bind(&original)
        .bind(lane)
        .execute(&app.db.pool)
        .await
        .unwrap();
    audit::verify(&app.db.pool, None).await.expect("restored");

    // Removing the newest events of a lane (and moving its head back to
    // match) is caught only by an anchor taken earlier.
    sqlx::query("DELETE FROM audit_event WHERE lane = $1 AND seq > $2")
        .bind(lane)
        .bind(n - 2)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let found = audit::verify(&app.db.pool, None).await;
    assert!(
        matches!(found, Err(VerifyError::Broken(Broken::Head { lane: l, head_seq, last_seq }))
            if l == lane && head_seq == n && last_seq == n - 2),
        "{found:?}"
    );
    sqlx::query(
        "UPDATE audit_head SET seq = $2, hash = (SELECT hash FROM audit_event WHERE lane = $1 AND seq = $2) \
         WHERE lane = $1",
    )
    .bind(lane)
    .bind(n - 2)
    .execute(&app.db.pool)
    .await
    .unwrap();
    audit::verify(&app.db.pool, None).await.expect("a consistent shorter chain");
    let out =
        common::islet().args(["audit", "verify", "--anchor", &anchor, "--database-url", &app.db.url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the anchor is gone: {}", String::from_utf8_lossy(&out.stderr));
}

/// Posts each line of a file to `/fhir` (the service's own ingest).
async fn post_lines(app: &TestApp, lines: &str) {
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let r = app
            .client
            .post(format!("{}/fhir", app.base))
            .header("content-type", "application/fhir+json")
            .body(line.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }
}

const SURVEILLANCE: &str = include_str!("../../../tests/scenarios/04-surveillance-scheduled/input.ndjson");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_hold_until_the_alert_changes_and_stale_edits_are_refused() {
    let idp = TestIssuer::start().await;
    let app = TestApp::oidc(&idp).await;
    post_lines(&app, SURVEILLANCE).await;
    let aud = format!("{}/api", app.base);
    let clinician = Auth::Bearer(idp.mint(&idp.claims("c-1", &aud, &["clinician"])));
    let viewer = Auth::Bearer(idp.mint(&idp.claims("v-1", &aud, &["viewer"])));
    let post = |auth: &Auth, path: &str, etag: Option<&str>, body: Value| {
        let mut r = auth.apply(app.client.post(format!("{}{path}", app.base))).json(&body);
        if let Some(e) = etag {
            r = r.header("if-match", e);
        }
        r.send()
    };

    let (_, _, page) = app.get("/api/alerts?rule=surveillance.small-nonfunctioning", &clinician).await;
    let item = &page["items"][0];
    let (_, _, followups) = app.get("/api/alerts?rule=followup.surveillance-imaging", &clinician).await;
    let followup = followups["items"][0]["alert"]["id"].as_str().unwrap().to_owned();
    let followup_etag = followups["items"][0]["etag"].as_str().unwrap().to_owned();
    let id = item["alert"]["id"].as_str().unwrap().to_owned();
    let e0 = item["etag"].as_str().unwrap().to_owned();
    let ack = format!("/api/alerts/{id}/acknowledgements");
    let body = json!({"reason": "tumour-board", "text": "Discussed 12 Dec: imaging at 6 months"});

    let r = post(&viewer, &ack, Some(&e0), body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "a viewer cannot acknowledge");
    let r = post(&clinician, &ack, None, body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 428);
    let r = post(&clinician, &ack, Some(&e0), json!({"reason": "busy"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid");
    let r = post(&clinician, &ack, Some(&e0), json!({"reason": "other"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 422, "'other' needs a note");
    let r = post(&clinician, &ack, Some(&e0), body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let e1 = r.headers()["etag"].to_str().unwrap().to_owned();
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["disposition"]["acknowledged"], true);
    assert_ne!(e1, e0);

    // Someone acting on the version they loaded before: refused, told why.
    let r = post(&clinician, &ack, Some(&e0), body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 412);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), e1);
    let refusal: Value = r.json().await.unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("acknowledged it at"), "{refusal}");

    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|i| i["alert"]["id"].as_str().unwrap().to_owned()).collect()
    };
    let (_, _, open) = app.get("/api/alerts?acknowledged=false", &clinician).await;
    assert!(!ids(&open).contains(&id));
    let (_, _, acked) = app.get("/api/alerts?acknowledged=true", &clinician).await;
    assert_eq!(ids(&acked), std::slice::from_ref(&id));

    // The same data sent again changes nothing: still acknowledged.
    post_lines(&app, SURVEILLANCE).await;
    let (_, _, one) = app.get(&format!("/api/alerts/{id}"), &clinician).await;
    assert_eq!(one["disposition"]["acknowledged"], true);

    // A new measurement changes the evidence: the alert is open again, and
    // the earlier acknowledgement is shown for what it was.
    let newer = r#"{"resourceType":"Observation","id":"watch-size-9","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"33728-7"}]},"bodySite":{"coding":[{"system":"http://snomed.info/sct","code":"15776009"}]},"subject":{"reference":"Patient/sc-watch"},"effectiveDateTime":"2024-11-20","valueQuantity":{"value":16,"unit":"mm","system":"http://unitsofmeasure.org","code":"mm"}}"#;
    post_lines(&app, newer).await;
    let (_, headers, one) = app.get(&format!("/api/alerts/{id}"), &clinician).await;
    assert_ne!(one["alert"]["evidence"], item["alert"]["evidence"], "the evidence changed");
    assert_eq!(one["disposition"]["acknowledged"], false, "{one}");
    assert_eq!(one["disposition"]["last_acknowledgement"]["reason"], "tumour-board");
    assert_eq!(one["disposition"]["last_acknowledgement"]["actor"], format!("{}|c-1", idp.issuer));
    let e2 = headers["etag"].to_str().unwrap().to_owned();
    let r = post(&clinician, &ack, Some(&e1), body.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 412, "the ETag of the old evidence");
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("state, due date or evidence"));
    let (_, _, open) = app.get("/api/alerts?acknowledged=false", &clinician).await;
    assert!(ids(&open).contains(&id), "back in the worklist");
    // The measurement also satisfied the imaging follow-up: resolved, not actionable.
    let r = post(&clinician, &format!("/api/alerts/{followup}/acknowledgements"), Some(&followup_etag), body.clone())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "alert-not-current");

    // Snooze, assign, note.
    let snooze = format!("/api/alerts/{id}/snoozes");
    let r = post(&clinician, &snooze, Some(&e2), json!({"until": "2026-12-01", "reason": "patient-declined"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422, "a snooze ends in the future");
    let r = post(&clinician, &snooze, Some(&e2), json!({"until": "2027-02-01", "reason": "patient-declined"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let e3 = r.headers()["etag"].to_str().unwrap().to_owned();
    let (_, _, snoozed) = app.get("/api/alerts?snoozed=true", &clinician).await;
    assert_eq!(ids(&snoozed), std::slice::from_ref(&id));
    assert_eq!(snoozed["items"][0]["snoozed_until"], "2027-02-01");
    let assign = format!("/api/alerts/{id}/assignments");
    let r = post(&clinician, &assign, Some(&e3), json!({"assignee": "nobody"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 422, "only a known user");
    let r = post(&clinician, &assign, Some(&e3), json!({})).await.unwrap();
    assert_eq!(r.status().as_u16(), 422, "a missing assignee is not an unassignment");
    idp.next_user("u-17", &["clinician"]);
    let (status, _) = sign_in(&app, &idp).await;
    assert_eq!(status, 303);
    let u17 = format!("{}|u-17", idp.issuer);
    let r = post(&clinician, &assign, Some(&e3), json!({ "assignee": u17 })).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let e4 = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = post(&clinician, &format!("/api/alerts/{id}/notes"), Some(&e4), json!({"text": "Called the patient"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, _, mine) = app.get(&format!("/api/alerts?assignee={}", u17.replace(':', "%3A")), &clinician).await;
    assert_eq!(ids(&mine), std::slice::from_ref(&id));

    let (_, _, history) = app.get(&format!("/api/alerts/{id}/actions"), &viewer).await;
    let kinds: Vec<&str> = history["items"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["acknowledge", "snooze", "assign", "note"]);
    assert_eq!(history["items"][3]["text"], "Called the patient");
    assert_eq!(history["items"][0]["source"], "api");
    let r = post(&clinician, "/api/alerts/no-such-alert/notes", Some("\"x-0\""), json!({"text": "x"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // Each action is in the audit trail, with its patient.
    let updates: Vec<(String, Option<String>)> = app
        .audit_rows()
        .await
        .into_iter()
        .filter(|r| ["acknowledge", "snooze", "assign", "note", "forbidden"].contains(&r.2.as_str()))
        .map(|r| (r.2, r.3))
        .collect();
    let patient = Some("Patient/sc-watch".to_owned());
    assert_eq!(
        updates,
        [
            ("forbidden".to_owned(), None),
            ("acknowledge".to_owned(), patient.clone()),
            ("snooze".to_owned(), patient.clone()),
            ("assign".to_owned(), patient.clone()),
            ("note".to_owned(), patient),
        ]
    );
    audit::verify(&app.db.pool, None).await.unwrap();
}

#[tokio::test]
async fn a_browser_session_s_actions_need_its_csrf_token() {
    let app = TestApp::dev("ana").await;
    post_lines(&app, SURVEILLANCE).await;
    let cookie = dev_sign_in(&app).await;
    let session = Auth::Cookie(cookie.clone());
    let (_, _, me) = app.get("/api/me", &session).await;
    let (_, _, page) = app.get("/api/alerts?limit=1", &session).await;
    let id = page["items"][0]["alert"]["id"].as_str().unwrap();
    let etag = page["items"][0]["etag"].as_str().unwrap();
    let ack = |csrf: Option<&str>| {
        let mut r = app
            .client
            .post(format!("{}/api/alerts/{id}/acknowledgements", app.base))
            .header("cookie", &cookie)
            .header("if-match", etag)
            .json(&json!({"reason": "already-addressed"}));
        if let Some(t) = csrf {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    let r = ack(None).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf");
    let r = ack(Some(me["csrf_token"].as_str().unwrap())).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, _, history) = app.get(&format!("/api/alerts/{id}/actions"), &session).await;
    assert_eq!(history["items"][0]["source"], "dashboard");
    assert_eq!(history["items"][0]["actor_name"], "ana");
}

/// GET a page with a cookie: status, headers, body text.
async fn page(app: &TestApp, path: &str, cookie: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = app.client.get(format!("{}{path}", app.base)).header("cookie", cookie).send().await.unwrap();
    (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_worklist_and_a_patient_and_takes_an_acknowledgement() {
    let app = TestApp::dev("ana:clinician").await;
    post_lines(&app, SURVEILLANCE).await;

    // Not signed in: to the sign-in page, and back here afterwards.
    let r = app.client.get(format!("{}/worklist?state=overdue", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/auth/login?return_to=%2Fworklist%3Fstate%3Doverdue");
    let r = app.client.get(format!("{}/auth/login?return_to=/worklist", app.base)).send().await.unwrap();
    let login = r.text().await.unwrap();
    assert!(login.contains("Continue as ana (clinician)"), "{login}");

    let cookie = dev_sign_in(&app).await;
    let (status, headers, body) = page(&app, "/worklist", &cookie).await;
    assert_eq!(status, 200, "{body}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(!body.contains("<script>") && !body.contains(" style="), "no inline script or style");
    let alerts: i64 = sqlx::query_scalar("SELECT count(*) FROM alert").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(body.matches("<tr class=\"state-").count() as i64, alerts, "one row per open alert");
    assert!(body.contains("sse-connect=\"/api/changes/stream?since=now\""));
    let (_, _, overdue) = page(&app, "/worklist?state=overdue&show=all", &cookie).await;
    let rows = overdue.matches("<tr class=\"state-").count();
    assert_eq!(rows, overdue.matches("<tr class=\"state-overdue\"").count(), "the filter holds");

    // The page's assets are the vendored files, cached for good.
    let htmx = body.split("src=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(htmx.starts_with("/assets/") && htmx.ends_with("/htmx-2.0.11.min.js"), "{htmx}");
    let r = app.client.get(format!("{}{htmx}", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
    let r = app.client.get(format!("{}/assets/00000000/htmx-2.0.11.min.js", app.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "another hash is another file");

    // The patient: alerts with evidence links, the plots' data, history, record.
    let (status, _, patient) = page(&app, "/patients/sc-watch", &cookie).await;
    assert_eq!(status, 200, "{patient}");
    assert!(patient.contains("href=\"/patients/sc-watch/resources/Observation/watch-size-0\""));
    let data = patient.split("<script type=\"application/json\" id=\"chart-data\">").nth(1).unwrap();
    let chart: Value = serde_json::from_str(data.split("</script>").next().unwrap()).unwrap();
    let sizes = SURVEILLANCE.lines().filter(|l| l.contains("\"33728-7\"")).count();
    assert_eq!(chart["size"].as_array().unwrap().len(), sizes, "every size measurement is a point");
    assert_eq!(chart["ki67_bands"], json!([2.0, 20.0]));
    assert!(patient.contains("data-plot=\"ki67\"") && patient.contains("data-plot=\"cga\""));
    let (status, _, resource) = page(&app, "/patients/sc-watch/resources/Observation/watch-size-0", &cookie).await;
    assert_eq!(status, 200);
    assert!(resource.contains("resourceType&#34;: &#34;Observation"), "escaped FHIR JSON: {resource}");

    // Acknowledge through the form; the card then says so.
    let id = patient.split("<article class=\"alert").nth(1).unwrap().split("id=\"alert-").nth(1).unwrap();
    let id = id.split('"').next().unwrap().to_owned();
    let etag_field = format!("/alerts/{id}/acknowledge");
    let form_html = patient.split(&etag_field).nth(1).unwrap();
    let etag = form_html.split("name=\"etag\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let etag = etag.replace("&quot;", "\"").replace("&#34;", "\"");
    let csrf = patient.split("data-csrf=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let form = |csrf: &str| {
        vec![
            ("_csrf", csrf.to_owned()),
            ("etag", etag.clone()),
            ("patient", "Patient/sc-watch".to_owned()),
            ("reason", "tumour-board".to_owned()),
            ("text", "MDT 12 Dec".to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        app.client.post(format!("{}/alerts/{id}/acknowledge", app.base)).header("cookie", &cookie).form(&f).send()
    };
    let r = post(form("0".repeat(64).as_str())).await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "a form without the session's token is refused");
    let r = post(form(&csrf)).await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/patients/sc-watch?notice=acknowledged#alert-{id}"));
    let (_, _, after) = page(&app, back.split('#').next().unwrap(), &cookie).await;
    assert!(after.contains("Acknowledged by ana on"), "the card shows who and when");
    assert!(after.contains("(Decided by the tumour board): MDT 12 Dec"));
    let r = post(form(&csrf)).await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("notice=stale"), "the same form twice is stale");
    let (_, _, open) = page(&app, "/worklist", &cookie).await;
    assert!(!open.contains(&format!("#alert-{id}\"")), "acknowledged: no longer needing action");
    let (_, _, acked) = page(&app, "/worklist?show=acknowledged", &cookie).await;
    assert!(acked.contains(&format!("#alert-{id}\"")));

    // Assign through the form: to the signed-in user ("me"), then to nobody.
    let (_, _, fresh) = page(&app, "/patients/sc-watch", &cookie).await;
    let assign_form = fresh.split(&format!("/alerts/{id}/assign")).nth(1).unwrap();
    assert!(assign_form.contains("<option value=\"dev|ana\">ana</option>"), "known clinicians are offered");
    let etag = assign_form.split("name=\"etag\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let etag = etag.replace("&#34;", "\"");
    let assign = |assignee: &str, etag: String| {
        let f = vec![
            ("_csrf", csrf.clone()),
            ("etag", etag),
            ("patient", "Patient/sc-watch".to_owned()),
            ("assignee", assignee.to_owned()),
        ];
        app.client.post(format!("{}/alerts/{id}/assign", app.base)).header("cookie", &cookie).form(&f).send()
    };
    let r = assign("me", etag).await.unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("notice=assigned"));
    let assignee: Option<String> = sqlx::query_scalar("SELECT assignee FROM alert_status WHERE alert_id = $1")
        .bind(&id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(assignee.as_deref(), Some("dev|ana"));

    let audited: Vec<String> = app.audit_rows().await.into_iter().filter_map(|r| r.4).collect();
    assert!(audited.contains(&"/patients/sc-watch".to_owned()));
    assert!(audited.contains(&"Observation/watch-size-0".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_stream_pushes_new_changes_and_actions() {
    let app = TestApp::dev("ana").await;
    let cookie = dev_sign_in(&app).await;
    let r = app
        .client
        .get(format!("{}/api/changes/stream?since=now", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut stream = r;
    post_lines(&app, SURVEILLANCE).await;
    let mut text = String::new();
    // Within seconds; the bound is generous for a loaded CI machine (the feed
    // waits for the cluster's oldest running transaction).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !text.contains("event: alert-change") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("an event within 30 s");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
    }
    assert!(text.contains("retry: 5000"), "{text}");
    let data = text.split("event: alert-change\n").nth(1).unwrap();
    assert!(data.contains("\"patient\":\"Patient/sc-watch\""), "{data}");
    assert!(!data.contains("evidence"), "minimal payloads: details come through the audited API");
    assert!(text.contains("\nid: "), "each change carries its cursor for Last-Event-ID");
}

/// Runs `scripts/fhir-validate.py` (PyPI fhir.resources) over NDJSON; the invalid lines with their errors.
fn fhir_invalid(ndjson: &str) -> Vec<String> {
    use std::io::Write;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::process::Command::new(root.join("scripts/ensure-fhir-validator")).output().unwrap();
    assert!(python.status.success());
    let python = String::from_utf8(python.stdout).unwrap();
    let mut child = std::process::Command::new(python.trim())
        .arg(root.join("scripts/fhir-validate.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = ndjson.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), ndjson.lines().count(), "one result per line");
    text.lines().filter(|l| l.contains("\"errors\"")).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_exports_as_valid_fhir_audit_events_to_admins_only() {
    let idp = TestIssuer::start().await;
    let app = TestApp::oidc(&idp).await;
    post_lines(&app, SURVEILLANCE).await;
    let aud = format!("{}/api", app.base);
    let viewer = Auth::Bearer(idp.mint(&idp.claims("v-1", &aud, &["viewer"])));
    let clinician = Auth::Bearer(idp.mint(&idp.claims("c-1", &aud, &["clinician"])));
    let admin = Auth::Bearer(idp.mint(&idp.claims("a-1", &aud, &["admin"])));
    assert_eq!(app.get("/api/patients/sc-watch", &viewer).await.0, 200);
    let (_, _, page) = app.get("/api/alerts?limit=1", &viewer).await;
    let id = page["items"][0]["alert"]["id"].as_str().unwrap();
    let etag = page["items"][0]["etag"].as_str().unwrap();
    let r = clinician
        .apply(app.client.post(format!("{}/api/alerts/{id}/notes", app.base)))
        .header("if-match", etag)
        .json(&json!({"text": "seen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    idp.next_user("u-17", &["viewer"]);
    assert_eq!(sign_in(&app, &idp).await.0, 303);

    let (status, _, _) = app.get("/api/audit", &clinician).await;
    assert_eq!(status, 403, "the audit trail is for admins");
    let mut resources = Vec::new();
    let mut path = "/api/audit?limit=2".to_owned();
    loop {
        let (status, headers, bundle) = app.get(&path, &admin).await;
        assert_eq!(status, 200, "{bundle}");
        assert_eq!(headers["content-type"], "application/fhir+json");
        resources.extend(bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"].clone()));
        match bundle["link"][0]["url"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    let subtypes: Vec<&str> = resources.iter().map(|r| r["subtype"][0]["code"].as_str().unwrap()).collect();
    assert!(subtypes.contains(&"read") && subtypes.contains(&"update") && subtypes.contains(&"110122"), "{subtypes:?}");
    let read = resources.iter().find(|r| r["subtype"][0]["code"] == "read").unwrap();
    assert_eq!(read["entity"][0]["what"]["reference"], "Patient/sc-watch");
    assert_eq!(
        read["meta"]["profile"][0],
        "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
    );
    let forbidden =
        resources.iter().find(|r| r["subtype"].as_array().unwrap().iter().any(|s| s["code"] == "forbidden"));
    assert!(forbidden.is_some(), "the refused export is on record");

    // The command line gives the same trail (plus the exports just made).
    let out = common::islet().args(["audit", "export", "--database-url", &app.db.url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ndjson = String::from_utf8(out.stdout).unwrap();
    let rows = app.audit_rows().await.len();
    assert_eq!(ndjson.lines().count(), rows);
    let first: Value = serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
    assert_eq!(first, resources[0]);
    let invalid = fhir_invalid(&ndjson);
    assert!(invalid.is_empty(), "{invalid:?}");
    let out = common::islet()
        .args(["audit", "export", "--database-url", &app.db.url, "--patient", "sc-watch"])
        .output()
        .unwrap();
    let about: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!about.is_empty() && about.iter().all(|r| r["entity"][0]["what"]["reference"] == "Patient/sc-watch"));
}

/// The API fuzzed from its own OpenAPI file by an independent tool (PyPI
/// schemathesis): no 5xx, every status and body as documented, the
/// content types as documented, and what the schema calls invalid refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_to_its_openapi_file_under_fuzzing() {
    let idp = TestIssuer::start().await;
    let app = TestApp::oidc(&idp).await;
    post_lines(&app, SURVEILLANCE).await;
    let aud = format!("{}/api", app.base);
    let mut claims = idp.claims("fuzzer", &aud, &["admin"]);
    claims["exp"] = json!(jsonwebtoken::get_current_timestamp() + 3600);
    let token = idp.mint(&claims);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let st = std::process::Command::new(root.join("scripts/ensure-api-fuzzer")).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let st = String::from_utf8(st.stdout).unwrap().trim().to_owned();
    let reports = std::path::PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("schemathesis");
    std::fs::create_dir_all(&reports).unwrap();
    let reports = reports.canonicalize().unwrap();
    let mut cmd = std::process::Command::new(st);
    // Its example cache (`.schemathesis/`) goes into the build folder, not the checkout.
    cmd.current_dir(&reports);
    cmd.arg("run")
        .arg(root.join("schemas/openapi.json"))
        .args(["--url", &app.base, "-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,\
             negative_data_rejection",
        ])
        // The event stream never ends: its own test covers it.
        .args(["--exclude-path", "/api/changes/stream"])
        .args(["--max-examples", "10", "--seed", "1", "--no-color", "--warnings", "off"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&reports);
    let out = run_to_end(cmd).await;
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every route of the OpenAPI file, for each kind of caller: nobody, an
/// expired token, a token of another issuer, a viewer, a clinician, an admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_gets_what_it_may_on_every_route() {
    let idp = TestIssuer::start().await;
    let app = TestApp::oidc(&idp).await;
    post_lines(&app, SURVEILLANCE).await;
    let aud = format!("{}/api", app.base);
    let token = |roles: &[&str]| idp.mint(&idp.claims("someone", &aud, roles));
    let mut expired = idp.claims("someone", &aud, &["admin"]);
    expired["exp"] = json!(jsonwebtoken::get_current_timestamp() - 3600);
    let mut foreign = idp.claims("someone", &aud, &["admin"]);
    foreign["iss"] = json!("https://login.elsewhere.example");
    let (_, _, page) = app.get("/api/alerts?limit=1", &Auth::Bearer(token(&["viewer"]))).await;
    let alert = page["items"][0]["alert"].clone();
    let id = alert["id"].as_str().unwrap();
    let evidence = alert["evidence"][0]["reference"].as_str().unwrap();
    let spec: Value = serde_json::from_str(islet::serve::api::OPENAPI).unwrap();
    let mut routes = Vec::new();
    for (path, methods) in spec["paths"].as_object().unwrap() {
        let concrete = path
            .replace(
                "/api/patients/{id}/resources/{resource_type}/{resource_id}",
                &format!("/api/patients/sc-watch/resources/{evidence}"),
            )
            .replace("/api/patients/{id}", "/api/patients/sc-watch")
            .replace("/api/alerts/{id}", &format!("/api/alerts/{id}"))
            .replace("/fhir/{resource_type}/{id}", &format!("/fhir/Task/{id}"))
            .replace("/fhir/{resource_type}", "/fhir/Task?patient=sc-watch");
        for method in methods.as_object().unwrap().keys() {
            routes.push((method.clone(), path.clone(), concrete.clone()));
        }
    }
    assert!(routes.len() >= 19, "{routes:?}");
    let callers = [
        ("nobody", None, "none"),
        ("expired", Some(idp.mint(&expired)), "none"),
        ("foreign issuer", Some(idp.mint(&foreign)), "none"),
        ("viewer", Some(token(&["viewer"])), "viewer"),
        ("clinician", Some(token(&["clinician"])), "clinician"),
        ("admin", Some(token(&["admin"])), "admin"),
    ];
    for (who, bearer, role) in &callers {
        for (method, path, url) in &routes {
            let mut request = match method.as_str() {
                "post" => app.client.post(format!("{}{url}", app.base)).json(&json!({"text": "x", "reason": "other"})),
                _ => app.client.get(format!("{}{url}", app.base)),
            };
            if let Some(t) = bearer {
                request = request.bearer_auth(t);
            }
            let status = request.send().await.unwrap().status().as_u16();
            let public = path == "/api/openapi.json";
            let needs = match (method.as_str(), path.as_str()) {
                (_, "/api/audit") => "admin",
                ("post", _) => "clinician",
                _ => "viewer",
            };
            let rank = |r: &str| ["none", "viewer", "clinician", "admin"].iter().position(|x| *x == r).unwrap();
            let expected_ok = public || rank(role) >= rank(needs);
            if expected_ok {
                assert!(![401, 403].contains(&status), "{who} {method} {path}: {status}");
                assert!(status < 500, "{who} {method} {path}: {status}");
            } else if *role == "none" {
                assert_eq!(status, 401, "{who} {method} {path}");
            } else {
                assert_eq!(status, 403, "{who} {method} {path}");
            }
        }
    }
}
