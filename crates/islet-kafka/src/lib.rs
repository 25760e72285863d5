//! Kafka for `islet serve` (contract "The service" → "Kafka"): the input
//! topics' consumer group member, the idempotent producer of the relays,
//! dead-letter records, and the relay loop that moves the PostgreSQL outboxes
//! (`alert_change`, `rejection`) to their topics.
//!
//! **Invariants.** Positions live in PostgreSQL: a partition is assigned once,
//! at the next offset the database committed ([`consumer::PositionLookup`]),
//! never at an offset Kafka stored; Kafka's own committed offsets are written
//! after the database commit for lag tools only and never read back
//! ([`KafkaSource::commit_to_kafka`]). The consumer is polled on a thread of
//! its own, so the rebalance callback (which reads PostgreSQL synchronously)
//! never blocks an async task, and the member keeps polling — and stays in
//! its group — while records wait, while the driver is paused and while the
//! driver is slow. A record is marked published only after the broker
//! acknowledged it ([`relay`]). No Kafka transactions (tansu has none): each
//! batch transaction fences its partitions in PostgreSQL instead
//! (`islet_engine::Engine::process`).
//!
//! **API.** [`KafkaSource`] (records as [`consumer::Record`]s that become
//! `islet_engine::Message`s), [`PgPositions`] (the lookup over
//! `islet_store::PgStore`), [`RelayProducer`], [`dead_letter::record`],
//! [`relay::Relay`], [`TopicRecord`]; [`test_support::TestBroker`] (a tansu
//! broker per test).

pub mod consumer;
pub mod dead_letter;
mod log;
pub mod positions;
pub mod producer;
pub mod relay;
pub mod test_support;

pub use consumer::{ConsumerSettings, Event, KafkaSource, PositionLookup, Record};
pub use positions::PgPositions;
pub use producer::{ProducerSettings, RelayProducer};
pub use rdkafka::error::KafkaError;

use std::collections::BTreeMap;

/// One record for a topic: what the relays send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRecord {
    /// `None`: a record without key (a dead letter of a keyless record).
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Vec<(&'static str, Vec<u8>)>,
}

impl TopicRecord {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_slice())
    }
}

/// A client setting Islet cannot accept, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("Kafka setting {name}: {problem}")]
    Property { name: String, problem: String },
    #[error("{0}")]
    Missing(&'static str),
    #[error("the Kafka client could not be created: {0}")]
    Client(String),
}

/// librdkafka properties: Islet's defaults, then the site's (SASL, TLS,
/// timeouts…), except the ones Islet's guarantees rest on, which the site
/// may repeat but not change.
fn merge_properties(
    defaults: &[(&str, &str)],
    fixed: &[(&str, &str)],
    site: &BTreeMap<String, String>,
) -> Result<rdkafka::ClientConfig, SettingsError> {
    let mut config = rdkafka::ClientConfig::new();
    for (name, value) in defaults {
        config.set(*name, *value);
    }
    for (name, value) in site {
        if let Some((_, required)) = fixed.iter().find(|(n, _)| n == name) {
            if value != required {
                return Err(SettingsError::Property {
                    name: name.clone(),
                    problem: format!("must be {required} (Islet's delivery guarantees rest on it), not {value}"),
                });
            }
        }
        config.set(name, value);
    }
    for (name, value) in fixed {
        config.set(*name, *value);
    }
    config.set_log_level(rdkafka::config::RDKafkaLogLevel::Warning);
    Ok(config)
}
