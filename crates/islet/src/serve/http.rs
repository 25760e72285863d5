//! The service's HTTP routes: FHIR ingest and the FHIR reads of alerts,
//! sign-in, the JSON API, health and metrics.

use super::ingest::{ingest, url_mismatch, Expected};
use super::metrics::HttpLabels;
use super::outcome::{request_problem, IngestOutcome, FHIR_JSON};
use super::State;
use axum::body::Body;
use axum::extract::{Path, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use islet_engine::ingest::{Origin, Rejection, Source};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/fhir", post(post_any))
        .route("/fhir/{resource_type}", post(post_typed).get(super::api::fhir_search))
        .route("/fhir/{resource_type}/{id}", axum::routing::put(put_resource).get(super::api::fhir_read))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(super::signin::router())
        .merge(super::api::router())
        .merge(super::web::router())
        .with_state(state)
}

async fn post_any(Extract(state): Extract<Arc<State>>, headers: HeaderMap, body: Body) -> Response {
    receive(&state, "/fhir", &headers, body, Expected::default()).await
}

async fn post_typed(
    Extract(state): Extract<Arc<State>>,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let expected = Expected { resource_type: Some(resource_type), id: None };
    receive(&state, "/fhir/{type}", &headers, body, expected).await
}

async fn put_resource(
    Extract(state): Extract<Arc<State>>,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let expected = Expected { resource_type: Some(resource_type), id: Some(id) };
    receive(&state, "/fhir/{type}/{id}", &headers, body, expected).await
}

/// Every ingest route: authenticate, check the media type and size, apply.
async fn receive(state: &State, route: &'static str, headers: &HeaderMap, body: Body, expected: Expected) -> Response {
    let response = receive_inner(state, headers, body, expected).await;
    state.metrics.http_requests.get_or_create(&HttpLabels { route, status: response.status().as_u16() }).inc();
    response
}

async fn receive_inner(state: &State, headers: &HeaderMap, body: Body, expected: Expected) -> Response {
    if let Some(token) = &state.ingest_token {
        if !bearer_matches(headers, token) {
            let mut r = fhir(StatusCode::UNAUTHORIZED, &request_problem("login", "a valid Bearer token is required"));
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    if state.draining.load(Ordering::Relaxed) {
        return unavailable("the service is shutting down; send again to another instance or later");
    }
    if !is_fhir_json(headers) {
        return fhir(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &request_problem("not-supported", "send application/fhir+json (or application/json)"),
        );
    }
    let too_large = || {
        fhir(
            StatusCode::PAYLOAD_TOO_LARGE,
            &request_problem("too-costly", &format!("the body is larger than {} bytes", state.max_body_bytes)),
        )
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return too_large();
    }
    let bytes = match Limited::new(body, state.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return too_large(),
        Err(_) => {
            return fhir(StatusCode::BAD_REQUEST, &request_problem("incomplete", "the request body could not be read"))
        }
    };
    if let Some((code, reason)) = url_mismatch(&expected, &bytes) {
        let offset = state.http_messages.fetch_add(1, Ordering::Relaxed);
        let rejection = Rejection {
            origin: Origin { source: Source::Http, partition: 0, offset },
            entry: None,
            resource: None,
            code,
            reason,
        };
        return outcome(IngestOutcome::Unusable { rejections: vec![rejection] });
    }
    let received_ms = (super::metrics::unix_now() * 1000.0) as i64;
    match ingest(state, &bytes, received_ms).await {
        Ok(o) => outcome(o),
        Err(e) => {
            tracing::error!(error = %e, "HTTP ingest: the database is unavailable");
            unavailable("the database is unavailable; nothing was applied, send again later")
        }
    }
}

fn outcome(o: IngestOutcome) -> Response {
    let status = StatusCode::from_u16(o.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    fhir(status, &o.to_operation_outcome())
}

fn unavailable(text: &str) -> Response {
    let mut r = fhir(StatusCode::SERVICE_UNAVAILABLE, &request_problem("transient", text));
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

fn fhir(status: StatusCode, body: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body.to_string()).into_response()
}

/// `application/fhir+json` or `application/json`, any parameters (charset, fhirVersion).
fn is_fhir_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == FHIR_JSON || essence == "application/json"
}

/// The configured ingest token, compared in time independent of where the
/// strings differ (a token is a secret).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    super::auth::bearer(headers).is_some_and(|given| super::auth::same_secret(given.as_bytes(), token.as_bytes()))
}

/// The process is alive (no dependencies: a failing database must not get it restarted).
async fn livez() -> &'static str {
    "ok\n"
}

/// Ready for traffic: the database answers, Kafka (when configured) has
/// joined, and the service is not draining. The body says which check failed.
async fn readyz(Extract(state): Extract<Arc<State>>) -> Response {
    let mut problems = Vec::new();
    if state.draining.load(Ordering::Relaxed) {
        problems.push("draining".to_owned());
    }
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), sqlx_ping(state.store.pool())).await;
    if !matches!(ping, Ok(true)) {
        problems.push("database unreachable".to_owned());
    }
    if state.kafka_enabled && !state.kafka_joined.load(Ordering::Relaxed) {
        problems.push("not in the Kafka consumer group".to_owned());
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", problems.join(", "))).into_response()
    }
}

async fn sqlx_ping(pool: &islet_store::PgPool) -> bool {
    islet_store::ping(pool).await
}

async fn metrics(Extract(state): Extract<Arc<State>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "secret-secret-secret"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer secret-secret-secret"));
        assert!(bearer_matches(&h, "secret-secret-secret"));
        assert!(!bearer_matches(&h, "secret-secret-secreT"));
        assert!(!bearer_matches(&h, "secret-secret-secret-"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic c2VjcmV0"));
        assert!(!bearer_matches(&h, "secret-secret-secret"));
    }

    #[test]
    fn fhir_json_with_parameters_is_accepted() {
        let mut h = HeaderMap::new();
        assert!(!is_fhir_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/fhir+json; fhirVersion=4.0; charset=utf-8"),
        );
        assert!(is_fhir_json(&h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+xml"));
        assert!(!is_fhir_json(&h));
    }
}
