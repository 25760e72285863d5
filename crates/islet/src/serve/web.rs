//! The clinicians' dashboard: server-rendered pages (askama templates in
//! `crates/islet/templates/`) that work without JavaScript, with htmx for
//! live updates and uPlot for the three plots, both vendored into the
//! binary (`assets/`). Every page runs through the same request context as
//! the API ([`Ctx`]): signed in, role checked, its reads audited.
//!
//! Pages: `/worklist` (filters, counts per state, paging; rows refresh when
//! alerts change), `/patients/{id}` (alerts with evidence and actions,
//! plots, history, timeline), `/patients/{id}/resources/{type}/{id}` (a
//! received resource as FHIR JSON). Forms post to `/alerts/{id}/{action}`
//! with the session's CSRF token and the alert's ETag, then redirect back.

use super::access::{self, ApiError, AuditSpec, Ctx};
use super::auth::{Credential, Principal, Role};
use super::chart::Chart;
use super::State;
use askama::Template;
use axum::extract::{ConnectInfo, Form, Path, RawQuery, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use islet_store::action::{self, ActError, Action, ActionSource, Actor, REASONS};
use islet_store::audit::AuditAction;
use islet_store::read::{self, AlertCursor, AlertFilter, AlertSort, WorkItem};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(|| async { redirect("/worklist") }))
        .route("/worklist", get(worklist))
        .route("/worklist/rows", get(worklist_rows))
        .route("/patients/{id}", get(patient_page))
        .route("/patients/{id}/resources/{resource_type}/{resource_id}", get(resource_page))
        .route("/alerts/{id}/{action}", post(alert_form))
        .route("/assets/{hash}/{file}", get(asset))
        .route("/favicon.ico", get(|| async { redirect(&ASSETS.icon) }))
}

// ---------------------------------------------------------------- assets

struct Asset {
    file: &'static str,
    body: &'static [u8],
    content_type: &'static str,
}

const ASSET_FILES: &[Asset] = &[
    Asset {
        file: "htmx-2.0.11.min.js",
        body: include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
        content_type: "text/javascript",
    },
    Asset {
        file: "htmx-ext-sse-2.2.4.min.js",
        body: include_bytes!("../../assets/vendor/htmx-ext-sse-2.2.4.min.js"),
        content_type: "text/javascript",
    },
    Asset {
        file: "uPlot-1.6.32.iife.min.js",
        body: include_bytes!("../../assets/vendor/uPlot-1.6.32.iife.min.js"),
        content_type: "text/javascript",
    },
    Asset {
        file: "uPlot-1.6.32.min.css",
        body: include_bytes!("../../assets/vendor/uPlot-1.6.32.min.css"),
        content_type: "text/css",
    },
    Asset { file: "islet.css", body: include_bytes!("../../assets/islet.css"), content_type: "text/css" },
    Asset { file: "islet.js", body: include_bytes!("../../assets/islet.js"), content_type: "text/javascript" },
    Asset { file: "islet.svg", body: include_bytes!("../../assets/islet.svg"), content_type: "image/svg+xml" },
];

/// Each asset's URL carries a hash of its content, so it can be cached for good.
static ASSET_HASHES: LazyLock<Vec<String>> = LazyLock::new(|| {
    use sha2::Digest;
    ASSET_FILES.iter().map(|a| super::auth::hex(&sha2::Sha256::digest(a.body)[..4])).collect()
});

fn asset_url(file: &str) -> String {
    let i = ASSET_FILES.iter().position(|a| a.file == file).expect("a vendored asset");
    format!("/assets/{}/{}", ASSET_HASHES[i], file)
}

