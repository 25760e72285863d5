//! One settings type for every command and the service: a TOML file
//! (`--config FILE` or `ISLET_CONFIG`), then `ISLET_*` environment
//! variables over it, then command-line flags over both. Every value is
//! validated once, here, with an error naming where it came from.
//!
//! The file (every key optional; `deploy/islet.example.toml` shows them all):
//! ```toml
//! [database]
//! url = "postgres://islet@db:5432/islet"
//! pool_size = 8
//!
//! [guideline]
//! profile = "enets"            # or "nccn"
//! [guideline.thresholds]       # the spec's *project default* thresholds
//! growth_min_interval_months = 6
//!
//! [ingest]
//! mapping = "/etc/islet/site-mapping.toml"
//! batch_size = 1000
//! max_batch_latency_ms = 100
//!
//! [scheduler]
//! interval_seconds = 5
//! batch = 500
//!
//! [http]
//! addr = "127.0.0.1:8080"
//!
//! [auth]                                  # the dashboard and API: one of these two
//! oidc_issuer = "https://login.example.org/realms/hospital"
//! oidc_client_id = "islet"
//! # dev_user = "demo:clinician"           # development only, loopback only
//!
//! [kafka]
//! brokers = "kafka-1:9092,kafka-2:9092"   # empty: no Kafka, HTTP ingest only
//! input_topics = ["fhir.events"]
//! concurrent_batches = 2                  # batch transactions at once
//! [kafka.properties]                      # librdkafka, passed through
//! "security.protocol" = "SASL_SSL"
//! ```

use islet_guideline::{Config, Instant, Profile};
use islet_render::AlertFormat;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    /// Profile and *project default* thresholds (spec/guideline.md).
    pub guideline: Config,
    pub ingest: IngestSettings,
    pub scheduler: SchedulerSettings,
    pub http: HttpSettings,
    pub kafka: KafkaSettings,
    pub auth: AuthSettings,
    /// A fixed "now" instead of the system clock (tests, what-if runs).
    #[serde(with = "time::serde::rfc3339::option")]
    pub clock: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Option<String>,
    pub pool_size: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { url: None, pool_size: 8 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Site mapping file: local codes → Islet facts.
    pub mapping: Option<PathBuf>,
    /// Messages per transaction.
    pub batch_size: usize,
    /// The longest a message waits for its batch to fill (the service).
    pub max_batch_latency_ms: u64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings { mapping: None, batch_size: 1000, max_batch_latency_ms: 100 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSettings {
    pub interval_seconds: u64,
    /// Patients per transaction.
    pub batch: usize,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings { interval_seconds: 5, batch: 500 }
    }
}

/// The service's HTTP listener: ingest, health, metrics.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    /// The largest request body accepted (`413` above it).
    pub max_body_bytes: usize,
    /// A shared secret the ingest endpoints require as `Authorization:
    /// Bearer …`. Required when `addr` is not a loopback address: a service
    /// that writes clinical state never listens unauthenticated on a network.
    pub ingest_token: Option<String>,
    /// The base URL users and the EHR reach the service at (behind a proxy
    /// it differs from `addr`): the OIDC redirect URI and the API's token
    /// audience derive from it. `https` makes the session cookie `Secure`.
    pub public_url: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 16 * 1024 * 1024,
            ingest_token: None,
            public_url: None,
        }
    }
}

