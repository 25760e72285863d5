//! The JSON API (`/api`, documented in `schemas/openapi.json`) and the FHIR
//! reads of alerts (`GET /fhir/{DetectedIssue|Task|RequestGroup}`). Every
//! handler runs in one transaction with its audit event ([`Ctx`]); reads of
//! patient data are audited, each with the patient it concerns.

use super::access::{self, ApiError, AuditSpec, Ctx};
use super::auth::{Credential, Role};
use super::outcome::{request_problem, FHIR_JSON};
use super::State;
use axum::extract::{ConnectInfo, Path, RawQuery, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use islet_engine::AlertRecord;
use islet_render::{fhir, AlertStatus};
use islet_store::action::{self, ActError, Action, ActionSource, Actor};
use islet_store::audit::AuditAction;
use islet_store::read::{self, AlertCursor, AlertFilter, AlertSort, FeedCursor};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// The OpenAPI description of this API (also served at `/api/openapi.json`).
pub const OPENAPI: &str = include_str!("../../../../schemas/openapi.json");

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/me", get(me))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/{id}", get(alert))
        .route("/api/alerts/{id}/actions", get(alert_actions))
        .route("/api/alerts/{id}/acknowledgements", post(acknowledge))
        .route("/api/alerts/{id}/snoozes", post(snooze))
        .route("/api/alerts/{id}/assignments", post(assign))
        .route("/api/alerts/{id}/notes", post(note))
        .route("/api/patients/{id}", get(patient))
        .route("/api/patients/{id}/alerts", get(patient_alerts))
        .route("/api/patients/{id}/history", get(patient_history))
        .route("/api/patients/{id}/facts", get(patient_facts))
        .route("/api/patients/{id}/resources/{resource_type}/{resource_id}", get(patient_resource))
        .route("/api/changes", get(changes))
        .route("/api/audit", get(audit_export))
        .route("/api/changes/stream", get(change_stream))
}

type Peer = ConnectInfo<SocketAddr>;

fn json_response(body: Value) -> Response {
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn me(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx =
        Ctx::begin(&state, &headers, Some(peer), Role::Viewer, || AuditSpec::read("/api/me".into(), None)).await?;
    let p = &ctx.principal;
    let csrf = match &p.credential {
        Credential::Session { csrf, .. } => Some(super::auth::hex(csrf)),
        Credential::Bearer { .. } => None,
    };
    let body = json!({"key": p.key, "name": p.name, "role": p.role, "roles": p.roles(), "csrf_token": csrf});
    ctx.tx.commit().await?;
    Ok(json_response(body))
}

/// Query parameters, some repeatable (`state=due&state=overdue`).
fn params(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect()
}

fn one<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn all(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Only the parameters an endpoint knows: a typo is an error, not a silently wider result.
fn known(params: &[(String, String)], names: &[&str]) -> Result<(), ApiError> {
    match params.iter().find(|(k, _)| !names.contains(&k.as_str())) {
        Some((k, _)) => Err(ApiError::bad_request(
            "bad-request",
            format!("unknown parameter {k:?} (this endpoint takes: {})", names.join(", ")),
        )),
        None => Ok(()),
    }
}

fn limit(params: &[(String, String)], default: i64, max: i64) -> Result<i64, ApiError> {
    match one(params, "limit") {
        None => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request("bad-request", format!("limit must be a whole number from 1 to {max}"))),
        },
    }
}

fn date(params: &[(String, String)], name: &str) -> Result<Option<time::Date>, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    one(params, name)
        .map(|t| {
            time::Date::parse(t, format)
                .map_err(|_| ApiError::bad_request("bad-request", format!("{name} must be a date (YYYY-MM-DD)")))
        })
        .transpose()
}

/// Checks each value against the ones the alert JSON can hold.
fn values_in(name: &str, values: Vec<String>, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(v) => {
            Err(ApiError::bad_request("bad-request", format!("{name}={v:?} is not one of: {}", allowed.join(", "))))
        }
        None => Ok(values),
    }
}

