//! Prometheus metrics of the service (`GET /metrics`, OpenMetrics text).
//! Names follow shared/notes/integration-anchors.md F.1: `_total` counters,
//! base units. Labels carry sources, codes and outcomes — never patient data.

use islet_engine::ingest::{Batch, Rejection, Stats};
use islet_engine::{AlertChange, ChangeKind};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordLabels {
    /// A topic name, or `http`.
    pub source: String,
    pub partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    pub change: &'static str,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabels {
    /// `token` (a bearer token refused), `login` (a sign-in that failed).
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboxLabels {
    pub outbox: &'static str,
}

pub struct Metrics {
    registry: Registry,
    /// Messages consumed per (topic or http, partition).
    pub records: Family<RecordLabels, Counter>,
    /// Resource versions by what became of them.
    pub resources: Family<OutcomeLabels, Counter>,
    pub rejections: Family<CodeLabels, Counter>,
    pub alert_changes: Family<ChangeLabels, Counter>,
    pub batch_duration: Histogram,
    pub batch_size: Histogram,
    /// From the event's source timestamp (Kafka record time, or the HTTP
    /// request's arrival) to the commit of the state it produced.
    pub event_to_commit: Histogram,
    pub http_requests: Family<HttpLabels, Counter>,
    /// Credentials refused before anyone is known (not audited: anyone could flood the trail).
    pub auth_refusals: Family<AuthLabels, Counter>,
    pub last_event: Family<SourceLabels, Gauge<f64, AtomicU64>>,
    pub scheduler_wakes: Counter,
    pub scheduler_errors: Counter,
    pub rebalances: Family<EventLabels, Counter>,
    pub assigned_partitions: Gauge,
    pub lag: Family<RecordLabels, Gauge>,
    pub outbox_pending: Family<OutboxLabels, Gauge>,
    pub outbox_oldest_age: Family<OutboxLabels, Gauge<f64, AtomicU64>>,
    pub published: Family<OutboxLabels, Counter>,
}

fn seconds_buckets() -> impl Iterator<Item = f64> {
    // 1 ms … ~65 s.
    exponential_buckets(0.001, 2.0, 17)
}

/// Latency goals are read off these (p99 ≤ batch latency + 100 ms): steps
/// of 25 % from 5 ms to ~3.5 s, so a quantile is known within a quarter
/// (doubling buckets only said "256–512 ms").
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 1.25, 30)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            records: Family::default(),
            resources: Family::default(),
            rejections: Family::default(),
            alert_changes: Family::default(),
            batch_duration: Histogram::new(seconds_buckets()),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 18)),
            event_to_commit: Histogram::new(latency_buckets()),
            http_requests: Family::default(),
            auth_refusals: Family::default(),
            last_event: Family::default(),
            scheduler_wakes: Counter::default(),
            scheduler_errors: Counter::default(),
            rebalances: Family::default(),
            assigned_partitions: Gauge::default(),
            lag: Family::default(),
            outbox_pending: Family::default(),
            outbox_oldest_age: Family::default(),
            published: Family::default(),
            registry: Registry::default(),
        };
        registry.register("islet_consumer_records", "Messages consumed, by source and partition", m.records.clone());
        registry.register("islet_resources", "Resource versions by outcome", m.resources.clone());
        registry.register(
            "islet_rejections",
            "Rejected messages or Bundle entries, by reason code",
            m.rejections.clone(),
        );
        registry.register(
            "islet_alert_changes",
            "Alert changes committed, by change and alert kind",
            m.alert_changes.clone(),
        );
        registry.register(
            "islet_batch_duration_seconds",
            "Time to apply and commit one batch",
            m.batch_duration.clone(),
        );
        registry.register("islet_batch_size_records", "Messages per committed batch", m.batch_size.clone());
        registry.register(
            "islet_event_to_commit_seconds",
            "From an event's source timestamp to the commit of its state",
            m.event_to_commit.clone(),
        );
        registry.register("islet_http_requests", "HTTP requests by route and status", m.http_requests.clone());
        registry.register(
            "islet_auth_refusals",
            "Credentials refused before a user was known, by reason",
            m.auth_refusals.clone(),
        );
        registry.register(
            "islet_last_event_timestamp_seconds",
            "When the last message of a source was committed (staleness alarm)",
            m.last_event.clone(),
        );
        registry.register(
            "islet_scheduler_wakes",
            "Patients re-evaluated because time passed",
            m.scheduler_wakes.clone(),
        );
        registry.register("islet_scheduler_errors", "Scheduler ticks that failed", m.scheduler_errors.clone());
        registry.register("islet_rebalances", "Consumer group rebalance events", m.rebalances.clone());
        registry.register(
            "islet_assigned_partitions",
            "Partitions assigned to this instance",
            m.assigned_partitions.clone(),
        );
        registry.register(
            "islet_consumer_lag_records",
            "High watermark minus the next offset committed in PostgreSQL",
            m.lag.clone(),
        );
        registry.register("islet_outbox_pending", "Rows not yet published, by outbox", m.outbox_pending.clone());
        registry.register(
            "islet_outbox_oldest_age_seconds",
            "Age of the oldest unpublished row, by outbox",
            m.outbox_oldest_age.clone(),
        );
        registry.register("islet_outbox_published", "Rows published, by outbox", m.published.clone());
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts one committed batch. `now_unix` is the commit's wall time.
    pub fn batch_committed(
        &self,
        received: &Received,
        stats: &Stats,
        changes: &[AlertChange],
        rejections: &[Rejection],
        elapsed: std::time::Duration,
        now_unix: f64,
    ) {
        for ((source, partition), n) in &received.per_partition {
            let labels = RecordLabels { source: source.clone(), partition: partition.to_string() };
            self.records.get_or_create(&labels).inc_by(*n);
            self.last_event.get_or_create(&SourceLabels { source: source.clone() }).set(now_unix);
        }
        for ms in &received.timestamps_ms {
            self.event_to_commit.observe((now_unix - *ms as f64 / 1000.0).max(0.0));
        }
        for (outcome, n) in [
            ("applied", stats.stored),
            ("duplicate", stats.duplicates),
            ("stale", stats.stale),
            ("skipped", stats.skipped),
            ("orphan-delete", stats.orphan_deletes),
            ("version-conflict", stats.version_conflicts),
        ] {
            if n > 0 {
                self.resources.get_or_create(&OutcomeLabels { outcome }).inc_by(n);
            }
        }
        for r in rejections {
            self.rejections.get_or_create(&CodeLabels { code: r.code }).inc();
        }
        self.alert_changes_committed(changes);
        self.batch_duration.observe(elapsed.as_secs_f64());
        self.batch_size.observe(received.messages as f64);
    }

    pub fn alert_changes_committed(&self, changes: &[AlertChange]) {
        for c in changes {
            let change = match c.change {
                ChangeKind::Raised => "raised",
                ChangeKind::Updated => "updated",
                ChangeKind::Resolved => "resolved",
            };
            self.alert_changes.get_or_create(&ChangeLabels { change, kind: c.alert.kind.as_str() }).inc();
        }
    }
}