/// The URLs the templates use.
pub struct Assets {
    pub htmx: String,
    pub sse: String,
    pub uplot: String,
    pub uplot_css: String,
    pub css: String,
    pub js: String,
    pub icon: String,
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    htmx: asset_url("htmx-2.0.11.min.js"),
    sse: asset_url("htmx-ext-sse-2.2.4.min.js"),
    uplot: asset_url("uPlot-1.6.32.iife.min.js"),
    uplot_css: asset_url("uPlot-1.6.32.min.css"),
    css: asset_url("islet.css"),
    js: asset_url("islet.js"),
    icon: asset_url("islet.svg"),
});

async fn asset(Path((hash, file)): Path<(String, String)>) -> Response {
    let found = ASSET_FILES.iter().zip(ASSET_HASHES.iter()).find(|(a, h)| a.file == file && **h == hash);
    match found {
        Some((a, _)) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            a.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------- page plumbing

/// Security headers of every page: nothing but our own scripts and styles.
pub(super) fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    // Not `no-referrer`: with it, browsers send `Origin: null` on form posts,
    // and the CSRF check compares the Origin. URLs (patient ids) still never
    // leave for another site.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

fn redirect(to: &str) -> Response {
    super::signin::redirect(to, &[])
}

fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => {
            tracing::error!(error = %e, "a dashboard template failed to render");
            html(StatusCode::INTERNAL_SERVER_ERROR, "<h1>Something went wrong</h1>".into())
        }
    }
}

/// Who is signed in, as the page header shows it.
pub struct Viewer {
    pub name: String,
    pub role: &'static str,
    pub csrf: String,
    pub may_act: bool,
}