const KINDS: &[&str] = &["recommendation", "safety", "follow-up", "monitoring", "workup", "data"];
const SEVERITIES: &[&str] = &["info", "warning", "critical"];
const STATES: &[&str] = &["active", "scheduled", "due", "overdue"];

/// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`) as `Patient/{id}`.
pub(super) fn patient_ref(id: &str) -> Result<String, ApiError> {
    if fhir_id(id) {
        Ok(format!("Patient/{id}"))
    } else {
        Err(ApiError::bad_request("bad-request", "a patient id is 1–64 of A–Z a–z 0–9 - ."))
    }
}

fn fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

async fn alerts(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(query.as_deref());
    known(
        &p,
        &[
            "kind",
            "severity",
            "state",
            "rule",
            "due_from",
            "due_to",
            "patient",
            "acknowledged",
            "snoozed",
            "assignee",
            "sort",
            "limit",
            "cursor",
        ],
    )?;
    let filter = AlertFilter {
        kinds: values_in("kind", all(&p, "kind"), KINDS)?,
        severities: values_in("severity", all(&p, "severity"), SEVERITIES)?,
        states: values_in("state", all(&p, "state"), STATES)?,
        rules: all(&p, "rule"),
        due_from: date(&p, "due_from")?,
        due_to: date(&p, "due_to")?,
        patient: one(&p, "patient").map(patient_ref).transpose()?,
        acknowledged: boolean(&p, "acknowledged")?,
        snoozed: boolean(&p, "snoozed")?,
        assignee: None,
        today: Some(today(&state)),
    };
    let sort = match one(&p, "sort") {
        None => AlertSort::default(),
        Some(s) => AlertSort::parse(s)
            .ok_or_else(|| ApiError::bad_request("bad-request", "sort is one of: default, due, severity, age"))?,
    };
    let limit = limit(&p, 50, 200)?;
    let cursor = one(&p, "cursor")
        .map(|c| AlertCursor::decode(c).ok_or_else(|| ApiError::bad_request("bad-cursor", "this cursor is not valid")))
        .transpose()?;
    // The filters are the search's record; they hold no patient data beyond the patient filter.
    let detail = json!({"kind": filter.kinds, "severity": filter.severities, "state": filter.states,
        "rule": filter.rules, "sort": sort.as_str(), "cursor": one(&p, "cursor")});
    let patient = filter.patient.clone();
    let spec = || AuditSpec::search("/api/alerts", patient.clone(), detail.clone());
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let mut filter = filter;
    filter.assignee = match one(&p, "assignee") {
        Some("me") => Some(ctx.principal.key.clone()),
        other => other.map(str::to_owned),
    };
    let (items, next) = read::alert_rows(&mut ctx.tx, &filter, sort, cursor.as_ref(), limit).await?;
    let page = read::AlertPage { items, next, counts: state.counts.get(&mut ctx.tx, &filter).await? };
    ctx.finish(spec()).await?;
    let counts: serde_json::Map<String, Value> = STATES
        .iter()
        .map(|s| (s.to_string(), json!(page.counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n))))
        .collect();
    Ok(json_response(json!({
        "items": page.items,
        "counts": counts,
        "next_cursor": page.next.map(|c| c.encode()),
    })))
}