/// What a batch brought, noted before the batch goes to the store.
#[derive(Debug, Default)]
pub struct Received {
    pub messages: u64,
    pub per_partition: std::collections::BTreeMap<(String, i32), u64>,
    /// The source timestamps (Kafka record time, HTTP arrival).
    pub timestamps_ms: Vec<i64>,
}

impl Received {
    pub fn of(batch: &Batch) -> Received {
        let mut r = Received { messages: batch.messages, ..Received::default() };
        for item in &batch.items {
            *r.per_partition.entry((item.origin.source.name().to_owned(), item.origin.partition)).or_default() += 1;
            r.timestamps_ms.extend(item.timestamp_ms);
        }
        r
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_family_with_its_unit() {
        let m = Metrics::new();
        m.rejections.get_or_create(&CodeLabels { code: "json-invalid" }).inc();
        m.scheduler_wakes.inc_by(3);
        let text = m.encode();
        assert!(text.contains("islet_rejections_total{code=\"json-invalid\"} 1"), "{text}");
        assert!(text.contains("islet_scheduler_wakes_total 3"), "{text}");
        assert!(text.contains("# TYPE islet_batch_duration_seconds histogram"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // A quarter-step bucket around 200 ms, where the latency goal lies.
        m.event_to_commit.observe(0.2);
        let text = m.encode();
        assert!(text.contains("islet_event_to_commit_seconds_bucket{le=\"0.17763568394002506\"} 0"), "{text}");
        assert!(text.contains("islet_event_to_commit_seconds_bucket{le=\"0.2220446049250313\"} 1"), "{text}");
    }
}