/// Sign-in for the dashboard and the API (`/api`): the hospital's OpenID
/// Connect provider, or — for a demo on one machine — a fixed local user.
/// Neither: every page and API call is refused (never open by default).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// The provider's issuer URL (its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`).
    pub oidc_issuer: Option<String>,
    pub oidc_client_id: Option<String>,
    /// Unset: a public client (PKCE alone).
    pub oidc_client_secret: Option<String>,
    /// The scopes asked for at sign-in (space-separated; `openid` first).
    /// Some providers put the roles claim in the ID token only for a scope
    /// of its own (e.g. `openid profile roles`).
    pub oidc_scopes: String,
    /// The claim holding the user's roles; a dotted path reaches into
    /// objects (Keycloak: `realm_access.roles`).
    pub roles_claim: String,
    /// The claim values that grant Islet's roles: `viewer=…,clinician=…,admin=…`.
    pub role_values: String,
    /// The `aud` machine clients' bearer tokens must carry (default
    /// `{public_url}/api`).
    pub api_audience: Option<String>,
    /// `NAME[:ROLE]`: everyone who opens the dashboard is this user
    /// (development and demos; refused unless `http.addr` is loopback).
    pub dev_user: Option<String>,
    /// A session ends after this long without a request …
    pub session_idle_seconds: u64,
    /// … and after this long in any case.
    pub session_max_seconds: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "openid profile".into(),
            roles_claim: "roles".into(),
            role_values: "viewer=viewer,clinician=clinician,admin=admin".into(),
            api_audience: None,
            dev_user: None,
            session_idle_seconds: 900,
            session_max_seconds: 43_200,
        }
    }
}

impl AuthSettings {
    pub fn oidc_enabled(&self) -> bool {
        self.oidc_issuer.is_some()
    }
}

/// Kafka (contract "The service" → "Kafka"). No brokers: no Kafka at all.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// `host:port[,host:port…]`; empty: HTTP ingest only.
    pub brokers: String,
    pub input_topics: Vec<String>,
    pub group_id: String,
    pub dead_letter_topic: String,
    pub alert_topic: String,
    /// `fhir` (the FHIR resource of each alert) or `json` (the alert JSON).
    #[serde(deserialize_with = "parsed")]
    pub alert_format: AlertFormat,
    /// How many batch transactions run at once (the assigned partitions are
    /// split between them; each needs a database connection).
    pub concurrent_batches: usize,
    /// librdkafka properties passed through to the consumer and producers
    /// (SASL, TLS, timeouts). Islet's own choices (manual commits, the
    /// idempotent producer) cannot be overridden here.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: String::new(),
            input_topics: vec!["fhir.events".into()],
            group_id: "islet".into(),
            dead_letter_topic: "islet.dead-letter".into(),
            alert_topic: "islet.alerts".into(),
            alert_format: AlertFormat::Fhir,
            concurrent_batches: 2,
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaSettings {
    /// Is Kafka configured at all?
    pub fn enabled(&self) -> bool {
        !self.brokers.trim().is_empty()
    }
}

/// A value read through its `FromStr` (one parser for the file and the environment).
fn parsed<'de, D: serde::Deserializer<'de>, T: std::str::FromStr>(d: D) -> Result<T, D::Error>
where
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// Librdkafka properties Islet sets itself: overriding them would break
/// effectively-once (positions live in PostgreSQL) or the relays' guarantees.
pub const RESERVED_KAFKA_PROPERTIES: &[&str] = &[
    "group.id",
    "bootstrap.servers",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "acks",
    "transactional.id",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting {setting} (from {origin}): {problem}")]
pub struct SettingsError {
    /// The key, e.g. `ingest.batch_size`.
    pub setting: String,
    /// `ISLET_BATCH_SIZE`, the file's path, or `--batch-size`.
    pub origin: String,
    pub problem: String,
}

/// Each environment variable and the setting it sets.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("ISLET_DATABASE_URL", "database.url"),
    ("ISLET_DATABASE_POOL_SIZE", "database.pool_size"),
    ("ISLET_PROFILE", "guideline.profile"),
    ("ISLET_MAPPING", "ingest.mapping"),
    ("ISLET_BATCH_SIZE", "ingest.batch_size"),
    ("ISLET_MAX_BATCH_LATENCY_MS", "ingest.max_batch_latency_ms"),
    ("ISLET_SCHEDULER_INTERVAL_SECONDS", "scheduler.interval_seconds"),
    ("ISLET_SCHEDULER_BATCH", "scheduler.batch"),
    ("ISLET_CLOCK", "clock"),
    ("ISLET_HTTP_ADDR", "http.addr"),
    ("ISLET_HTTP_MAX_BODY_BYTES", "http.max_body_bytes"),
    ("ISLET_INGEST_TOKEN", "http.ingest_token"),
    ("ISLET_KAFKA_BROKERS", "kafka.brokers"),
    ("ISLET_INPUT_TOPICS", "kafka.input_topics"),
    ("ISLET_GROUP_ID", "kafka.group_id"),
    ("ISLET_DEAD_LETTER_TOPIC", "kafka.dead_letter_topic"),
    ("ISLET_ALERT_TOPIC", "kafka.alert_topic"),
    ("ISLET_ALERT_FORMAT", "kafka.alert_format"),
    ("ISLET_KAFKA_CONCURRENT_BATCHES", "kafka.concurrent_batches"),
    ("ISLET_PUBLIC_URL", "http.public_url"),
    ("ISLET_OIDC_ISSUER", "auth.oidc_issuer"),
    ("ISLET_OIDC_CLIENT_ID", "auth.oidc_client_id"),
    ("ISLET_OIDC_CLIENT_SECRET", "auth.oidc_client_secret"),
    ("ISLET_OIDC_SCOPES", "auth.oidc_scopes"),
    ("ISLET_OIDC_ROLES_CLAIM", "auth.roles_claim"),
    ("ISLET_OIDC_ROLE_VALUES", "auth.role_values"),
    ("ISLET_API_AUDIENCE", "auth.api_audience"),
    ("ISLET_DEV_USER", "auth.dev_user"),
    ("ISLET_SESSION_IDLE_SECONDS", "auth.session_idle_seconds"),
    ("ISLET_SESSION_MAX_SECONDS", "auth.session_max_seconds"),
];