async fn alert(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entity = format!("/api/alerts/{id}");
    let mut ctx =
        Ctx::begin(&state, &headers, Some(peer), Role::Viewer, || AuditSpec::read(entity.clone(), None)).await?;
    let Some((alert, disposition)) = action::alert_with_disposition(&mut ctx.tx, &id, today(&state)).await? else {
        return Err(ApiError::not_found("no current alert has this id (it may have been resolved)"));
    };
    let patient = alert.patient.clone();
    ctx.finish(AuditSpec::read(entity, Some(patient))).await?;
    let mut r = json_response(json!({"alert": alert, "disposition": disposition}));
    if let Ok(v) = HeaderValue::from_str(&disposition.etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

async fn alert_actions(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entity = format!("/api/alerts/{id}/actions");
    let mut ctx =
        Ctx::begin(&state, &headers, Some(peer), Role::Viewer, || AuditSpec::read(entity.clone(), None)).await?;
    let actions = action::history(&mut ctx.tx, &id).await?;
    let patient: Option<String> = sqlx::query_scalar("SELECT patient_id FROM alert_change WHERE alert_id = $1 LIMIT 1")
        .bind(&id)
        .fetch_optional(&mut *ctx.tx)
        .await?;
    let Some(patient) = patient else {
        return Err(ApiError::not_found("no alert has this id"));
    };
    ctx.finish(AuditSpec::read(entity, Some(patient))).await?;
    Ok(json_response(json!({ "items": actions })))
}

/// The service clock's date: snoozes end there.
pub(super) fn today(state: &State) -> time::Date {
    state.clock.now().date()
}

fn boolean(params: &[(String, String)], name: &str) -> Result<Option<bool>, ApiError> {
    match one(params, name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request("bad-request", format!("{name} is true or false"))),
    }
}

/// The action bodies (JSON).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AcknowledgeBody {
    reason: String,
    text: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SnoozeBody {
    until: String,
    reason: String,
    text: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    /// Required, and `null` to unassign (a missing field is not an unassignment).
    #[serde(deserialize_with = "Option::deserialize")]
    assignee: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// The longest free text kept with an action.
const MAX_TEXT: usize = 2000;

fn invalid(field: &str, problem: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", format!("{field}: {problem}"))
}

fn parse_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| invalid("body", &e.to_string()))
}

fn reason(code: &str) -> Result<String, ApiError> {
    match action::reason_label(code) {
        Some(_) => Ok(code.to_owned()),
        None => Err(invalid(
            "reason",
            &format!("one of {}", action::REASONS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")),
        )),
    }
}

fn text(t: Option<String>, required: bool) -> Result<Option<String>, ApiError> {
    let t = t.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    match &t {
        None if required => Err(invalid("text", "required")),
        Some(t) if t.chars().count() > MAX_TEXT => Err(invalid("text", &format!("at most {MAX_TEXT} characters"))),
        _ => Ok(t),
    }
}

async fn acknowledge(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    take_action(&state, peer, &headers, &id, "acknowledge", || {
        let b: AcknowledgeBody = parse_body(&headers, &body)?;
        Ok(Action::Acknowledge { reason: reason(&b.reason)?, text: text(b.text, b.reason == "other")? })
    })
    .await
}

async fn snooze(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    take_action(&state, peer, &headers, &id, "snooze", || {
        let b: SnoozeBody = parse_body(&headers, &body)?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let until = time::Date::parse(&b.until, format).map_err(|_| invalid("until", "a date (YYYY-MM-DD)"))?;
        if until <= today(&state) {
            return Err(invalid("until", "a date after today"));
        }
        Ok(Action::Snooze { until, reason: reason(&b.reason)?, text: text(b.text, b.reason == "other")? })
    })
    .await
}

async fn assign(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    take_action(&state, peer, &headers, &id, "assign", || {
        let b: AssignBody = parse_body(&headers, &body)?;
        Ok(Action::Assign { assignee: b.assignee })
    })
    .await
}

async fn note(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    take_action(&state, peer, &headers, &id, "note", || {
        let b: NoteBody = parse_body(&headers, &body)?;
        Ok(Action::Note { text: text(Some(b.text), true)?.unwrap_or_default() })
    })
    .await
}

/// Every action, in this order: who (401), the clinician role (403), CSRF
/// for browser sessions (403), the body (415, 422), `If-Match` (428), then the
/// change and its audit event in one transaction; `201` with the new ETag.
pub async fn take_action(
    state: &State,
    peer: SocketAddr,
    headers: &HeaderMap,
    id: &str,
    kind: &'static str,
    parse: impl FnOnce() -> Result<Action, ApiError>,
) -> Result<Response, ApiError> {
    let entity = format!("/api/alerts/{id}");
    let spec = |patient: Option<String>| AuditSpec {
        action: AuditAction::Update,
        subtype: kind,
        patient,
        entity: Some(entity.clone()),
        detail: None,
    };
    let mut ctx = Ctx::begin(state, headers, Some(peer), Role::Clinician, || spec(None)).await?;
    access::check_csrf(&state.auth, &ctx.principal, headers, None)?;
    let act = parse()?;
    let Some(if_match) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "send If-Match with the ETag of the alert as you saw it",
        ));
    };
    let actor = Actor {
        key: &ctx.principal.key,
        name: ctx.principal.name.as_deref(),
        source: if matches!(ctx.principal.credential, Credential::Session { .. }) {
            ActionSource::Dashboard
        } else {
            ActionSource::Api
        },
    };
    let (patient, etag) = match action::act(&mut ctx.tx, id, if_match, &act, &actor).await? {
        Ok(done) => done,
        Err(ActError::NotFound) => return Err(ApiError::not_found("no alert has this id")),
        Err(ActError::NotCurrent) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "alert-not-current", ActError::NotCurrent.to_string()))
        }
        Err(ActError::Stale { current_etag, message }) => {
            let mut e = ApiError::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", message);
            e.etag = Some(current_etag);
            return Err(e);
        }
        Err(e @ ActError::UnknownAssignee(_)) => return Err(invalid("assignee", &e.to_string())),
    };
    ctx.finish(spec(Some(patient))).await?;
    let (alert, disposition) = {
        let mut conn = state.store.pool().acquire().await?;
        action::alert_with_disposition(&mut conn, id, today(state))
            .await?
            .ok_or_else(|| ApiError::not_found("the alert was resolved meanwhile"))?
    };
    let mut r = json_response(json!({"alert": alert, "disposition": disposition}));
    *r.status_mut() = StatusCode::CREATED;
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

