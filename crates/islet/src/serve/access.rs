//! One transaction per API request, with its caller and its audit event:
//! [`Ctx::begin`] authenticates and authorizes inside a new transaction, the
//! handler reads through it, and [`Ctx::finish`] appends the audit event as
//! the last statement and commits — a read that cannot be audited is not
//! answered (503). Errors have one JSON shape ([`ApiError`]).

use super::auth::{self, oidc::Provider, Credential, DevUser, Principal, Role, RoleMap};
use super::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use islet_store::audit::{self, AuditAction, AuditEntry, AuditOutcome};
use islet_store::session;
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// How people and machine clients sign in (from the `[auth]` settings).
pub enum SignIn {
    /// Neither OIDC nor a development user: everything is refused.
    Off,
    Dev(DevUser),
    Oidc(Arc<Provider>),
}

pub struct AuthConfig {
    pub sign_in: SignIn,
    pub roles: RoleMap,
    pub roles_claim: String,
    /// The `aud` of API bearer tokens.
    pub api_audience: Option<String>,
    /// Cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
    pub idle: time::Duration,
    pub max: time::Duration,
    /// `scheme://host[:port]` of the public URL: forms must come from there.
    pub public_origin: Option<String>,
}

/// The API's error: a status, a stable code and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent with 401: a bearer token was given but refused.
    pub invalid_token: bool,
    /// Sent with 412: the current ETag.
    pub etag: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), invalid_token: false, etag: None }
    }

    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is unavailable; try again shortly")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        // SQLSTATE class 22 (data exception): a value from the request the
        // database cannot take (a NUL byte in a text, a date out of range).
        if let sqlx::Error::Database(db) = &e {
            if db.code().is_some_and(|c| c.starts_with("22")) {
                return ApiError::bad_request("bad-request", "a value in this request cannot be used");
            }
        }
        tracing::error!(error = %e, "API: database error");
        ApiError::unavailable()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        let mut r = (self.status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            let value = if self.invalid_token { r#"Bearer error="invalid_token""# } else { "Bearer" };
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(etag) = self.etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
            r.headers_mut().insert(header::ETAG, etag);
        }
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// Where a request came from (for the audit trail).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

impl RequestMeta {
    pub fn of(headers: &HeaderMap, peer: Option<SocketAddr>) -> RequestMeta {
        RequestMeta {
            source_ip: peer.map(|p| p.ip().to_string()),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| truncate(s, 256)),
            request_id: format!("{:016x}", rand::random::<u64>()),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// What a request's audit event says besides who and from where.
pub struct AuditSpec {
    pub action: AuditAction,
    pub subtype: &'static str,
    pub patient: Option<String>,
    pub entity: Option<String>,
    pub detail: Option<String>,
}

impl AuditSpec {
    pub fn read(entity: String, patient: Option<String>) -> AuditSpec {
        AuditSpec { action: AuditAction::Read, subtype: "read", patient, entity: Some(entity), detail: None }
    }

    pub fn search(entity: &str, patient: Option<String>, detail: serde_json::Value) -> AuditSpec {
        AuditSpec {
            action: AuditAction::Execute,
            subtype: "search",
            patient,
            entity: Some(entity.to_owned()),
            detail: Some(detail.to_string()),
        }
    }
}

pub fn entry(principal: Option<&Principal>, meta: &RequestMeta, spec: AuditSpec, outcome: AuditOutcome) -> AuditEntry {
    AuditEntry {
        actor: principal.map_or("anonymous".into(), |p| p.key.clone()),
        actor_name: principal.and_then(|p| p.name.clone()),
        roles: principal.map(Principal::roles).unwrap_or_default(),
        action: spec.action,
        subtype: spec.subtype.to_owned(),
        outcome,
        patient_id: spec.patient,
        entity: spec.entity,
        source_ip: meta.source_ip.clone(),
        user_agent: meta.user_agent.clone(),
        request_id: Some(meta.request_id.clone()),
        credential: principal.map(|p| p.credential.audit_text()),
        detail: spec.detail,
    }
}

/// The audit lane of an event: spread by its (random) request id, so
/// concurrent requests append to different chains.
pub fn lane_of(entry: &AuditEntry) -> u32 {
    entry.request_id.as_deref().and_then(|r| u32::from_str_radix(r.get(..8)?, 16).ok()).unwrap_or(0)
}

/// Appends one event in its own transaction (sign-in, refusals).
pub async fn audit_alone(state: &State, entry: &AuditEntry) -> Result<(), ApiError> {
    let mut tx = state.store.pool().begin().await?;
    audit::append(&mut tx, entry, OffsetDateTime::now_utc(), lane_of(entry)).await?;
    tx.commit().await?;
    Ok(())
}

/// A request in progress: its transaction and its caller.
pub struct Ctx {
    pub tx: sqlx::Transaction<'static, sqlx::Postgres>,
    pub principal: Principal,
    pub meta: RequestMeta,
}

impl Ctx {
    /// Authenticates the caller and checks they hold `needed`. A refusal for
    /// lack of a role is audited (`forbidden`); a missing or bad credential
    /// is not (anyone could fill the trail with those).
    pub async fn begin(
        state: &State,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        needed: Role,
        refused: impl FnOnce() -> AuditSpec,
    ) -> Result<Ctx, ApiError> {
        let meta = RequestMeta::of(headers, peer);
        let mut tx = state.store.pool().begin().await?;
        // Islet's connections plan every statement for its arguments (see
        // islet-store's `options`: the engine's batch statements need it).
        // The API's reads have stable plans, and planning them each time
        // cost more than running them (2.4 ms against 1 ms for a worklist
        // page): here the server may keep a generic plan.
        sqlx::query("SET LOCAL plan_cache_mode = auto").execute(&mut *tx).await?;
        let principal = authenticate(state, headers, &mut tx).await?;
        if !principal.may(needed) {
            drop(tx);
            let spec = AuditSpec { subtype: "forbidden", ..refused() };
            audit_alone(state, &entry(Some(&principal), &meta, spec, AuditOutcome::MinorFailure)).await?;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {needed} role; you are signed in as {}", principal.role),
            ));
        }
        Ok(Ctx { tx, principal, meta })
    }

    /// Appends the audit event and commits.
    pub async fn finish(mut self, spec: AuditSpec) -> Result<Principal, ApiError> {
        let e = entry(Some(&self.principal), &self.meta, spec, AuditOutcome::Success);
        audit::append(&mut self.tx, &e, OffsetDateTime::now_utc(), lane_of(&e)).await?;
        self.tx.commit().await?;
        Ok(self.principal)
    }
}

/// Sessions are written back at most this often (idle expiry needs no more).
const TOUCH_EVERY: time::Duration = time::Duration::seconds(60);

/// The caller of a request: a bearer token (machine clients), else the
/// session cookie. 401 when neither proves anyone.
pub async fn authenticate(
    state: &State,
    headers: &HeaderMap,
    conn: &mut sqlx::PgConnection,
) -> Result<Principal, ApiError> {
    let config = &state.auth;
    if matches!(config.sign_in, SignIn::Off) {
        return Err(ApiError::unauthenticated(
            "sign-in is not configured on this service (set ISLET_OIDC_ISSUER, or ISLET_DEV_USER for development)",
        ));
    }
    if let Some(token) = auth::bearer(headers) {
        return bearer_principal(state, token).await;
    }
    let now = OffsetDateTime::now_utc();
    let Some(token) = auth::cookie(headers, auth::session_cookie_name(config.secure_cookies)) else {
        return Err(ApiError::unauthenticated("sign in first (or send a bearer token)"));
    };
    let id_hash = session::token_hash(token);
    let Some(s) = session::live_session(conn, &id_hash, now, config.idle).await? else {
        return Err(ApiError::unauthenticated("your session has ended; sign in again"));
    };
    if now - s.last_seen > TOUCH_EVERY {
        session::touch_session(conn, &id_hash, now).await?;
    }
    let role = s
        .roles
        .iter()
        .filter_map(|r| Role::parse(r))
        .max()
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "forbidden", "your account holds no Islet role"))?;
    Ok(Principal {
        key: s.user_key,
        name: s.user_name,
        role,
        credential: Credential::Session { id_hash, csrf: s.csrf },
    })
}

