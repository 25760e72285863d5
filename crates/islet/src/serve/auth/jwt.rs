//! Signed tokens from an identity provider: ID tokens at sign-in and bearer
//! access tokens on the API, checked against the provider's published keys
//! (JWKS). One verifier, so the rules are the same everywhere: an
//! asymmetric algorithm from a fixed list (never `none`, never HMAC, which
//! would let a public key be used as a shared secret), the key named by
//! `kid` and of the algorithm's kind, `iss`, `aud`, `exp` and `nbf` checked
//! with 60 s of leeway.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The algorithms accepted (RFC 7518 asymmetric, as CDS Hooks 2.0 lists them).
pub const ACCEPTED: &[Algorithm] = &[Algorithm::RS256, Algorithm::RS384, Algorithm::ES256, Algorithm::ES384];

/// Why a token was refused (said in the 401's body; never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm {0} is not accepted (RS256, RS384, ES256, ES384)")]
    Algorithm(String),
    #[error("the token names no key (kid), or a key the issuer does not publish")]
    UnknownKey,
    #[error("the issuer's keys could not be fetched")]
    KeysUnavailable,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is meant for another audience")]
    Audience,
    #[error("the token lacks a required claim ({0})")]
    Missing(&'static str),
    #[error("the token does not belong to this sign-in (nonce)")]
    Nonce,
}

/// Where the keys come from.
pub enum KeySource {
    /// Fetched from the provider's `jwks_uri` (cached; refetched for an unknown `kid`).
    Url { url: String, http: reqwest::Client },
    /// Given (tests, or an issuer configured with its keys inline).
    Fixed(JwkSet),
}

struct Cache {
    keys: HashMap<String, (DecodingKey, Vec<Algorithm>)>,
    fetched: Option<Instant>,
}

/// Verifies tokens of one issuer.
pub struct Verifier {
    pub issuer: String,
    source: KeySource,
    cache: Mutex<Cache>,
}

/// Keys are kept this long, then fetched again at the next token.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the keys (a rotation), at most this often.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
const LEEWAY_SECONDS: u64 = 60;

impl Verifier {
    pub fn new(issuer: String, source: KeySource) -> Verifier {
        Verifier { issuer, source, cache: Mutex::new(Cache { keys: HashMap::new(), fetched: None }) }
    }

    /// Checks `token` for `audience` and returns its claims. `nonce`, when
    /// given, must equal the token's (ID tokens at sign-in).
    pub async fn verify(&self, token: &str, audience: &str, nonce: Option<&str>) -> Result<Value, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => TokenError::Algorithm("(unknown or none)".into()),
            _ => TokenError::Malformed,
        })?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(&kid, header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => TokenError::Expired,
                K::ImmatureSignature => TokenError::NotYetValid,
                K::InvalidIssuer => TokenError::Issuer,
                K::InvalidAudience => TokenError::Audience,
                K::MissingRequiredClaim(c) => TokenError::Missing(match c.as_str() {
                    "exp" => "exp",
                    "iss" => "iss",
                    "aud" => "aud",
                    _ => "sub",
                }),
                K::InvalidSignature | K::InvalidEcdsaKey | K::InvalidRsaKey(_) | K::InvalidAlgorithm => {
                    TokenError::Signature
                }
                _ => TokenError::Malformed,
            }
        })?;
        if let Some(expected) = nonce {
            if data.claims.get("nonce").and_then(Value::as_str) != Some(expected) {
                return Err(TokenError::Nonce);
            }
        }
        Ok(data.claims)
    }

    /// The key `kid` for `alg`, fetching the key set when it is stale or
    /// does not know `kid` (not more than once a minute).
    async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, TokenError> {
        let (known, stale, may_refetch) = {
            let cache = self.cache.lock().expect("not poisoned");
            let age = cache.fetched.map(|t| t.elapsed());
            (
                cache.keys.contains_key(kid),
                age.is_none_or(|a| a > KEYS_TTL),
                age.is_none_or(|a| a > REFETCH_AT_MOST_EVERY),
            )
        };
        if stale || (!known && may_refetch) {
            match self.fetch().await {
                Ok(keys) => {
                    let mut cache = self.cache.lock().expect("not poisoned");
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                // A failed refresh keeps the keys already known.
                Err(e) if !known => return Err(e),
                Err(_) => {}
            }
        }
        let cache = self.cache.lock().expect("not poisoned");
        let (key, algs) = cache.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        if !algs.contains(&alg) {
            return Err(TokenError::Algorithm(format!("{alg:?} with a key of another kind")));
        }
        Ok(key.clone())
    }

    async fn fetch(&self) -> Result<HashMap<String, (DecodingKey, Vec<Algorithm>)>, TokenError> {
        let set = match &self.source {
            KeySource::Fixed(set) => set.clone(),
            KeySource::Url { url, http } => {
                let response = http.get(url).send().await.map_err(|e| {
                    tracing::warn!(error = %e, "fetching the identity provider's keys failed");
                    TokenError::KeysUnavailable
                })?;
                if !response.status().is_success() {
                    tracing::warn!(status = %response.status(), "the identity provider's key set answered an error");
                    return Err(TokenError::KeysUnavailable);
                }
                response.json::<JwkSet>().await.map_err(|e| {
                    tracing::warn!(error = %e, "the identity provider's key set is not a JWKS");
                    TokenError::KeysUnavailable
                })?
            }
        };
        Ok(usable_keys(&set))
    }
}

/// The signing keys of a set that Islet can use, by `kid`, each with the
/// algorithms its kind allows (narrowed to its `alg` when it names one).
pub fn usable_keys(set: &JwkSet) -> HashMap<String, (DecodingKey, Vec<Algorithm>)> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let algs = algorithms_of(jwk);
            if algs.is_empty() {
                return None;
            }
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, (key, algs)))
        })
        .collect()
}

fn algorithms_of(jwk: &Jwk) -> Vec<Algorithm> {
    let by_kind: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![Algorithm::RS256, Algorithm::RS384],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => vec![],
        },
        _ => vec![],
    };
    match jwk.common.key_algorithm.map(|a| format!("{a:?}")) {
        Some(named) => by_kind.into_iter().filter(|a| format!("{a:?}") == named).collect(),
        None => by_kind,
    }
}