async fn patient(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let reference = patient_ref(&id)?;
    let entity = format!("/api/patients/{id}");
    let spec = || AuditSpec::read(entity.clone(), Some(reference.clone()));
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let summary = read::patient(&mut ctx.tx, &reference).await?;
    ctx.finish(spec()).await?;
    match summary {
        Some(s) => Ok(json_response(json!(s))),
        None => Err(ApiError::not_found("Islet holds no record for this patient")),
    }
}

async fn patient_alerts(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let reference = patient_ref(&id)?;
    let entity = format!("/api/patients/{id}/alerts");
    let spec = || AuditSpec::read(entity.clone(), Some(reference.clone()));
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let alerts = read::patient_alerts(&mut ctx.tx, &reference, today(&state)).await?;
    ctx.finish(spec()).await?;
    Ok(json_response(json!({ "items": alerts })))
}

/// `GET /api/audit` (admin): the audit trail as FHIR AuditEvents (IHE BALP)
/// in a searchset Bundle, oldest first, paged by sequence number. Reading it
/// is itself audited.
async fn audit_export(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(query.as_deref());
    known(&p, &["from", "to", "patient", "actor", "limit", "cursor"])?;
    let instant = |name: &str| -> Result<Option<time::OffsetDateTime>, ApiError> {
        one(&p, name)
            .map(|t| {
                crate::settings::parse_instant(t).map_err(|_| {
                    ApiError::bad_request("bad-request", format!("{name} is an RFC 3339 instant or a date"))
                })
            })
            .transpose()
    };
    let filter = islet_store::audit::EventFilter {
        from: instant("from")?,
        to: instant("to")?,
        patient: one(&p, "patient").map(patient_ref).transpose()?,
        actor: one(&p, "actor").map(str::to_owned),
    };
    let limit = limit(&p, 100, 1000)?;
    let after = match one(&p, "cursor") {
        None => None,
        Some(c) => Some(
            islet_store::audit::EventCursor::decode(c)
                .ok_or_else(|| ApiError::bad_request("bad-cursor", "this cursor is not valid"))?,
        ),
    };
    let detail =
        json!({"from": one(&p, "from"), "to": one(&p, "to"), "actor": filter.actor, "cursor": one(&p, "cursor")});
    let spec = || AuditSpec {
        action: AuditAction::Execute,
        subtype: "export",
        patient: filter.patient.clone(),
        entity: Some("/api/audit".into()),
        detail: Some(detail.to_string()),
    };
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Admin, spec).await?;
    let events = islet_store::audit::events(&mut ctx.tx, &filter, after, limit).await?;
    ctx.finish(spec()).await?;
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": events.iter().map(|e| json!({"fullUrl": format!("AuditEvent/{}-{}", e.lane, e.seq),
            "resource": super::audit_event::audit_event(e), "search": {"mode": "match"}})).collect::<Vec<_>>(),
    });
    if let (Some(last), true) = (events.last(), events.len() as i64 == limit) {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in p.iter().filter(|(k, _)| k != "cursor") {
            q.append_pair(k, v);
        }
        q.append_pair("cursor", &islet_store::audit::EventCursor::of(last).encode());
        bundle["link"] = json!([{"relation": "next", "url": format!("/api/audit?{}", q.finish())}]);
    }
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, FHIR_JSON)], bundle.to_string()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// What the dashboard plots, and the record's facts in time order.
async fn patient_facts(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let reference = patient_ref(&id)?;
    let entity = format!("/api/patients/{id}/facts");
    let spec = || AuditSpec::read(entity.clone(), Some(reference.clone()));
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let chart = super::web::load_chart(&mut ctx.tx, &reference).await?;
    ctx.finish(spec()).await?;
    match chart {
        Some(c) => Ok(json_response(json!(c))),
        None => Err(ApiError::not_found("Islet holds no record for this patient")),
    }
}