impl Viewer {
    fn of(p: &Principal) -> Viewer {
        Viewer {
            name: p.name.clone().unwrap_or_else(|| p.key.clone()),
            role: p.role.as_str(),
            csrf: match &p.credential {
                Credential::Session { csrf, .. } => super::auth::hex(csrf),
                Credential::Bearer { .. } => String::new(),
            },
            may_act: p.may(Role::Clinician),
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    assets: &'a Assets,
    viewer: Option<Viewer>,
}

/// An error as a page: not signed in → the sign-in page (coming back here after).
fn page_error(e: ApiError, path_and_query: &str) -> Response {
    if e.status == StatusCode::UNAUTHORIZED {
        let back: String = url::form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
        return redirect(&format!("/auth/login?return_to={back}"));
    }
    let title = match e.status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        _ => "That did not work",
    };
    let page = MessagePage { title, text: &e.message, assets: &ASSETS, viewer: None };
    let mut r = render(&page);
    *r.status_mut() = e.status;
    r
}

fn parse_date(text: &str) -> Option<time::Date> {
    time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn word<T: Serialize>(t: &T) -> String {
    serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

use super::api::today;

fn pid_of(patient: &str) -> &str {
    patient.strip_prefix("Patient/").unwrap_or(patient)
}

// ---------------------------------------------------------------- worklist

/// One worklist row, ready to show.
pub struct Row {
    pub id: String,
    pub state: String,
    pub severity: String,
    pub kind: String,
    pub summary: String,
    pub rule: String,
    pub patient: String,
    pub patient_id: String,
    pub due: String,
    pub status: String,
}

impl Row {
    fn of(item: &WorkItem) -> Row {
        let a = &item.alert;
        let mut status = Vec::new();
        if item.acknowledged {
            status.push("acknowledged".to_owned());
        }
        if let Some(until) = &item.snoozed_until {
            status.push(format!("snoozed until {until}"));
        }
        if let Some(who) = &item.assignee {
            status.push(format!("assigned to {}", who.rsplit('|').next().unwrap_or(who)));
        }
        Row {
            id: a.id.clone(),
            state: word(&a.state),
            severity: word(&a.severity),
            kind: word(&a.kind),
            summary: a.summary.clone(),
            rule: a.rule.clone(),
            patient: a.patient.clone(),
            patient_id: pid_of(&a.patient).to_owned(),
            due: a.due.map(|d| d.to_string()).unwrap_or_default(),
            status: status.join(", "),
        }
    }
}

/// The worklist's filters as the form shows them.
#[derive(Default)]
pub struct Filters {
    pub states: Vec<String>,
    pub kind: String,
    pub severity: String,
    /// `open`, `acknowledged`, `snoozed`, `all`.
    pub show: String,
    pub mine: bool,
    pub sort: String,
    /// A rule id (exact), e.g. `followup.surveillance-imaging`.
    pub rule: String,
    /// Due window, `YYYY-MM-DD` (inclusive).
    pub due_from: String,
    pub due_to: String,
}

impl Filters {
    fn parse(query: Option<&str>) -> Filters {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let states = pairs
            .iter()
            .filter(|(n, _)| n == "state")
            .map(|(_, v)| v.clone())
            .filter(|v| ["overdue", "due", "scheduled", "active"].contains(&v.as_str()))
            .collect();
        let show = match get("show").as_str() {
            s @ ("acknowledged" | "snoozed" | "all") => s.to_owned(),
            _ => "open".to_owned(),
        };
        let rule = get("rule");
        let rule = if rule.len() <= 128 && rule.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
            rule
        } else {
            String::new()
        };
        let date = |k: &str| {
            let v = get(k);
            if parse_date(&v).is_some() {
                v
            } else {
                String::new()
            }
        };
        Filters {
            states,
            kind: get("kind"),
            severity: get("severity"),
            show,
            mine: get("mine") == "1",
            sort: get("sort"),
            rule,
            due_from: date("due_from"),
            due_to: date("due_to"),
        }
    }

    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for s in &self.states {
            q.append_pair("state", s);
        }
        for (k, v) in [
            ("kind", &self.kind),
            ("severity", &self.severity),
            ("rule", &self.rule),
            ("due_from", &self.due_from),
            ("due_to", &self.due_to),
            ("show", &self.show),
            ("sort", &self.sort),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if self.mine {
            q.append_pair("mine", "1");
        }
        q.finish()
    }

    fn has_state(&self, s: &str) -> bool {
        self.states.iter().any(|x| x == s)
    }

    fn to_filter(&self, principal: &Principal, today: time::Date) -> AlertFilter {
        let known = |v: &str, allowed: &[&str]| {
            if allowed.contains(&v) {
                vec![v.to_owned()]
            } else {
                Vec::new()
            }
        };
        let (acknowledged, snoozed) = match self.show.as_str() {
            "acknowledged" => (Some(true), None),
            "snoozed" => (None, Some(true)),
            "all" => (None, None),
            _ => (Some(false), Some(false)),
        };
        AlertFilter {
            kinds: known(&self.kind, &["recommendation", "safety", "follow-up", "monitoring", "workup", "data"]),
            severities: known(&self.severity, &["info", "warning", "critical"]),
            states: self.states.clone(),
            acknowledged,
            snoozed,
            assignee: self.mine.then(|| principal.key.clone()),
            today: Some(today),
            rules: if self.rule.is_empty() { Vec::new() } else { vec![self.rule.clone()] },
            due_from: parse_date(&self.due_from),
            due_to: parse_date(&self.due_to),
            ..AlertFilter::default()
        }
    }
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage<'a> {
    assets: &'a Assets,
    viewer: Option<Viewer>,
    filters: Filters,
    counts: Vec<(String, i64)>,
    rows: Vec<Row>,
    next: Option<String>,
    query: String,
}

#[derive(Template)]
#[template(path = "worklist_rows.html")]
struct WorklistRows {
    rows: Vec<Row>,
    next: Option<String>,
    query: String,
}

const PAGE_SIZE: i64 = 50;

async fn load_worklist(
    state: &State,
    headers: &HeaderMap,
    peer: SocketAddr,
    query: Option<&str>,
) -> Result<(Principal, Filters, read::AlertPage), ApiError> {
    let filters = Filters::parse(query);
    let cursor = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "cursor")
        .and_then(|(_, v)| AlertCursor::decode(&v));
    let sort = AlertSort::parse(&filters.sort).unwrap_or_default();
    let detail = serde_json::json!({"page": "worklist", "filters": filters.query()});
    let spec = || AuditSpec::search("/worklist", None, detail.clone());
    let mut ctx = Ctx::begin(state, headers, Some(peer), Role::Viewer, spec).await?;
    let filter = filters.to_filter(&ctx.principal, today(state));
    let (items, next) = read::alert_rows(&mut ctx.tx, &filter, sort, cursor.as_ref(), PAGE_SIZE).await?;
    let page = read::AlertPage { items, next, counts: state.counts.get(&mut ctx.tx, &filter).await? };
    let principal = ctx.finish(spec()).await?;
    Ok((principal, filters, page))
}

fn counts(page: &read::AlertPage) -> Vec<(String, i64)> {
    ["overdue", "due", "scheduled", "active"]
        .iter()
        .map(|s| (s.to_string(), page.counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n)))
        .collect()
}