/// Limits on the values (a batch is one transaction held in memory).
pub const BATCH_SIZE_RANGE: std::ops::RangeInclusive<usize> = 1..=islet_engine::ingest::MAX_BATCH_MESSAGES;
const POOL_SIZE_RANGE: std::ops::RangeInclusive<u32> = 1..=200;
const SCHEDULER_BATCH_RANGE: std::ops::RangeInclusive<usize> = 1..=100_000;
const MAX_BODY_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024 * 1024;
const CONCURRENT_BATCHES_RANGE: std::ops::RangeInclusive<usize> = 1..=32;
const SESSION_SECONDS_RANGE: std::ops::RangeInclusive<u64> = 1..=7 * 86_400;
/// Connections the service needs besides the batches in flight: the two
/// relays (each holds one for its lock), the scheduler, HTTP ingest.
const POOL_BESIDE_BATCHES: usize = 4;

impl Settings {
    /// The file (when given), then the environment (`env` looks a variable up).
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let mut s = match file {
            None => Settings::default(),
            Some(path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| SettingsError {
                    setting: "--config".into(),
                    origin: origin.clone(),
                    problem: format!("cannot read it: {e}"),
                })?;
                toml::from_str(&text).map_err(|e| SettingsError {
                    setting: "(file)".into(),
                    origin: origin.clone(),
                    problem: e.message().to_owned(),
                })?
            }
        };
        for (var, setting) in ENVIRONMENT {
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                s.set(setting, &value).map_err(|problem| SettingsError {
                    setting: (*setting).into(),
                    origin: (*var).into(),
                    problem,
                })?;
            }
        }
        s.validate(file.map_or("defaults".into(), |p| p.display().to_string()))?;
        Ok(s)
    }

    /// The process environment.
    pub fn from_env(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Settings::load(file, &|k| std::env::var(k).ok())
    }

    /// Sets one setting from text (an environment variable or a flag).
    pub fn set(&mut self, setting: &str, value: &str) -> Result<(), String> {
        match setting {
            "database.url" => self.database.url = Some(value.to_owned()),
            "database.pool_size" => self.database.pool_size = number(value, POOL_SIZE_RANGE)?,
            "guideline.profile" => self.guideline.profile = value.parse::<Profile>()?,
            "ingest.mapping" => self.ingest.mapping = Some(PathBuf::from(value)),
            "ingest.batch_size" => self.ingest.batch_size = number(value, BATCH_SIZE_RANGE)?,
            "ingest.max_batch_latency_ms" => self.ingest.max_batch_latency_ms = number(value, 0..=60_000)?,
            "scheduler.interval_seconds" => self.scheduler.interval_seconds = number(value, 1..=86_400)?,
            "scheduler.batch" => self.scheduler.batch = number(value, SCHEDULER_BATCH_RANGE)?,
            "clock" => self.clock = Some(parse_instant(value)?),
            "http.addr" => {
                self.http.addr = value.trim().parse().map_err(|_| format!("{value:?} is not a host:port address"))?
            }
            "http.max_body_bytes" => self.http.max_body_bytes = number(value, MAX_BODY_RANGE)?,
            "http.ingest_token" => self.http.ingest_token = Some(value.to_owned()),
            "kafka.brokers" => self.kafka.brokers = value.trim().to_owned(),
            "kafka.input_topics" => {
                self.kafka.input_topics =
                    value.split(',').map(str::trim).filter(|t| !t.is_empty()).map(Into::into).collect()
            }
            "kafka.group_id" => self.kafka.group_id = value.trim().to_owned(),
            "kafka.dead_letter_topic" => self.kafka.dead_letter_topic = value.trim().to_owned(),
            "kafka.alert_topic" => self.kafka.alert_topic = value.trim().to_owned(),
            "kafka.alert_format" => self.kafka.alert_format = value.trim().parse().map_err(|e| format!("{e}"))?,
            "kafka.concurrent_batches" => self.kafka.concurrent_batches = number(value, CONCURRENT_BATCHES_RANGE)?,
            "http.public_url" => self.http.public_url = Some(value.trim().trim_end_matches('/').to_owned()),
            "auth.oidc_issuer" => self.auth.oidc_issuer = Some(value.trim().trim_end_matches('/').to_owned()),
            "auth.oidc_client_id" => self.auth.oidc_client_id = Some(value.trim().to_owned()),
            "auth.oidc_client_secret" => self.auth.oidc_client_secret = Some(value.to_owned()),
            "auth.oidc_scopes" => self.auth.oidc_scopes = value.split_whitespace().collect::<Vec<_>>().join(" "),
            "auth.roles_claim" => self.auth.roles_claim = value.trim().to_owned(),
            "auth.role_values" => self.auth.role_values = value.trim().to_owned(),
            "auth.api_audience" => self.auth.api_audience = Some(value.trim().to_owned()),
            "auth.dev_user" => self.auth.dev_user = Some(value.trim().to_owned()),
            "auth.session_idle_seconds" => self.auth.session_idle_seconds = number(value, SESSION_SECONDS_RANGE)?,
            "auth.session_max_seconds" => self.auth.session_max_seconds = number(value, SESSION_SECONDS_RANGE)?,
            other => return Err(format!("unknown setting {other}")),
        }
        Ok(())
    }

    fn validate(&self, origin: String) -> Result<(), SettingsError> {
        let fail =
            |setting: &str, problem: String| SettingsError { setting: setting.into(), origin: origin.clone(), problem };
        let in_range = |setting: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(fail(setting, format!("{v} is outside {lo}–{hi}")))
            }
        };
        in_range("database.pool_size", self.database.pool_size.into(), 1, 200)?;
        in_range("ingest.batch_size", self.ingest.batch_size as u64, 1, *BATCH_SIZE_RANGE.end() as u64)?;
        in_range("ingest.max_batch_latency_ms", self.ingest.max_batch_latency_ms, 0, 60_000)?;
        in_range("scheduler.interval_seconds", self.scheduler.interval_seconds, 1, 86_400)?;
        in_range("scheduler.batch", self.scheduler.batch as u64, 1, *SCHEDULER_BATCH_RANGE.end() as u64)?;
        let t = &self.guideline.thresholds;
        in_range("guideline.thresholds.growth_min_interval_months", t.growth_min_interval_months.into(), 1, 60)?;
        in_range("guideline.thresholds.ablation_max_lesions", t.ablation_max_lesions.into(), 1, 100)?;
        in_range("guideline.thresholds.embolization_max_ecog", t.embolization_max_ecog.into(), 0, 4)?;
        in_range("guideline.thresholds.followup_satisfaction_days", t.followup_satisfaction_days.into(), 0, 365)?;
        in_range("guideline.thresholds.followup_due_window_days", t.followup_due_window_days.into(), 0, 365)?;
        let (lo, hi) = (*MAX_BODY_RANGE.start() as u64, *MAX_BODY_RANGE.end() as u64);
        in_range("http.max_body_bytes", self.http.max_body_bytes as u64, lo, hi)?;
        if self.http.ingest_token.as_deref().is_some_and(|t| t.len() < MIN_TOKEN_LENGTH) {
            return Err(fail(
                "http.ingest_token",
                format!("shorter than {MIN_TOKEN_LENGTH} characters: too easy to guess"),
            ));
        }
        self.validate_auth().map_err(|(setting, problem)| fail(setting, problem))?;
        let k = &self.kafka;
        let (lo, hi) = (*CONCURRENT_BATCHES_RANGE.start() as u64, *CONCURRENT_BATCHES_RANGE.end() as u64);
        in_range("kafka.concurrent_batches", k.concurrent_batches as u64, lo, hi)?;
        if k.enabled() && (self.database.pool_size as usize) < k.concurrent_batches + POOL_BESIDE_BATCHES {
            return Err(fail(
                "database.pool_size",
                format!(
                    "{} is too small for kafka.concurrent_batches = {}: it needs at least {} (one connection \
                     per batch in flight, plus the two relays, the scheduler and HTTP ingest)",
                    self.database.pool_size,
                    k.concurrent_batches,
                    k.concurrent_batches + POOL_BESIDE_BATCHES
                ),
            ));
        }
        if k.enabled() {
            if k.input_topics.is_empty() {
                return Err(fail("kafka.input_topics", "Kafka brokers are set but no input topic".into()));
            }
            for (setting, name) in [
                ("kafka.group_id", &k.group_id),
                ("kafka.dead_letter_topic", &k.dead_letter_topic),
                ("kafka.alert_topic", &k.alert_topic),
            ]
            .into_iter()
            .chain(k.input_topics.iter().map(|t| ("kafka.input_topics", t)))
            {
                topic_name(name).map_err(|p| fail(setting, p))?;
            }
            if k.input_topics.iter().any(|t| *t == k.alert_topic || *t == k.dead_letter_topic) {
                return Err(fail("kafka.input_topics", "an input topic is also an output topic (a loop)".into()));
            }
            if let Some(key) = k.properties.keys().find(|p| RESERVED_KAFKA_PROPERTIES.contains(&p.as_str())) {
                return Err(fail(
                    "kafka.properties",
                    format!("{key} is set by Islet (or by its own setting) and cannot be overridden"),
                ));
            }
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), (&'static str, String)> {
        let a = &self.auth;
        let (lo, hi) = (*SESSION_SECONDS_RANGE.start(), *SESSION_SECONDS_RANGE.end());
        for (setting, v) in
            [("auth.session_idle_seconds", a.session_idle_seconds), ("auth.session_max_seconds", a.session_max_seconds)]
        {
            if !(lo..=hi).contains(&v) {
                return Err((setting, format!("{v} is outside {lo}–{hi}")));
            }
        }
        if let Some(url) = &self.http.public_url {
            http_url(url).map_err(|p| ("http.public_url", p))?;
        }
        if let Some(user) = &a.dev_user {
            crate::serve::auth::DevUser::parse(user).map_err(|p| ("auth.dev_user", p))?;
            if a.oidc_enabled() {
                return Err(("auth.dev_user", "set together with auth.oidc_issuer: choose one way to sign in".into()));
            }
            if !self.http.addr.ip().is_loopback() {
                return Err((
                    "auth.dev_user",
                    format!(
                        "the development sign-in lets anyone in as {user:?}: refused because http.addr {} is \
                         not a loopback address",
                        self.http.addr
                    ),
                ));
            }
        }
        if let Some(issuer) = &a.oidc_issuer {
            http_url(issuer).map_err(|p| ("auth.oidc_issuer", p))?;
            if a.oidc_client_id.as_deref().is_none_or(str::is_empty) {
                return Err(("auth.oidc_client_id", "auth.oidc_issuer is set but no client id".into()));
            }
            if self.http.public_url.is_none() {
                return Err((
                    "http.public_url",
                    "auth.oidc_issuer is set: the public URL is needed for the sign-in redirect \
                     ({public_url}/auth/callback)"
                        .into(),
                ));
            }
        }
        crate::serve::auth::RoleMap::parse(&a.role_values).map_err(|p| ("auth.role_values", p))?;
        if a.oidc_scopes.split(' ').next() != Some("openid") {
            return Err(("auth.oidc_scopes", format!("{:?} must start with openid", a.oidc_scopes)));
        }
        if a.roles_claim.is_empty() {
            return Err(("auth.roles_claim", "empty".into()));
        }
        Ok(())
    }

    /// The database URL, or an error saying how to give one.
    pub fn database_url(&self) -> Result<&str, String> {
        self.database
            .url
            .as_deref()
            .ok_or_else(|| "no database URL: give --database-url, ISLET_DATABASE_URL or [database] url".into())
    }
}