fn feed_items(items: &[read::FeedItem]) -> Vec<Value> {
    items
        .iter()
        .map(|i| {
            let at = i.change.at.format(&time::format_description::well_known::Rfc3339).ok();
            let committed = i.committed_at.format(&time::format_description::well_known::Rfc3339).ok();
            json!({
                "cursor": i.cursor.encode(),
                "seq": i.cursor.seq,
                "at": at,
                "committed_at": committed,
                "change": i.change.change,
                "cause": i.change.cause,
                "alert": i.change.alert,
            })
        })
        .collect()
}

fn feed_cursor(p: &[(String, String)]) -> Result<Option<FeedCursor>, ApiError> {
    match one(p, "since") {
        None => Ok(Some(FeedCursor::default())),
        Some("now") => Ok(None),
        Some(c) => FeedCursor::decode(c)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("bad-cursor", "since is a cursor from an earlier page, or now")),
    }
}

async fn patient_history(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let reference = patient_ref(&id)?;
    let p = params(query.as_deref());
    known(&p, &["since", "limit"])?;
    let since = feed_cursor(&p)?;
    let limit = limit(&p, 100, 1000)?;
    let entity = format!("/api/patients/{id}/history");
    let spec = || AuditSpec::read(entity.clone(), Some(reference.clone()));
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let page = feed_page(&mut ctx, since, Some(&reference), limit).await?;
    ctx.finish(spec()).await?;
    Ok(json_response(page))
}

async fn feed_page(
    ctx: &mut Ctx,
    since: Option<FeedCursor>,
    patient: Option<&str>,
    limit: i64,
) -> Result<Value, ApiError> {
    let since = match since {
        Some(c) => c,
        None => read::feed_horizon(&mut ctx.tx).await?,
    };
    let items = read::changes(&mut ctx.tx, since, patient, limit).await?;
    let next = items.last().map_or(since, |i| i.cursor);
    Ok(json!({
        "items": feed_items(&items),
        "next": next.encode(),
        "more": items.len() as i64 == limit,
    }))
}