async fn worklist(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let here = match query.as_deref() {
        Some(q) if !q.is_empty() => format!("/worklist?{q}"),
        _ => "/worklist".to_owned(),
    };
    match load_worklist(&state, &headers, peer, query.as_deref()).await {
        Ok((principal, filters, page)) => {
            let q = filters.query();
            render(&WorklistPage {
                assets: &ASSETS,
                viewer: Some(Viewer::of(&principal)),
                counts: counts(&page),
                rows: page.items.iter().map(Row::of).collect(),
                next: page.next.map(|c| c.encode()),
                query: q,
                filters,
            })
        }
        Err(e) => page_error(e, &here),
    }
}

/// The rows alone: what htmx swaps in when alerts change.
async fn worklist_rows(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match load_worklist(&state, &headers, peer, query.as_deref()).await {
        Ok((_, filters, page)) => render(&WorklistRows {
            rows: page.items.iter().map(Row::of).collect(),
            next: page.next.map(|c| c.encode()),
            query: filters.query(),
        }),
        Err(e) => e.into_response(),
    }
}

// ---------------------------------------------------------------- patient

pub struct EvidenceView {
    pub reference: String,
    pub fact: String,
    /// The page of the received resource (this patient's only).
    pub href: Option<String>,
}

pub struct AlertView {
    pub row: Row,
    pub detail: String,
    pub citation: String,
    pub preliminary: bool,
    pub evidence: Vec<EvidenceView>,
    pub etag: String,
    pub acknowledged: bool,
    /// "Acknowledged by Ana on 2027-01-02 (tumour board): text" — current or earlier.
    pub acknowledgement: Option<String>,
    pub snoozed_until: Option<String>,
    pub assigned_to_me: bool,
}

pub struct HistoryView {
    pub at: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "patient.html")]
struct PatientPage<'a> {
    assets: &'a Assets,
    viewer: Option<Viewer>,
    patient: String,
    patient_id: String,
    alerts: Vec<AlertView>,
    history: Vec<HistoryView>,
    chart: Chart,
    chart_json: String,
    reasons: &'static [(&'static str, &'static str)],
    /// Who an alert can be assigned to: (key, name) of users who signed in.
    users: Vec<(String, String)>,
    notice: Option<String>,
    today: String,
}

fn resource_href(patient_id: &str, reference: &str) -> Option<String> {
    let (t, id) = reference.split_once('/')?;
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (plain(t) && plain(id)).then(|| format!("/patients/{patient_id}/resources/{t}/{id}"))
}

fn acknowledgement_text(a: &action::PastAction, current: bool) -> String {
    let who = a.actor_name.as_deref().unwrap_or(&a.actor);
    let why = a.reason.as_deref().and_then(action::reason_label).unwrap_or("");
    let note = a.text.as_deref().map(|t| format!(": {t}")).unwrap_or_default();
    let when = a.at.date();
    if current {
        format!("Acknowledged by {who} on {when} ({why}){note}")
    } else {
        format!("Acknowledged earlier by {who} on {when} ({why}){note} — the alert has changed since")
    }
}

