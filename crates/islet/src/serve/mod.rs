//! `islet serve`: the service a hospital runs. One [`Application`] built
//! from [`Settings`]: the HTTP listener (FHIR ingest, `/livez`, `/readyz`,
//! `/metrics`), the embedded scheduler and, when brokers are configured,
//! the Kafka consumer and the relays to the alert and dead-letter topics.
//!
//! Shutdown (SIGTERM): `/readyz` fails at once, no new request or batch is
//! taken, the ones in flight finish and commit, then the tasks stop.

pub mod access;
pub mod api;
pub mod audit_event;
pub mod auth;
pub mod chart;
pub mod consume;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod outcome;
pub mod signin;
pub mod web;

use crate::drivers::clock::Clock;
use crate::drivers::scheduler::Scheduler;
use crate::settings::Settings;
use islet_engine::Engine;
use islet_store::retry::Backoff;
use islet_store::PgStore;
use metrics::Metrics;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What every request handler and task shares.
pub struct State {
    pub engine: Arc<Engine>,
    pub store: PgStore,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// Set on shutdown: `/readyz` fails and ingest answers 503.
    pub draining: AtomicBool,
    pub ingest_token: Option<String>,
    pub max_body_bytes: usize,
    /// Numbers HTTP messages (their `Origin` offset) for logs and answers.
    pub http_messages: AtomicI64,
    /// A request waits for the database at most this long before `503`.
    pub http_backoff: Backoff,
    /// Kafka is configured: readiness waits for the group join.
    pub kafka_enabled: bool,
    /// The consumer has joined its group (its first assignment came).
    pub kafka_joined: AtomicBool,
    /// A Kafka batch waits for the database as long as it takes (the
    /// consumer keeps its group membership meanwhile).
    pub kafka_backoff: Backoff,
    /// Sign-in for the API and the dashboard.
    pub auth: access::AuthConfig,
    /// The worklist's counts per state, shared between users for a moment.
    pub counts: islet_store::read::CountsCache,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Settings(String),
    #[error("database: {0}")]
    Database(String),
    #[error("listening on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
    #[error("{0}")]
    Kafka(String),
}

pub struct Application {
    listener: TcpListener,
    state: Arc<State>,
    settings: Settings,
}

impl Application {
    /// Connects to PostgreSQL (applying the migrations) and binds the
    /// listener; nothing runs until [`Application::run`].
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Application, ServeError> {
        let addr = settings.http.addr;
        if !addr.ip().is_loopback() && settings.http.ingest_token.is_none() {
            return Err(ServeError::Settings(format!(
                "http.addr {addr} is not a loopback address and no http.ingest_token (ISLET_INGEST_TOKEN) is set: \
                 refusing to accept clinical data unauthenticated on a network"
            )));
        }
        let engine = Arc::new(crate::cli::engine(&settings).map_err(ServeError::Settings)?);
        let url = settings.database_url().map_err(ServeError::Settings)?.to_owned();
        let pool = crate::cli::connect_and_migrate(&url, settings.database.pool_size, false)
            .await
            .map_err(ServeError::Database)?;
        let auth = auth_config(&settings)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Listen { addr, source })?;
        let state = Arc::new(State {
            engine,
            store: PgStore::new(pool),
            clock,
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
            ingest_token: settings.http.ingest_token.clone(),
            max_body_bytes: settings.http.max_body_bytes,
            http_messages: AtomicI64::new(1),
            http_backoff: Backoff { deadline: Duration::from_secs(10), ..Backoff::default() },
            kafka_enabled: settings.kafka.enabled(),
            kafka_joined: AtomicBool::new(false),
            kafka_backoff: Backoff { deadline: Duration::from_secs(100 * 365 * 86_400), ..Backoff::default() },
            auth,
            counts: islet_store::read::CountsCache::default(),
        });
        Ok(Application { listener, state, settings })
    }

    /// The address actually bound (a test binds port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then drains and returns. With
    /// Kafka: joins the group, consumes, relays the outboxes; on shutdown the
    /// consumer commits its last batch and leaves the group before the
    /// relays publish what is left.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let Application { listener, state, settings } = self;
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let drain = {
            let (state, stop) = (state.clone(), stop.clone());
            async move {
                shutdown.await;
                state.draining.store(true, Ordering::SeqCst);
                tracing::warn!("shutting down: draining");
                let _ = stop.send(true);
            }
        };
        tokio::spawn(drain);
        let scheduler = tokio::spawn(run_scheduler(
            state.clone(),
            settings.scheduler.batch,
            Duration::from_secs(settings.scheduler.interval_seconds),
            stopped.clone(),
        ));
        let (relays_stop, relays_stopped) = watch::channel(false);
        let mut kafka_tasks = None;
        if settings.kafka.enabled() {
            let kafka = consume::Kafka::start(&settings, &state).map_err(ServeError::Kafka)?;
            let relays = consume::spawn_relays(&state, &settings, kafka.producer.clone(), &relays_stopped)
                .map_err(ServeError::Kafka)?;
            let consumer = tokio::spawn({
                let (state, stop, stopped) = (state.clone(), stop.clone(), stopped.clone());
                let limits = islet_engine::ingest::BatchLimits { max_messages: settings.ingest.batch_size };
                let latency = Duration::from_millis(settings.ingest.max_batch_latency_ms);
                let settings_lanes = settings.kafka.concurrent_batches;
                async move {
                    let lanes = settings_lanes;
                    let result =
                        consume::run_consumer(state.clone(), kafka.source, limits, latency, lanes, stopped).await;
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "the consumer stopped; shutting the service down");
                        state.draining.store(true, Ordering::SeqCst);
                        let _ = stop.send(true);
                    }
                    result
                }
            });
            kafka_tasks = Some((consumer, relays));
        }
        tracing::warn!(addr = %listener.local_addr().map_err(ServeError::Http)?, "islet serve listening");
        let mut until_stopped = stopped.clone();
        let sweeper = tokio::spawn(run_session_sweeper(state.clone(), stopped.clone()));
        let app = http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = until_stopped.wait_for(|s| *s).await;
            })
            .await
            .map_err(ServeError::Http);
        let _ = scheduler.await;
        let _ = sweeper.await;
        let mut consumed = Ok(());
        if let Some((consumer, relays)) = kafka_tasks {
            consumed = consumer.await.map_err(|e| e.to_string()).and_then(|r| r).map_err(ServeError::Kafka);
            let _ = relays_stop.send(true);
            for relay in relays {
                let _ = relay.await;
            }
        }
        tracing::warn!("stopped");
        served.and(consumed)
    }
}