async fn changes(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(query.as_deref());
    known(&p, &["since", "limit", "patient"])?;
    let since = feed_cursor(&p)?;
    let limit = limit(&p, 100, 1000)?;
    let patient = one(&p, "patient").map(patient_ref).transpose()?;
    let detail = json!({"since": one(&p, "since"), "limit": limit});
    let spec = || AuditSpec::search("/api/changes", patient.clone(), detail.clone());
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let page = feed_page(&mut ctx, since, patient.as_deref(), limit).await?;
    ctx.finish(spec()).await?;
    Ok(json_response(page))
}

/// How often a live subscriber looks for new changes and actions.
const STREAM_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// A browser session behind a stream is checked again this often (sign-out ends the stream).
const STREAM_RECHECK_POLLS: u32 = 60;

struct Subscriber {
    state: Arc<State>,
    cursor: FeedCursor,
    action_seq: i64,
    patient: Option<String>,
    session: Option<[u8; 32]>,
    pending: std::collections::VecDeque<axum::response::sse::Event>,
    polls: u32,
}

impl Subscriber {
    /// One look at the database: new changes, then new actions, as events.
    async fn poll(&mut self) -> Result<bool, sqlx::Error> {
        use axum::response::sse::Event;
        let mut conn = self.state.store.pool().acquire().await?;
        self.polls += 1;
        if let (Some(id_hash), true) = (self.session, self.polls.is_multiple_of(STREAM_RECHECK_POLLS)) {
            let live = islet_store::session::live_session(
                &mut conn,
                &id_hash,
                time::OffsetDateTime::now_utc(),
                self.state.auth.idle,
            )
            .await?;
            if live.is_none() {
                return Ok(false);
            }
        }
        let items = read::changes(&mut conn, self.cursor, self.patient.as_deref(), 200).await?;
        for i in &items {
            let a = &i.change.alert;
            let data = json!({"cursor": i.cursor.encode(), "seq": i.cursor.seq, "change": i.change.change,
                "patient": a.patient, "alert": {"id": a.id, "rule": a.rule, "kind": a.kind,
                "severity": a.severity, "state": a.state, "due": a.due.map(|d| d.to_string())}});
            self.pending.push_back(Event::default().id(i.cursor.encode()).event("alert-change").data(data.to_string()));
            self.cursor = i.cursor;
        }
        let actions: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, alert_id, patient_id, kind FROM alert_action WHERE seq > $1 \
             AND ($2::text IS NULL OR patient_id = $2) ORDER BY seq LIMIT 200",
        )
        .bind(self.action_seq)
        .bind(self.patient.as_deref())
        .fetch_all(&mut *conn)
        .await?;
        for (seq, alert_id, patient, kind) in actions {
            let data = json!({"alert_id": alert_id, "patient": patient, "kind": kind});
            self.pending.push_back(Event::default().event("alert-action").data(data.to_string()));
            self.action_seq = seq;
        }
        Ok(true)
    }
}