fn notice_text(code: &str) -> Option<String> {
    Some(
        match code {
            "acknowledged" => "Acknowledged.",
            "snoozed" => "Snoozed.",
            "assigned" => "Assignment saved.",
            "noted" => "Note added.",
            "stale" => {
                "This alert changed since you loaded the page (another user acted, or new data arrived). \
                        Review it and try again."
            }
            "resolved" => "This alert was resolved meanwhile; nothing was recorded.",
            "invalid" => {
                "Please fill in the form completely (a reason; a note when the reason is Other; a \
                          future date for a snooze)."
            }
            _ => return None,
        }
        .to_owned(),
    )
}

async fn patient_page(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let here = format!("/patients/{id}");
    let result = async {
        let reference = super::api::patient_ref(&id)?;
        let spec = || AuditSpec::read(format!("/patients/{id}"), Some(reference.clone()));
        let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
        let Some(chart) = load_chart(&mut ctx.tx, &reference).await? else {
            return Err(ApiError::not_found("Islet holds no record for this patient"));
        };
        let today = today(&state);
        let items = read::patient_alerts(&mut ctx.tx, &reference, today).await?;
        let actions = action::patient_history(&mut ctx.tx, &reference).await?;
        let mut alerts = Vec::new();
        for item in &items {
            let a = &item.alert;
            let last_ack = actions.iter().rev().find(|p| p.kind == "acknowledge" && p.alert_id == a.id);
            alerts.push(AlertView {
                row: Row::of(item),
                detail: a.detail.clone(),
                citation: a.citation.clone(),
                preliminary: a.preliminary,
                evidence: a
                    .evidence
                    .iter()
                    .map(|e| EvidenceView {
                        reference: e.reference.clone(),
                        fact: e.fact.clone(),
                        href: resource_href(&id, &e.reference),
                    })
                    .collect(),
                etag: item.etag.clone(),
                acknowledged: item.acknowledged,
                acknowledgement: last_ack.map(|l| acknowledgement_text(l, item.acknowledged)),
                snoozed_until: item.snoozed_until.clone(),
                assigned_to_me: item.assignee.as_deref() == Some(ctx.principal.key.as_str()),
            });
        }
        let changes = read::changes(&mut ctx.tx, read::FeedCursor::default(), Some(&reference), 1000).await?;
        let users: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, coalesce(name, key) FROM app_user WHERE roles && ARRAY['clinician', 'admin'] \
             ORDER BY 2 LIMIT 500",
        )
        .fetch_all(&mut *ctx.tx)
        .await?;
        let mut history: Vec<(time::OffsetDateTime, String)> = changes
            .iter()
            .map(|c| {
                let cause = match &c.change.cause {
                    islet_engine::Cause::Clock => "time passed".to_owned(),
                    islet_engine::Cause::Data { resources } if resources.len() <= 3 => {
                        format!("new data: {}", resources.join(", "))
                    }
                    islet_engine::Cause::Data { resources } => {
                        format!("new data: {} and {} more", resources[..2].join(", "), resources.len() - 2)
                    }
                };
                (c.change.at, format!("{} — {} ({cause})", word(&c.change.change), c.change.alert.summary))
            })
            .collect();
        history.extend(actions.iter().map(|a| {
            let who = a.actor_name.as_deref().unwrap_or(&a.actor);
            let what = match a.kind.as_str() {
                "acknowledge" => {
                    format!("{who} acknowledged ({})", a.reason.as_deref().and_then(action::reason_label).unwrap_or(""))
                }
                "snooze" => {
                    format!("{who} snoozed until {}", a.snooze_until.map(|d| d.to_string()).unwrap_or_default())
                }
                "assign" => match &a.assignee {
                    Some(to) => format!("{who} assigned it to {}", to.rsplit('|').next().unwrap_or(to)),
                    None => format!("{who} removed the assignment"),
                },
                _ => format!("{who} added a note"),
            };
            let text = a.text.as_deref().map(|t| format!("{what}: {t}")).unwrap_or(what);
            (a.at, text)
        }));
        history.sort_by_key(|h| std::cmp::Reverse(h.0));
        let principal = ctx.finish(spec()).await?;
        let notice = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "notice")
            .and_then(|(_, v)| notice_text(&v));
        Ok(PatientPage {
            assets: &ASSETS,
            viewer: Some(Viewer::of(&principal)),
            patient: reference.clone(),
            patient_id: id.clone(),
            alerts,
            history: history.into_iter().map(|(at, text)| HistoryView { at: at.date().to_string(), text }).collect(),
            // Inside <script type="application/json">: no `<`, so no `</script>` can end it early.
            chart_json: serde_json::to_string(&chart).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c"),
            chart,
            reasons: REASONS,
            users,
            notice,
            today: today.to_string(),
        })
    };
    match result.await {
        Ok(page) => render(&page),
        Err(e) => page_error(e, &here),
    }
}

