//! The hospital's OpenID Connect provider: discovery, the authorization
//! code flow with PKCE (RFC 7636) for browsers, and the verifier for the ID
//! tokens it returns and the access tokens machine clients send.
//!
//! Discovery is lazy and retried: the service starts (and ingests) while the
//! provider is unreachable; sign-in answers 503 meanwhile.

use super::jwt::{KeySource, TokenError, Verifier};
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// What the provider's discovery document says (the parts Islet uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider cannot be reached or answered an error: {0}")]
    Unavailable(String),
    #[error("the identity provider's discovery document names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("the identity provider refused the code: {0}")]
    Exchange(String),
    #[error("the ID token was refused: {0}")]
    Token(#[from] TokenError),
}

pub struct Provider {
    pub issuer: String,
    pub client_id: String,
    client_secret: Option<String>,
    pub redirect_uri: String,
    pub scopes: String,
    http: reqwest::Client,
    discovery: OnceCell<Discovery>,
    verifier: OnceCell<Verifier>,
}

/// A started sign-in: where to send the browser, and what to keep.
pub struct Start {
    pub authorize_url: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

impl Provider {
    pub fn new(
        issuer: String,
        client_id: String,
        client_secret: Option<String>,
        redirect_uri: String,
        scopes: String,
        http: reqwest::Client,
    ) -> Provider {
        Provider {
            issuer,
            client_id,
            client_secret,
            redirect_uri,
            scopes,
            http,
            discovery: OnceCell::new(),
            verifier: OnceCell::new(),
        }
    }

    /// The discovery document, fetched once it can be (a failure is retried
    /// at the next call).
    pub async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let response = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| OidcError::Unavailable(e.without_url().to_string()))?;
                if !response.status().is_success() {
                    return Err(OidcError::Unavailable(format!("discovery answered {}", response.status())));
                }
                let doc: Discovery =
                    response.json().await.map_err(|e| OidcError::Unavailable(format!("discovery document: {e}")))?;
                // OIDC Discovery §4.3: the document's issuer is exactly the configured one.
                if doc.issuer.trim_end_matches('/') != self.issuer {
                    return Err(OidcError::IssuerMismatch { expected: self.issuer.clone(), found: doc.issuer });
                }
                Ok(doc)
            })
            .await
    }

    /// The verifier of this provider's tokens (its JWKS from discovery).
    pub async fn verifier(&self) -> Result<&Verifier, OidcError> {
        let jwks_uri = self.discovery().await?.jwks_uri.clone();
        Ok(self
            .verifier
            .get_or_init(|| async {
                Verifier::new(self.issuer.clone(), KeySource::Url { url: jwks_uri, http: self.http.clone() })
            })
            .await)
    }

    /// A new sign-in: fresh `state`, PKCE verifier and nonce.
    pub async fn start(&self) -> Result<Start, OidcError> {
        let discovery = self.discovery().await?;
        let (state, pkce_verifier, nonce) = (super::random_token(), super::random_token(), super::random_token());
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(pkce_verifier.as_bytes()));
        let url = reqwest::Url::parse_with_params(
            &discovery.authorization_endpoint,
            [
                ("response_type", "code"),
                ("client_id", &self.client_id),
                ("redirect_uri", &self.redirect_uri),
                ("scope", &self.scopes),
                ("state", &state),
                ("nonce", &nonce),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .map_err(|e| OidcError::Unavailable(format!("authorization endpoint: {e}")))?;
        Ok(Start { authorize_url: url.into(), state, pkce_verifier, nonce })
    }

    /// Exchanges the callback's code for tokens and returns the verified ID
    /// token's claims.
    pub async fn finish(&self, code: &str, pkce_verifier: &str, nonce: &str) -> Result<serde_json::Value, OidcError> {
        let discovery = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", pkce_verifier),
        ];
        let mut request = self.http.post(&discovery.token_endpoint);
        match &self.client_secret {
            // RFC 6749 §2.3.1: client_secret_basic, each part form-encoded.
            Some(secret) => {
                let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let (id, secret) = (enc(&self.client_id), enc(secret));
                request = request.basic_auth(id, Some(secret));
            }
            None => form.push(("client_id", &self.client_id)),
        }
        let response =
            request.form(&form).send().await.map_err(|e| OidcError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            let error = body.get("error").and_then(|e| e.as_str()).unwrap_or("no error code");
            return Err(OidcError::Exchange(format!("{status}: {error}")));
        }
        let id_token = body
            .get("id_token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| OidcError::Exchange("the token response has no id_token".into()))?;
        let verifier = self.verifier().await?;
        Ok(verifier.verify(id_token, &self.client_id, Some(nonce)).await?)
    }
}