/// `GET /api/changes/stream`: server-sent events as alerts change
/// (`alert-change`, with the feed cursor as its id: `Last-Event-ID` resumes)
/// and as clinicians act (`alert-action`). Minimal payloads: a client reads
/// the details through the (audited) API.
async fn change_stream(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let p = params(query.as_deref());
    known(&p, &["since", "patient"])?;
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(FeedCursor::decode);
    let since = match resume {
        Some(c) => Some(c),
        None => feed_cursor(&p)?,
    };
    let patient = one(&p, "patient").map(patient_ref).transpose()?;
    let spec = || AuditSpec::search("/api/changes/stream", patient.clone(), json!({"since": one(&p, "since")}));
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    let cursor = match since {
        Some(c) => c,
        None => read::feed_horizon(&mut ctx.tx).await?,
    };
    let action_seq: i64 =
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM alert_action").fetch_one(&mut *ctx.tx).await?;
    let principal = ctx.finish(spec()).await?;
    let session = match principal.credential {
        Credential::Session { id_hash, .. } => Some(id_hash),
        Credential::Bearer { .. } => None,
    };
    let mut first = std::collections::VecDeque::new();
    first.push_back(Event::default().retry(std::time::Duration::from_secs(5)).comment("connected"));
    let sub = Subscriber { state: state.clone(), cursor, action_seq, patient, session, pending: first, polls: 0 };
    let stream = futures_util::stream::unfold(sub, |mut sub| async move {
        loop {
            if let Some(event) = sub.pending.pop_front() {
                return Some((Ok::<_, std::convert::Infallible>(event), sub));
            }
            tokio::time::sleep(STREAM_POLL).await;
            if sub.state.draining.load(std::sync::atomic::Ordering::Relaxed) {
                return None;
            }
            match sub.poll().await {
                Ok(true) => {}
                Ok(false) => return None,
                // The database is away: the stream ends, the browser reconnects (retry 5 s).
                Err(_) => return None,
            }
        }
    });
    let mut r =
        Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn patient_resource(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path((id, resource_type, resource_id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let reference = patient_ref(&id)?;
    if !fhir_id(&resource_id) || !resource_type.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::bad_request("bad-request", "a resource is TYPE/ID with a FHIR type and id"));
    }
    let entity = format!("{resource_type}/{resource_id}");
    let spec = || AuditSpec::read(entity.clone(), Some(reference.clone()));
    let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
    // Another patient's resource is "not found" here: the path names the patient.
    let Some(stored) = read::patient_resource(&mut ctx.tx, &reference, &resource_type, &resource_id).await? else {
        return Err(ApiError::not_found("this patient has no such resource"));
    };
    ctx.finish(spec()).await?;
    let Some(raw) = stored.raw else {
        return Err(ApiError::new(StatusCode::GONE, "deleted", "the newest version of this resource is a deletion"));
    };
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, FHIR_JSON)], raw).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The alert resource types Islet writes (contract "FHIR output").
const ALERT_TYPES: &[&str] = &["DetectedIssue", "Task", "RequestGroup"];

fn fhir_error(e: ApiError) -> Response {
    let code = match e.status {
        StatusCode::UNAUTHORIZED => "login",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::SERVICE_UNAVAILABLE => "transient",
        _ => "invalid",
    };
    let mut r =
        (e.status, [(header::CONTENT_TYPE, FHIR_JSON)], request_problem(code, &e.message).to_string()).into_response();
    if let Some(v) = e.into_response().headers().get(header::WWW_AUTHENTICATE) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v.clone());
    }
    r
}

fn resource_of(alert: &AlertRecord) -> Value {
    fhir::alert_resource(alert, AlertStatus::Current).to_value()
}

