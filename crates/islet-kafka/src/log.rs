//! librdkafka's log lines and client errors through `tracing` (rdkafka itself
//! writes to the `log` facade, which Islet's subscriber does not read).
//! librdkafka logs brokers, topics and partitions, never record contents.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

pub(crate) fn log(client: &'static str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
            tracing::error!(client, facility, "librdkafka: {message}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(client, facility, "librdkafka: {message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => tracing::info!(client, facility, "librdkafka: {message}"),
        RDKafkaLogLevel::Debug => tracing::debug!(client, facility, "librdkafka: {message}"),
    }
}

pub(crate) fn error(client: &'static str, error: &KafkaError, reason: &str) {
    tracing::warn!(client, error = %error, "Kafka client error: {reason}");
}

/// The producer's context: logs only.
#[derive(Clone, Default)]
pub(crate) struct Traced;

impl rdkafka::ClientContext for Traced {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log("producer", level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self::error("producer", &error, reason);
    }
}