/// A patient's chart from the stored record (`None`: no such patient).
pub async fn load_chart(conn: &mut sqlx::PgConnection, reference: &str) -> Result<Option<Chart>, sqlx::Error> {
    let record: Option<sqlx::types::Json<islet_engine::record::PatientRecord>> =
        sqlx::query_scalar("SELECT record FROM patient WHERE id = $1").bind(reference).fetch_optional(conn).await?;
    Ok(record.map(|r| Chart::of(&r.0)))
}

#[derive(Template)]
#[template(path = "resource.html")]
struct ResourcePage<'a> {
    assets: &'a Assets,
    viewer: Option<Viewer>,
    patient_id: String,
    reference: String,
    version: String,
    json: String,
    note: String,
}

async fn resource_page(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, resource_type, resource_id)): Path<(String, String, String)>,
) -> Response {
    let here = format!("/patients/{id}/resources/{resource_type}/{resource_id}");
    let result = async {
        let reference = super::api::patient_ref(&id)?;
        let entity = format!("{resource_type}/{resource_id}");
        let spec = || AuditSpec::read(entity.clone(), Some(reference.clone()));
        let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
        let Some(stored) = read::patient_resource(&mut ctx.tx, &reference, &resource_type, &resource_id).await? else {
            return Err(ApiError::not_found("this patient has no such resource"));
        };
        let principal = ctx.finish(spec()).await?;
        let json = stored
            .raw
            .as_deref()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_default();
        let note = if stored.deleted {
            "The newest version is a deletion."
        } else if stored.retracted {
            "This version was entered in error or refuted: Islet does not use it."
        } else {
            ""
        };
        Ok(ResourcePage {
            assets: &ASSETS,
            viewer: Some(Viewer::of(&principal)),
            patient_id: id.clone(),
            reference: entity,
            version: stored.version_key,
            json,
            note: note.into(),
        })
    };
    match result.await {
        Ok(page) => render(&page),
        Err(e) => page_error(e, &here),
    }
}

// ---------------------------------------------------------------- actions

#[derive(serde::Deserialize)]
struct ActionForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    etag: String,
    patient: String,
    reason: Option<String>,
    text: Option<String>,
    until: Option<String>,
    /// `me` or empty (unassign).
    assignee: Option<String>,
}

