//! A small OpenID Connect provider for tests, on loopback: discovery, JWKS,
//! an `/authorize` that signs in whoever [`TestIssuer::next_user`] names and
//! redirects at once, and a `/token` endpoint that checks the client's
//! secret, the redirect URI and the PKCE verifier (RFC 7636, S256) before
//! issuing an ES256 ID token. [`TestIssuer::mint`] signs any claims with the
//! same key, for bearer-token tests.
//!
//! The key in `tests/fixtures/test-issuer-p256.pem` is for tests only.

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "islet";
pub const CLIENT_SECRET: &str = "islet-test-secret";
pub const KID: &str = "test-key-1";
const KEY_PEM: &[u8] = include_bytes!("../fixtures/test-issuer-p256.pem");
const JWK: &str = include_str!("../fixtures/test-issuer-p256.jwk.json");

/// Who the next `/authorize` signs in.
#[derive(Clone, Debug)]
pub struct User {
    pub sub: String,
    pub name: String,
    pub roles: Vec<String>,
}

struct Grant {
    user: User,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Inner {
    next_user: Option<User>,
    codes: HashMap<String, Grant>,
    /// Set by a test: the next ID token carries this nonce instead.
    wrong_nonce: bool,
}

pub struct TestIssuer {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn jwk() -> Value {
    serde_json::from_str(JWK).unwrap()
}

impl TestIssuer {
    pub async fn start() -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = (issuer.clone(), inner.clone());
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(|| async { Json(json!({ "keys": [jwk()] })) }))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestIssuer { issuer, inner, task }
    }

    pub fn next_user(&self, sub: &str, roles: &[&str]) {
        self.inner.lock().unwrap().next_user = Some(User {
            sub: sub.into(),
            name: format!("Dr {sub}"),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        });
    }

    pub fn send_wrong_nonce(&self) {
        self.inner.lock().unwrap().wrong_nonce = true;
    }

    /// Signs `claims` with the issuer's key (ES256, its `kid`).
    pub fn mint(&self, claims: &Value) -> String {
        sign(claims, Algorithm::ES256, Some(KID))
    }

    /// Standard claims for a token of this issuer, valid now for `aud`.
    pub fn claims(&self, sub: &str, aud: &str, roles: &[&str]) -> Value {
        let now = jsonwebtoken::get_current_timestamp();
        json!({"iss": self.issuer, "sub": sub, "aud": aud, "iat": now, "exp": now + 300, "roles": roles})
    }
}

pub fn sign(claims: &Value, alg: Algorithm, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let key = EncodingKey::from_ec_pem(KEY_PEM).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// A token with `alg: none` and no signature (which must never be accepted).
pub fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": KID})), b64(claims))
}

/// An HS256 token keyed with the public key's text: the algorithm-confusion attack.
pub fn hmac_with_public_key(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KID.into());
    let key = EncodingKey::from_secret(JWK.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

type St = (String, Arc<Mutex<Inner>>);

async fn discovery(State((issuer, _)): State<St>) -> Json<Value> {
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn authorize(State((_, inner)): State<St>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" || get("client_id") != CLIENT_ID || get("code_challenge_method") != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let mut inner = inner.lock().unwrap();
    let Some(user) = inner.next_user.clone() else {
        return (StatusCode::FORBIDDEN, "no test user set").into_response();
    };
    let code = format!("code-{}", inner.codes.len() + 1);
    let redirect_uri = get("redirect_uri");
    inner.codes.insert(
        code.clone(),
        Grant { user, nonce: get("nonce"), challenge: get("code_challenge"), redirect_uri: redirect_uri.clone() },
    );
    let to =
        reqwest::Url::parse_with_params(&redirect_uri, [("code", code.as_str()), ("state", &get("state"))]).unwrap();
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

async fn token(
    State((issuer, inner)): State<St>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
    }
    let mut inner = inner.lock().unwrap();
    let Some(grant) = inner.codes.remove(f.get("code").map(String::as_str).unwrap_or("")) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge || f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant"}))).into_response();
    }
    let nonce = if std::mem::take(&mut inner.wrong_nonce) { "not-the-nonce".to_owned() } else { grant.nonce };
    let now = jsonwebtoken::get_current_timestamp();
    let id_token = sign(
        &json!({"iss": issuer, "sub": grant.user.sub, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                "nonce": nonce, "name": grant.user.name, "roles": grant.user.roles}),
        Algorithm::ES256,
        Some(KID),
    );
    Json(json!({"access_token": "opaque", "token_type": "Bearer", "id_token": id_token, "expires_in": 300}))
        .into_response()
}