async fn bearer_principal(state: &State, token: &str) -> Result<Principal, ApiError> {
    let config = &state.auth;
    let refused = |message: String| ApiError { invalid_token: true, ..ApiError::unauthenticated(message) };
    let (SignIn::Oidc(provider), Some(audience)) = (&config.sign_in, &config.api_audience) else {
        return Err(refused("bearer tokens need an identity provider (ISLET_OIDC_ISSUER)".into()));
    };
    let verifier = provider.verifier().await.map_err(|e| {
        tracing::warn!(error = %e, "API: the identity provider is unavailable");
        ApiError::unavailable()
    })?;
    let claims = match verifier.verify(token, audience, None).await {
        Ok(c) => c,
        Err(auth::jwt::TokenError::KeysUnavailable) => return Err(ApiError::unavailable()),
        Err(e) => {
            state.metrics.auth_refusals.get_or_create(&super::metrics::AuthLabels { reason: "token" }).inc();
            return Err(refused(e.to_string()));
        }
    };
    let sub = claims.get("sub").and_then(|v| v.as_str()).unwrap_or_default();
    let values = auth::claim_values(&claims, &config.roles_claim);
    let role = config.roles.role_of(&values).ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the token grants no Islet role (see auth.role_values)")
    })?;
    let name = ["name", "client_id", "azp"].iter().find_map(|c| claims.get(*c).and_then(|v| v.as_str()));
    Ok(Principal {
        key: format!("{}|{sub}", verifier.issuer),
        name: name.map(str::to_owned),
        role,
        credential: Credential::Bearer { token_hash: session::token_hash(token) },
    })
}

/// A form or other state change from a browser session: the session's CSRF
/// token must come with it, and `Origin`, when present, must be ours.
pub fn check_csrf(
    config: &AuthConfig,
    principal: &Principal,
    headers: &HeaderMap,
    form_token: Option<&str>,
) -> Result<(), ApiError> {
    let Credential::Session { csrf, .. } = &principal.credential else {
        return Ok(()); // a bearer token is not sent by a browser on its own
    };
    let forbidden = |m: &str| ApiError::new(StatusCode::FORBIDDEN, "csrf", m.to_owned());
    if let (Some(origin), Some(ours)) =
        (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), config.public_origin.as_deref())
    {
        if origin != ours {
            return Err(forbidden("this request came from another site"));
        }
    }
    let given = form_token.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
    match given {
        Some(t) if auth::same_secret(t.as_bytes(), auth::hex(csrf).as_bytes()) => Ok(()),
        _ => Err(forbidden("the form's security token is missing or stale; reload the page and try again")),
    }
}
