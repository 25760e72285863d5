//! The relays' producer: idempotent (`enable.idempotence=true`, `acks=all`),
//! so librdkafka's own retries neither duplicate nor reorder a partition's
//! records; a record counts as sent only once its delivery report says so.

use crate::log::Traced;
use crate::{merge_properties, SettingsError, TopicRecord};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// The producer's settings.
#[derive(Debug, Clone)]
pub struct ProducerSettings {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// librdkafka properties passed through (SASL, TLS, `message.timeout.ms`…);
    /// `enable.idempotence` and `acks` must stay `true` / `all`.
    pub properties: BTreeMap<String, String>,
}

impl ProducerSettings {
    pub fn new(brokers: impl Into<String>) -> ProducerSettings {
        ProducerSettings { brokers: brokers.into(), properties: BTreeMap::new() }
    }
}

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

pub struct RelayProducer {
    producer: FutureProducer<Traced>,
}

impl RelayProducer {
    pub fn new(settings: &ProducerSettings) -> Result<RelayProducer, SettingsError> {
        if settings.brokers.trim().is_empty() {
            return Err(SettingsError::Missing("no Kafka brokers given"));
        }
        let defaults = [
            // A record not acknowledged in 30 s fails and the relay retries it
            // (unmarked): a stuck broker is noticed and logged, and a SIGTERM
            // flush can finish within Kubernetes' 30 s grace period.
            ("message.timeout.ms", "30000"),
            ("linger.ms", "5"),
        ];
        let fixed = [("bootstrap.servers", settings.brokers.as_str()), ("enable.idempotence", "true"), ("acks", "all")];
        let config = merge_properties(&defaults, &fixed, &settings.properties)?;
        let producer = config.create_with_context(Traced).map_err(|e| SettingsError::Client(e.to_string()))?;
        Ok(RelayProducer { producer })
    }

    /// Sends every record to `topic` (partitioned by key) and waits for all
    /// delivery reports; one result per record, in the records' order. The
    /// records are all in flight at once; the idempotent producer keeps
    /// their order within a partition.
    pub async fn send_all(&self, topic: &str, records: &[TopicRecord]) -> Vec<Result<Delivered, KafkaError>> {
        let mut results: Vec<Option<Result<Delivered, KafkaError>>> = (0..records.len()).map(|_| None).collect();
        let mut in_flight: VecDeque<(usize, DeliveryFuture)> = VecDeque::new();
        for (i, record) in records.iter().enumerate() {
            loop {
                let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
                for (name, value) in &record.headers {
                    headers = headers.insert(Header { key: name, value: Some(value.as_slice()) });
                }
                let mut future = FutureRecord::<[u8], [u8]>::to(topic).payload(&record.value[..]).headers(headers);
                if let Some(key) = &record.key {
                    future = future.key(&key[..]);
                }
                match self.producer.send_result(future) {
                    Ok(delivery) => {
                        in_flight.push_back((i, delivery));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // librdkafka's queue is full: wait for the oldest report, then try again.
                        match in_flight.pop_front() {
                            Some((j, delivery)) => results[j] = Some(outcome(delivery.await)),
                            None => tokio::time::sleep(Duration::from_millis(20)).await,
                        }
                    }
                    Err((e, _)) => {
                        results[i] = Some(Err(e));
                        break;
                    }
                }
            }
        }
        for (i, delivery) in in_flight {
            results[i] = Some(outcome(delivery.await));
        }
        results.into_iter().map(|r| r.expect("every record has an outcome")).collect()
    }

    /// Waits until every record handed to librdkafka is delivered or failed,
    /// at most `timeout` (shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}

/// A delivery report (the error side: the producer went away first).
fn outcome<Gone>(report: Result<OwnedDeliveryResult, Gone>) -> Result<Delivered, KafkaError> {
    match report {
        Ok(Ok(d)) => Ok(Delivered { partition: d.partition, offset: d.offset }),
        Ok(Err((e, _))) => Err(e),
        Err(_) => Err(KafkaError::Canceled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> Result<RelayProducer, SettingsError> {
        let mut s = ProducerSettings::new("127.0.0.1:1");
        s.properties.insert(name.into(), value.into());
        RelayProducer::new(&s)
    }

    #[test]
    fn idempotence_and_acks_cannot_be_weakened() {
        assert!(with("acks", "all").is_ok());
        assert!(with("message.timeout.ms", "5000").is_ok());
        for (name, value) in [("acks", "1"), ("enable.idempotence", "false"), ("bootstrap.servers", "elsewhere:9092")] {
            let err = with(name, value).err().unwrap_or_else(|| panic!("{name}={value} accepted"));
            assert!(err.to_string().contains(name), "{err}");
        }
        assert!(matches!(RelayProducer::new(&ProducerSettings::new(" ")), Err(SettingsError::Missing(_))));
        assert!(matches!(with("no.such.property", "1"), Err(SettingsError::Client(_))));
    }
}