/// `GET /fhir/{type}?patient=…`: the patient's current alerts of that
/// resource type as a searchset Bundle.
pub async fn fhir_search(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path(resource_type): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let result = async {
        if !ALERT_TYPES.contains(&resource_type.as_str()) {
            return Err(ApiError::not_found(format!("Islet serves {} here", ALERT_TYPES.join(", "))));
        }
        let p = params(query.as_deref());
        known(&p, &["patient", "subject"])?;
        let given = one(&p, "patient").or_else(|| one(&p, "subject")).ok_or_else(|| {
            ApiError::bad_request("bad-request", "give patient=ID (a search across all patients is the worklist API)")
        })?;
        let reference = patient_ref(given.strip_prefix("Patient/").unwrap_or(given))?;
        let entity = format!("/fhir/{resource_type}");
        let spec = || AuditSpec::search(&entity, Some(reference.clone()), json!({"type": resource_type}));
        let mut ctx = Ctx::begin(&state, &headers, Some(peer), Role::Viewer, spec).await?;
        let alerts = read::patient_alerts(&mut ctx.tx, &reference, today(&state)).await?;
        ctx.finish(spec()).await?;
        let entries: Vec<Value> = alerts
            .iter()
            .map(|item| resource_of(&item.alert))
            .filter(|r| r["resourceType"] == resource_type.as_str())
            .map(|r| json!({"fullUrl": format!("{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or("")), "resource": r, "search": {"mode": "match"}}))
            .collect();
        Ok(json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries}))
    };
    match result.await {
        Ok(bundle) => (StatusCode::OK, [(header::CONTENT_TYPE, FHIR_JSON)], bundle.to_string()).into_response(),
        Err(e) => fhir_error(e),
    }
}

/// `GET /fhir/{type}/{id}`: one current alert as its FHIR resource.
pub async fn fhir_read(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Path((resource_type, id)): Path<(String, String)>,
) -> Response {
    let result = async {
        if !ALERT_TYPES.contains(&resource_type.as_str()) {
            return Err(ApiError::not_found(format!("Islet serves {} here", ALERT_TYPES.join(", "))));
        }
        let entity = format!("/fhir/{resource_type}/{id}");
        let mut ctx =
            Ctx::begin(&state, &headers, Some(peer), Role::Viewer, || AuditSpec::read(entity.clone(), None)).await?;
        let found = read::alert(&mut ctx.tx, &id).await?.map(|a| (a.patient.clone(), resource_of(&a)));
        let Some((patient, resource)) = found.filter(|(_, r)| r["resourceType"] == resource_type.as_str()) else {
            return Err(ApiError::not_found(format!("no current {resource_type} has this id")));
        };
        ctx.finish(AuditSpec::read(entity, Some(patient))).await?;
        Ok(resource)
    };
    match result.await {
        Ok(resource) => (StatusCode::OK, [(header::CONTENT_TYPE, FHIR_JSON)], resource.to_string()).into_response(),
        Err(e) => fhir_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_comma_separated_parameters_are_both_lists() {
        let p = params(Some("state=due&state=overdue,scheduled&limit=5&rule=a%2Eb"));
        assert_eq!(all(&p, "state"), ["due", "overdue", "scheduled"]);
        assert_eq!(one(&p, "limit"), Some("5"));
        assert_eq!(all(&p, "rule"), ["a.b"]);
        assert!(known(&p, &["state", "limit", "rule"]).is_ok());
        assert_eq!(known(&p, &["state"]).unwrap_err().code, "bad-request");
    }

    #[test]
    fn patient_ids_are_fhir_ids() {
        assert_eq!(patient_ref("p-1.2").unwrap(), "Patient/p-1.2");
        assert!(patient_ref("a/b").is_err());
        assert!(patient_ref("").is_err());
        assert!(patient_ref(&"x".repeat(65)).is_err());
    }

    #[test]
    fn limits_and_values_are_checked() {
        assert_eq!(limit(&params(Some("limit=0")), 50, 200).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(limit(&params(Some("limit=201")), 50, 200).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(limit(&params(None), 50, 200).unwrap(), 50);
        assert!(values_in("state", vec!["due".into()], STATES).is_ok());
        assert!(values_in("state", vec!["done".into()], STATES).is_err());
    }
}

#[cfg(test)]
mod openapi_tests {
    /// The OpenAPI file documents exactly the API's routes and methods, and
    /// the FHIR reads (read from the routers' sources, so a new route without
    /// documentation fails here). FHIR ingest is the contract's.
    #[test]
    fn the_openapi_file_lists_every_route_and_method() {
        let spec: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let mut documented = std::collections::BTreeSet::new();
        for (path, methods) in spec["paths"].as_object().unwrap() {
            for method in methods.as_object().unwrap().keys() {
                documented.insert(format!("{method} {path}"));
            }
        }
        let mut served = std::collections::BTreeSet::new();
        for source in [include_str!("api.rs"), include_str!("http.rs")] {
            for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
                let path = line[".route(\"".len()..].split('"').next().unwrap().to_owned();
                for method in ["get", "post"] {
                    let offered = line.contains(&format!("{method}("));
                    let documented_here = path.starts_with("/api") || (path.starts_with("/fhir") && method == "get");
                    if offered && documented_here {
                        served.insert(format!("{method} {path}"));
                    }
                }
            }
        }
        assert_eq!(documented, served);
    }
}