async fn alert_form(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let pid = pid_of(&form.patient).to_owned();
    let back = |notice: &str| redirect(&format!("/patients/{pid}?notice={notice}#alert-{id}"));
    let text =
        form.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(|t| t.chars().take(2000).collect::<String>());
    let reason = form.reason.clone().filter(|r| action::reason_label(r).is_some());
    let act = match what.as_str() {
        "acknowledge" => match reason {
            Some(r) if r != "other" || text.is_some() => Action::Acknowledge { reason: r, text },
            _ => return back("invalid"),
        },
        "snooze" => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let until = form.until.as_deref().and_then(|u| time::Date::parse(u, format).ok());
            match (until, reason) {
                (Some(until), Some(r)) if until > today(&state) && (r != "other" || text.is_some()) => {
                    Action::Snooze { until, reason: r, text }
                }
                _ => return back("invalid"),
            }
        }
        "assign" => Action::Assign { assignee: None },
        "note" => match text {
            Some(t) => Action::Note { text: t },
            None => return back("invalid"),
        },
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let result = async {
        let entity = format!("/api/alerts/{id}");
        let spec = |patient: Option<String>| AuditSpec {
            action: AuditAction::Update,
            subtype: act.kind(),
            patient,
            entity: Some(entity.clone()),
            detail: None,
        };
        let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Clinician, || spec(None)).await?;
        access::check_csrf(&state.auth, &ctx.principal, &headers, form.csrf.as_deref())?;
        let act = match &act {
            Action::Assign { .. } => match form.assignee.as_deref().map(str::trim) {
                Some("me") => Action::Assign { assignee: Some(ctx.principal.key.clone()) },
                Some("") | None => Action::Assign { assignee: None },
                // Another user who has signed in before (checked in `act`).
                Some(key) => Action::Assign { assignee: Some(key.to_owned()) },
            },
            other => other.clone(),
        };
        let actor =
            Actor { key: &ctx.principal.key, name: ctx.principal.name.as_deref(), source: ActionSource::Dashboard };
        match action::act(&mut ctx.tx, &id, &form.etag, &act, &actor).await? {
            Ok((patient, _)) => {
                ctx.finish(spec(Some(patient))).await?;
                Ok(Ok(match act {
                    Action::Acknowledge { .. } => "acknowledged",
                    Action::Snooze { .. } => "snoozed",
                    Action::Assign { .. } => "assigned",
                    Action::Note { .. } => "noted",
                }))
            }
            Err(e) => Ok(Err(e)),
        }
    };
    match result.await {
        Ok(Ok(notice)) => back(notice),
        Ok(Err(ActError::Stale { .. })) => back("stale"),
        Ok(Err(ActError::NotCurrent | ActError::NotFound)) => back("resolved"),
        Ok(Err(ActError::UnknownAssignee(_))) => back("invalid"),
        Err(e) => page_error(e, &format!("/patients/{pid}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_files_are_the_pinned_releases() {
        use sha2::Digest;
        let pinned = [
            ("htmx-2.0.11.min.js", "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"),
            ("htmx-ext-sse-2.2.4.min.js", "98a46496de0c3605fbffdce9167ba427bdd9553184f83f149c261891a92c0136"),
            ("uPlot-1.6.32.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
            ("uPlot-1.6.32.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
        ];
        for (file, sha) in pinned {
            let a = ASSET_FILES.iter().find(|a| a.file == file).unwrap();
            assert_eq!(super::super::auth::hex(&sha2::Sha256::digest(a.body)), sha, "{file}");
        }
    }

    #[test]
    fn evidence_links_stay_on_the_patient_and_filters_round_trip() {
        assert_eq!(resource_href("p1", "Observation/k-1").as_deref(), Some("/patients/p1/resources/Observation/k-1"));
        assert_eq!(resource_href("p1", "http://x/Observation/1"), None);
        let f = Filters::parse(Some("state=due&state=bogus&show=all&mine=1&kind=safety"));
        assert_eq!(f.states, ["due"]);
        assert_eq!(f.query(), "state=due&kind=safety&show=all&mine=1");
        let f = Filters::parse(Some("rule=followup.cga-surveillance&due_from=2024-01-01&due_to=someday&sort=age"));
        assert_eq!(f.query(), "rule=followup.cga-surveillance&due_from=2024-01-01&show=open&sort=age");
        assert_eq!(Filters::parse(Some("rule=a%27%3B")).rule, "", "only plain rule ids");
        assert_eq!(Filters::parse(None).show, "open", "the worklist shows what still needs someone");
    }
}
