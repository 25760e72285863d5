//! Who is asking: browser sessions (after an OpenID Connect sign-in or the
//! development sign-in) and machine clients with bearer tokens from the
//! same provider; their Islet roles; CSRF for forms.
//!
//! **Invariants.**
//! - Nothing is open by default: with neither OIDC nor a development user
//!   configured, every `/api` call is 401 and sign-in says it is not set up.
//! - Roles are ordered: viewer ⊂ clinician ⊂ admin. A user with none of the
//!   configured role values cannot sign in (403, audited).
//! - Session tokens and OAuth `state` values are random 256-bit secrets,
//!   stored only as SHA-256 hashes; a new session id at every sign-in.
//! - A browser-session request that changes something carries the
//!   session's CSRF token (form field `_csrf` or header `X-CSRF-Token`), and
//!   its `Origin`, when sent, is the service's own.

pub mod jwt;
pub mod oidc;

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use rand::RngCore;
use std::fmt;

/// Islet's roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Clinician,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "clinician" => Some(Role::Clinician),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which values of the provider's roles claim grant which Islet role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap(Vec<(String, Role)>);

impl RoleMap {
    /// `viewer=a,clinician=b,admin=c` (each role may be given several times).
    pub fn parse(text: &str) -> Result<RoleMap, String> {
        let mut pairs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (role, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not ROLE=VALUE (e.g. clinician=oncologist)"))?;
            let role = Role::parse(role.trim())
                .ok_or_else(|| format!("{:?} is not an Islet role (viewer, clinician, admin)", role.trim()))?;
            if value.trim().is_empty() {
                return Err(format!("{part:?} gives no claim value"));
            }
            pairs.push((value.trim().to_owned(), role));
        }
        if pairs.is_empty() {
            return Err("no role is mapped: nobody could sign in".into());
        }
        Ok(RoleMap(pairs))
    }

    /// The highest Islet role the claim's values grant.
    pub fn role_of(&self, values: &[String]) -> Option<Role> {
        self.0.iter().filter(|(v, _)| values.iter().any(|x| x == v)).map(|(_, r)| *r).max()
    }
}

/// The claim's values at a dotted path (`roles`, `realm_access.roles`): a
/// list of strings, or one string.
pub fn claim_values(claims: &serde_json::Value, path: &str) -> Vec<String> {
    let mut at = claims;
    for part in path.split('.') {
        match at.get(part) {
            Some(v) => at = v,
            None => return Vec::new(),
        }
    }
    match at {
        serde_json::Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// The development sign-in's fixed user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevUser {
    pub name: String,
    pub role: Role,
}

impl DevUser {
    /// `NAME[:ROLE]` (role clinician when not given).
    pub fn parse(text: &str) -> Result<DevUser, String> {
        let (name, role) = match text.split_once(':') {
            Some((n, r)) => (n.trim(), Role::parse(r.trim()).ok_or_else(|| format!("{r:?} is not a role"))?),
            None => (text.trim(), Role::Clinician),
        };
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > 64 || !name.chars().all(plain) {
            return Err(format!("{name:?} is not a user name (1–64 of A–Z a–z 0–9 . _ -)"));
        }
        Ok(DevUser { name: name.to_owned(), role })
    }

    pub fn key(&self) -> String {
        format!("dev|{}", self.name)
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session: its stored id hash and CSRF token.
    Session { id_hash: [u8; 32], csrf: Vec<u8> },
    /// A bearer token (its SHA-256, for the audit trail; never the token).
    Bearer { token_hash: [u8; 32] },
}

impl Credential {
    /// What the audit trail records: which session or token, not the secret.
    pub fn audit_text(&self) -> String {
        match self {
            Credential::Session { id_hash, .. } => format!("session:{}", hex(&id_hash[..8])),
            Credential::Bearer { token_hash } => format!("token:{}", hex(&token_hash[..8])),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `{issuer}|{subject}`, `client:{issuer}|{client}` or `dev|{name}`.
    pub key: String,
    pub name: Option<String>,
    pub role: Role,
    pub credential: Credential,
}

impl Principal {
    pub fn may(&self, needed: Role) -> bool {
        self.role >= needed
    }

    /// The roles as the audit trail lists them (the granted role and those it includes).
    pub fn roles(&self) -> Vec<String> {
        [Role::Viewer, Role::Clinician, Role::Admin]
            .into_iter()
            .filter(|r| *r <= self.role)
            .map(|r| r.as_str().to_owned())
            .collect()
    }
}

/// A new random secret, URL-safe (256 bits).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session cookie's name: `__Host-` needs `Secure`, so only over https.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-islet"
    } else {
        "islet"
    }
}

/// `Set-Cookie` for a session (or, with `None`, one that removes it).
pub fn session_cookie(secure: bool, value: Option<&str>, max_age_seconds: u64) -> String {
    let name = session_cookie_name(secure);
    let secure_attr = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure_attr}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure_attr}"),
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The bearer token of `Authorization`, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Compares in time independent of where the values differ.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn roles_map_from_claim_values_and_the_highest_wins() {
        let map = RoleMap::parse("viewer=staff, clinician=oncologist,clinician=nurse, admin=islet-admin").unwrap();
        assert_eq!(map.role_of(&["staff".into()]), Some(Role::Viewer));
        assert_eq!(map.role_of(&["staff".into(), "nurse".into()]), Some(Role::Clinician));
        assert_eq!(map.role_of(&["islet-admin".into(), "staff".into()]), Some(Role::Admin));
        assert_eq!(map.role_of(&["Oncologist".into()]), None, "values are compared exactly");
        assert!(RoleMap::parse("").is_err());
        assert!(RoleMap::parse("doctor=x").is_err());
        assert!(RoleMap::parse("viewer=").is_err());
    }

    #[test]
    fn claims_are_found_at_dotted_paths() {
        let claims = serde_json::json!({"roles": ["a", "b"], "realm_access": {"roles": ["c"]}, "scope": "x y"});
        assert_eq!(claim_values(&claims, "roles"), ["a", "b"]);
        assert_eq!(claim_values(&claims, "realm_access.roles"), ["c"]);
        assert_eq!(claim_values(&claims, "scope"), ["x", "y"]);
        assert!(claim_values(&claims, "groups").is_empty());
    }

    #[test]
    fn dev_users_are_plain_names_with_an_optional_role() {
        assert_eq!(DevUser::parse("demo").unwrap(), DevUser { name: "demo".into(), role: Role::Clinician });
        assert_eq!(DevUser::parse("vic:viewer").unwrap().role, Role::Viewer);
        assert!(DevUser::parse("demo:root").is_err());
        assert!(DevUser::parse("<script>").is_err());
        assert!(DevUser::parse("").is_err());
    }

    #[test]
    fn cookies_and_bearer_tokens_are_read_from_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; islet=tok"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "islet"), Some("tok"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "isl"), None);
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn secure_cookies_use_the_host_prefix() {
        assert!(session_cookie(true, Some("v"), 60).starts_with("__Host-islet=v; Path=/; HttpOnly; SameSite=Lax"));
        assert!(session_cookie(true, Some("v"), 60).ends_with("; Secure"));
        assert!(!session_cookie(false, Some("v"), 60).contains("Secure"));
        assert!(session_cookie(false, None, 0).contains("Max-Age=0"));
    }

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_secret(a.as_bytes(), a.as_bytes()));
        assert!(!same_secret(a.as_bytes(), b.as_bytes()));
    }
}
