//! Sign-in and sign-out: `/auth/login`, `/auth/callback` (the OpenID
//! Connect code flow with PKCE), `/auth/dev` (the development user) and
//! `/auth/logout`. Each success and failure is audited.

use super::access::{self, ApiError, AuditSpec, RequestMeta, SignIn};
use super::auth::{self, Credential, Principal, Role};
use super::State;
use axum::extract::{ConnectInfo, Form, Query, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use islet_store::audit::{AuditAction, AuditOutcome};
use islet_store::session::{self, PendingLogin};
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/dev", post(dev_sign_in))
        .route("/auth/logout", post(logout))
}

/// Where to go after signing in when nothing else was asked.
pub const AFTER_SIGN_IN: &str = "/worklist";
/// Binds a sign-in to the browser that started it (login CSRF).
const LOGIN_COOKIE: &str = "islet_login";

#[derive(serde::Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// Only a path on this service (never `//host` or a scheme): no open redirect.
fn local_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() <= 2048 => p.to_owned(),
        _ => AFTER_SIGN_IN.to_owned(),
    }
}

fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Islet</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>{title}</h1>{body_html}</main></body></html>"
    );
    super::web::html(status, html)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A 303 to `to`, setting `cookies`.
pub(super) fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn login(Extract(state): Extract<Arc<State>>, Query(q): Query<LoginQuery>) -> Response {
    let return_to = local_path(q.return_to.as_deref());
    match &state.auth.sign_in {
        SignIn::Off => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is not configured",
            "<p>This Islet service has no identity provider. An administrator sets <code>ISLET_OIDC_ISSUER</code> \
             (or, for a demonstration on one computer, <code>ISLET_DEV_USER</code>).</p>",
        ),
        SignIn::Dev(user) => page(
            StatusCode::OK,
            "Sign in",
            &format!(
                "<p>Development sign-in: everyone who opens this service on this computer is the same user.</p>\
                 <form method=\"post\" action=\"/auth/dev\"><input type=\"hidden\" name=\"return_to\" value=\"{}\">\
                 <button type=\"submit\">Continue as {} ({})</button></form>",
                escape(&return_to),
                escape(&user.name),
                user.role
            ),
        ),
        SignIn::Oidc(provider) => {
            let start = match provider.start().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "sign-in: the identity provider is unavailable");
                    return page(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The identity provider cannot be reached",
                        "<p>Try again in a minute. If this persists, tell the team that runs Islet.</p>",
                    );
                }
            };
            let pending = PendingLogin { pkce_verifier: start.pkce_verifier, nonce: start.nonce, return_to };
            let stored = async {
                let mut conn = state.store.pool().acquire().await?;
                session::insert_pending(
                    &mut conn,
                    &session::token_hash(&start.state),
                    &pending,
                    OffsetDateTime::now_utc(),
                )
                .await
            };
            if let Err(e) = stored.await {
                tracing::error!(error = %e, "sign-in: the database is unavailable");
                return ApiError::unavailable().into_response();
            }
            let secure = if state.auth.secure_cookies { "; Secure" } else { "" };
            let cookie = format!(
                "{LOGIN_COOKIE}={}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                start.state,
                session::PENDING_LIFETIME.whole_seconds()
            );
            redirect(&start.authorize_url, &[cookie])
        }
    }
}

#[derive(serde::Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let meta = RequestMeta::of(&headers, Some(peer));
    match finish_sign_in(&state, &headers, &q).await {
        Ok((principal, return_to)) => match start_session(&state, &principal, &meta).await {
            Ok(cookie) => redirect(&return_to, &[cookie, clear_login_cookie(&state)]),
            Err(e) => e.into_response(),
        },
        Err(failure) => {
            state.metrics.auth_refusals.get_or_create(&super::metrics::AuthLabels { reason: "login" }).inc();
            let spec = AuditSpec {
                action: AuditAction::Execute,
                subtype: "login-failed",
                patient: None,
                entity: Some("/auth/callback".into()),
                detail: Some(serde_json::json!({"reason": failure.reason}).to_string()),
            };
            let mut e = access::entry(None, &meta, spec, AuditOutcome::SeriousFailure);
            if let Some(key) = &failure.who {
                e.actor = key.clone();
            }
            if let Err(err) = access::audit_alone(&state, &e).await {
                return err.into_response();
            }
            page(
                failure.status,
                "Sign-in failed",
                &format!("<p>{}</p><p><a href=\"/auth/login\">Try again</a></p>", escape(&failure.message)),
            )
        }
    }
}

struct Failure {
    status: StatusCode,
    reason: &'static str,
    message: String,
    /// The user, when the provider vouched for them but Islet refused.
    who: Option<String>,
}