/// The sign-in settings as the running service uses them.
fn auth_config(settings: &Settings) -> Result<access::AuthConfig, ServeError> {
    let a = &settings.auth;
    let public_url = settings.http.public_url.clone();
    let sign_in = match (&a.dev_user, &a.oidc_issuer) {
        (Some(user), _) => access::SignIn::Dev(auth::DevUser::parse(user).map_err(ServeError::Settings)?),
        (None, Some(issuer)) => {
            let public =
                public_url.as_deref().ok_or_else(|| ServeError::Settings("http.public_url is required".into()))?;
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| ServeError::Settings(format!("HTTP client for the identity provider: {e}")))?;
            access::SignIn::Oidc(Arc::new(auth::oidc::Provider::new(
                issuer.clone(),
                a.oidc_client_id.clone().unwrap_or_default(),
                a.oidc_client_secret.clone(),
                format!("{public}/auth/callback"),
                a.oidc_scopes.clone(),
                http,
            )))
        }
        (None, None) => access::SignIn::Off,
    };
    let api_audience = a.api_audience.clone().or_else(|| public_url.as_ref().map(|u| format!("{u}/api")));
    Ok(access::AuthConfig {
        sign_in,
        roles: auth::RoleMap::parse(&a.role_values).map_err(ServeError::Settings)?,
        roles_claim: a.roles_claim.clone(),
        api_audience,
        secure_cookies: public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
        idle: time::Duration::seconds(a.session_idle_seconds as i64),
        max: time::Duration::seconds(a.session_max_seconds as i64),
        public_origin: public_url.as_deref().map(origin_of),
    })
}

/// `scheme://host[:port]` of a URL (what browsers send as `Origin`).
fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url[..i + 3 + j].to_owned(),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Removes ended sessions and abandoned sign-ins every minute.
async fn run_session_sweeper(state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        let swept = async {
            let mut conn = state.store.pool().acquire().await?;
            islet_store::session::sweep(&mut conn, time::OffsetDateTime::now_utc(), state.auth.idle).await
        };
        if let Err(e) = swept.await {
            tracing::warn!(error = %e, "removing ended sessions failed; trying again in a minute");
        }
    }
}

/// The embedded scheduler: every interval, the patients whose wake time has
/// passed, claimed with SKIP LOCKED (several instances share the work).
async fn run_scheduler(state: Arc<State>, batch: usize, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let mut scheduler = Scheduler {
        engine: state.engine.clone(),
        store: state.store.clone(),
        clock: state.clock.clone(),
        batch,
        backoff: Backoff::default(),
    };
    loop {
        if *stopped.borrow() {
            return;
        }
        match scheduler.tick().await {
            Ok(tick) => {
                state.metrics.scheduler_wakes.inc_by(tick.claimed as u64);
                state.metrics.alert_changes_committed(&tick.changes);
            }
            Err(e) => {
                state.metrics.scheduler_errors.inc();
                tracing::error!(error = %e, "scheduler tick failed; trying again next interval");
            }
        }
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