/// An absolute `http` or `https` URL without a query or fragment.
fn http_url(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} is not an http(s) URL"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
        return Err(format!("{text:?} is not a base URL (scheme://host[:port][/path], no query)"));
    }
    Ok(())
}

/// An ingest token shorter than this is refused.
const MIN_TOKEN_LENGTH: usize = 16;

/// Kafka's rule for topic (and here group) names: 1–249 of `[A-Za-z0-9._-]`.
fn topic_name(name: &str) -> Result<(), String> {
    let ok = (1..=249).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid Kafka name (1–249 of A–Z a–z 0–9 . _ -)"))
    }
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    value: &str,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String> {
    let n: T = value.trim().parse().map_err(|_| format!("{value:?} is not a whole number"))?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is outside {}–{}", range.start(), range.end()))
    }
}

/// RFC 3339 instant, or a plain date meaning 00:00 UTC that day.
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, date_format)
        .map(islet_guideline::calendar::start_of)
        .map_err(|_| format!("{s:?} is neither an RFC 3339 instant nor a YYYY-MM-DD date"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn file(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    mod tempfile_path {
        /// A file in the temp dir, removed on drop.
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> TempPath {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "islet-settings-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, text).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let f = file(
            "[database]\nurl = \"postgres://file/db\"\n[guideline]\nprofile = \"nccn\"\n\
             [guideline.thresholds]\nablation_max_lesions = 3\n[ingest]\nbatch_size = 50\n",
        );
        let s = Settings::load(Some(&f.0), &env(&[("ISLET_BATCH_SIZE", "70")])).unwrap();
        assert_eq!(s.database.url.as_deref(), Some("postgres://file/db"));
        assert_eq!(s.guideline.profile, Profile::Nccn);
        assert_eq!(s.guideline.thresholds.ablation_max_lesions, 3);
        assert_eq!(s.guideline.thresholds.growth_min_interval_months, 6, "unset thresholds keep the spec's default");
        assert_eq!(s.ingest.batch_size, 70, "the environment wins over the file");
        assert_eq!(s.database.pool_size, 8);
    }

    #[test]
    fn errors_name_the_setting_and_where_it_came_from() {
        let e = Settings::load(None, &env(&[("ISLET_BATCH_SIZE", "0")])).unwrap_err();
        assert_eq!(e.setting, "ingest.batch_size");
        assert_eq!(e.origin, "ISLET_BATCH_SIZE");
        let e = Settings::load(None, &env(&[("ISLET_BATCH_SIZE", "100000000000")])).unwrap_err();
        assert!(e.problem.contains("outside"), "{e}");
        let e = Settings::load(None, &env(&[("ISLET_PROFILE", "who")])).unwrap_err();
        assert!(e.to_string().contains("ISLET_PROFILE"), "{e}");
        let f = file("[ingest]\nbatch_sise = 5\n");
        let e = Settings::load(Some(&f.0), &env(&[])).unwrap_err();
        assert!(e.problem.contains("batch_sise"), "an unknown key is refused: {e}");
        let f = file("[guideline.thresholds]\nembolization_max_ecog = 9\n");
        let e = Settings::load(Some(&f.0), &env(&[])).unwrap_err();
        assert_eq!(e.setting, "guideline.thresholds.embolization_max_ecog");
    }

    #[test]
    fn kafka_and_http_settings_are_checked() {
        let s = Settings::load(None, &env(&[])).unwrap();
        assert!(!s.kafka.enabled(), "no brokers: HTTP only");
        let s =
            Settings::load(None, &env(&[("ISLET_KAFKA_BROKERS", "127.0.0.1:9092"), ("ISLET_INPUT_TOPICS", "a, b,,c")]))
                .unwrap();
        assert_eq!(s.kafka.input_topics, ["a", "b", "c"]);
        let e = Settings::load(None, &env(&[("ISLET_KAFKA_BROKERS", "x:1"), ("ISLET_INPUT_TOPICS", "islet.alerts")]))
            .unwrap_err();
        assert!(e.problem.contains("loop"), "{e}");
        let e = Settings::load(None, &env(&[("ISLET_KAFKA_BROKERS", "x:1"), ("ISLET_GROUP_ID", "a b")])).unwrap_err();
        assert_eq!(e.setting, "kafka.group_id");
        let f = file("[kafka]\nbrokers = \"x:1\"\n[kafka.properties]\n\"enable.auto.commit\" = \"true\"\n");
        let e = Settings::load(Some(&f.0), &env(&[])).unwrap_err();
        assert!(e.problem.contains("enable.auto.commit"), "{e}");
        let e = Settings::load(None, &env(&[("ISLET_INGEST_TOKEN", "short")])).unwrap_err();
        assert_eq!(e.setting, "http.ingest_token");
        let e = Settings::load(None, &env(&[("ISLET_HTTP_ADDR", "localhost")])).unwrap_err();
        assert_eq!(e.origin, "ISLET_HTTP_ADDR");
        let e = Settings::load(None, &env(&[("ISLET_ALERT_FORMAT", "xml")])).unwrap_err();
        assert!(e.problem.contains("xml"), "{e}");
    }

    #[test]
    fn concurrent_batches_need_their_connections() {
        assert_eq!(Settings::default().kafka.concurrent_batches, 2);
        let kafka = [("ISLET_KAFKA_BROKERS", "x:1"), ("ISLET_KAFKA_CONCURRENT_BATCHES", "5")];
        let e = Settings::load(None, &env(&kafka)).unwrap_err();
        assert_eq!(e.setting, "database.pool_size", "8 connections cannot serve 5 batches, 2 relays and the rest");
        assert!(e.problem.contains("at least 9"), "{e}");
        let s = Settings::load(None, &env(&[kafka[0], kafka[1], ("ISLET_DATABASE_POOL_SIZE", "9")])).unwrap();
        assert_eq!(s.kafka.concurrent_batches, 5);
        // Without Kafka the setting is unused: a small pool is fine.
        assert!(Settings::load(None, &env(&[kafka[1], ("ISLET_DATABASE_POOL_SIZE", "2")])).is_ok());
        let e = Settings::load(None, &env(&[("ISLET_KAFKA_CONCURRENT_BATCHES", "0")])).unwrap_err();
        assert_eq!(e.setting, "kafka.concurrent_batches");
    }

    #[test]
    fn sign_in_settings_are_checked() {
        let s = Settings::load(None, &env(&[("ISLET_DEV_USER", "demo:viewer")])).unwrap();
        assert_eq!(s.auth.dev_user.as_deref(), Some("demo:viewer"));
        let e =
            Settings::load(None, &env(&[("ISLET_DEV_USER", "demo"), ("ISLET_HTTP_ADDR", "0.0.0.0:8080")])).unwrap_err();
        assert_eq!(e.setting, "auth.dev_user");
        assert!(e.problem.contains("not a loopback address"), "{e}");
        let oidc = [
            ("ISLET_OIDC_ISSUER", "https://login.example/realms/h/"),
            ("ISLET_OIDC_CLIENT_ID", "islet"),
            ("ISLET_PUBLIC_URL", "https://islet.example/"),
        ];
        let s = Settings::load(None, &env(&oidc)).unwrap();
        assert_eq!(s.auth.oidc_issuer.as_deref(), Some("https://login.example/realms/h"), "no trailing slash");
        assert_eq!(s.http.public_url.as_deref(), Some("https://islet.example"));
        let e = Settings::load(None, &env(&[oidc[0], oidc[1], oidc[2], ("ISLET_DEV_USER", "demo")])).unwrap_err();
        assert!(e.problem.contains("choose one"), "{e}");
        let e = Settings::load(None, &env(&[oidc[0], oidc[1]])).unwrap_err();
        assert_eq!(e.setting, "http.public_url", "the redirect URI needs it");
        let e = Settings::load(None, &env(&[oidc[0], oidc[2]])).unwrap_err();
        assert_eq!(e.setting, "auth.oidc_client_id");
        let e = Settings::load(None, &env(&[("ISLET_OIDC_ISSUER", "login.example"), oidc[1], oidc[2]])).unwrap_err();
        assert_eq!(e.setting, "auth.oidc_issuer");
        let e = Settings::load(None, &env(&[("ISLET_OIDC_ROLE_VALUES", "doctor=x")])).unwrap_err();
        assert_eq!(e.setting, "auth.role_values");
        let e = Settings::load(None, &env(&[("ISLET_DEV_USER", "a b")])).unwrap_err();
        assert_eq!(e.setting, "auth.dev_user");
        let e = Settings::load(None, &env(&[("ISLET_SESSION_IDLE_SECONDS", "0")])).unwrap_err();
        assert_eq!(e.setting, "auth.session_idle_seconds");
    }

    #[test]
    fn the_clock_takes_an_instant_or_a_date() {
        let s = Settings::load(None, &env(&[("ISLET_CLOCK", "2025-06-01")])).unwrap();
        assert_eq!(s.clock, Some(time::macros::datetime!(2025-06-01 0:00 UTC)));
        assert!(Settings::load(None, &env(&[("ISLET_CLOCK", "June")])).is_err());
    }

    /// The example a deployment starts from parses, and says the defaults.
    #[test]
    fn the_deploy_example_is_valid_and_states_the_defaults() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/islet.example.toml");
        let s = Settings::load(Some(&example), &env(&[])).unwrap();
        assert_eq!(s, Settings::default());
        let text = std::fs::read_to_string(&example).unwrap();
        for (var, _) in ENVIRONMENT {
            assert!(text.contains(var), "the example lists {var}");
        }
    }

    #[test]
    fn every_environment_variable_sets_a_known_setting() {
        let mut s = Settings::default();
        for (var, setting) in ENVIRONMENT {
            let sample = match *setting {
                "guideline.profile" => "nccn",
                "clock" => "2025-01-01",
                "database.url" | "ingest.mapping" | "kafka.brokers" => "x",
                "http.addr" => "127.0.0.1:0",
                "http.max_body_bytes" => "4096",
                "http.ingest_token" | "auth.oidc_client_secret" => "a-long-enough-secret",
                "http.public_url" | "auth.oidc_issuer" | "auth.api_audience" => "https://x.example",
                "auth.role_values" => "viewer=v",
                "auth.dev_user" => "demo",
                "auth.roles_claim" | "auth.oidc_client_id" => "roles",
                "auth.oidc_scopes" => "openid profile",
                "kafka.input_topics" | "kafka.group_id" | "kafka.dead_letter_topic" | "kafka.alert_topic" => "t",
                "kafka.alert_format" => "json",
                _ => "5",
            };
            s.set(setting, sample).unwrap_or_else(|e| panic!("{var}: {e}"));
        }
    }
}