fn failure(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Failure {
    Failure { status, reason, message: message.into(), who: None }
}

async fn finish_sign_in(state: &State, headers: &HeaderMap, q: &CallbackQuery) -> Result<(Principal, String), Failure> {
    let SignIn::Oidc(provider) = &state.auth.sign_in else {
        return Err(failure(StatusCode::NOT_FOUND, "not-configured", "this service does not use an identity provider"));
    };
    if let Some(error) = &q.error {
        let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(failure(StatusCode::FORBIDDEN, "provider-error", format!("the identity provider said: {error}")));
    }
    let (Some(code), Some(st)) = (&q.code, &q.state) else {
        return Err(failure(StatusCode::BAD_REQUEST, "incomplete", "the sign-in response is incomplete"));
    };
    // The state must be the one this browser was sent with (its cookie).
    if !auth::cookie(headers, LOGIN_COOKIE).is_some_and(|c| auth::same_secret(c.as_bytes(), st.as_bytes())) {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            "state",
            "this sign-in was not started in this browser; start again",
        ));
    }
    let pending = async {
        let mut conn = state.store.pool().acquire().await?;
        session::take_pending(&mut conn, &session::token_hash(st), OffsetDateTime::now_utc()).await
    };
    let pending = match pending.await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(failure(StatusCode::BAD_REQUEST, "state", "this sign-in has expired or was used; start again"))
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in: the database is unavailable");
            return Err(failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; try again",
            ));
        }
    };
    let claims = provider.finish(code, &pending.pkce_verifier, &pending.nonce).await.map_err(|e| {
        tracing::warn!(error = %e, "sign-in refused");
        failure(StatusCode::FORBIDDEN, "token", e.to_string())
    })?;
    let sub = claims.get("sub").and_then(|v| v.as_str()).unwrap_or_default();
    let key = format!("{}|{sub}", provider.issuer);
    let values = auth::claim_values(&claims, &state.auth.roles_claim);
    let Some(role) = state.auth.roles.role_of(&values) else {
        return Err(Failure {
            who: Some(key),
            ..failure(StatusCode::FORBIDDEN, "no-role", "your account holds no Islet role; ask for access")
        });
    };
    let name = claims.get("name").or_else(|| claims.get("preferred_username")).and_then(|v| v.as_str());
    let principal = Principal {
        key,
        name: name.map(str::to_owned),
        role,
        credential: Credential::Session { id_hash: [0; 32], csrf: Vec::new() },
    };
    Ok((principal, pending.return_to))
}

fn clear_login_cookie(state: &State) -> String {
    let secure = if state.auth.secure_cookies { "; Secure" } else { "" };
    format!("{LOGIN_COOKIE}=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// Records the user, opens a session under a new random id, audits the
/// sign-in; returns the session cookie.
async fn start_session(state: &State, who: &Principal, meta: &RequestMeta) -> Result<String, ApiError> {
    let now = OffsetDateTime::now_utc();
    let token = auth::random_token();
    let id_hash = session::token_hash(&token);
    let csrf = session::token_hash(&auth::random_token()).to_vec();
    let roles = vec![who.role.as_str().to_owned()];
    let mut tx = state.store.pool().begin().await?;
    session::upsert_user(&mut tx, &who.key, who.name.as_deref(), &roles, now).await?;
    session::create_session(&mut tx, &id_hash, &who.key, &roles, &csrf, now, now + state.auth.max).await?;
    let principal = Principal { credential: Credential::Session { id_hash, csrf }, ..who.clone() };
    let spec = AuditSpec { action: AuditAction::Execute, subtype: "login", patient: None, entity: None, detail: None };
    let e = access::entry(Some(&principal), meta, spec, AuditOutcome::Success);
    islet_store::audit::append(&mut tx, &e, now, access::lane_of(&e)).await?;
    tx.commit().await?;
    Ok(auth::session_cookie(state.auth.secure_cookies, Some(&token), state.auth.max.whole_seconds() as u64))
}

async fn dev_sign_in(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // The sign-in button's form, or nothing at all (`curl -X POST`).
    let return_to = url::form_urlencoded::parse(&body).find(|(k, _)| k == "return_to").map(|(_, v)| v.into_owned());
    let SignIn::Dev(user) = &state.auth.sign_in else {
        return ApiError::not_found("the development sign-in is not enabled").into_response();
    };
    // Settings refuse a development user off loopback; a cross-site form
    // must not sign a visitor's browser in either.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if origin != format!("http://{host}") && origin != format!("https://{host}") {
            return ApiError::new(StatusCode::FORBIDDEN, "csrf", "this request came from another site").into_response();
        }
    }
    let principal = Principal {
        key: user.key(),
        name: Some(user.name.clone()),
        role: user.role,
        credential: Credential::Session { id_hash: [0; 32], csrf: Vec::new() },
    };
    match start_session(&state, &principal, &RequestMeta::of(&headers, Some(peer))).await {
        Ok(cookie) => redirect(&local_path(return_to.as_deref()), &[cookie]),
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

async fn logout(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let result = async {
        let mut ctx = access::Ctx::begin(&state, &headers, Some(peer), Role::Viewer, || AuditSpec {
            action: AuditAction::Execute,
            subtype: "logout",
            patient: None,
            entity: None,
            detail: None,
        })
        .await?;
        access::check_csrf(&state.auth, &ctx.principal, &headers, form.csrf.as_deref())?;
        if let Credential::Session { id_hash, .. } = &ctx.principal.credential {
            session::delete_session(&mut ctx.tx, id_hash).await?;
        }
        ctx.finish(AuditSpec {
            action: AuditAction::Execute,
            subtype: "logout",
            patient: None,
            entity: None,
            detail: None,
        })
        .await
    };
    match result.await {
        Ok(_) => redirect("/auth/login", &[auth::session_cookie(state.auth.secure_cookies, None, 0)]),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/api/alerts?state=due")), "/api/alerts?state=due");
        assert_eq!(local_path(Some("//evil.example/")), AFTER_SIGN_IN);
        assert_eq!(local_path(Some("https://evil.example/")), AFTER_SIGN_IN);
        assert_eq!(local_path(Some("/\\evil.example")), AFTER_SIGN_IN);
        assert_eq!(local_path(None), AFTER_SIGN_IN);
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
    }
}
