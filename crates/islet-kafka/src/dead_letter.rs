//! Dead-letter records (contract "The service" → "Kafka", `islet.dead-letter`):
//! one per stored rejection — a message that could not be used at all, or
//! one rejected Bundle entry. Value: the original bytes, unchanged; key: the
//! original key. Every header value is UTF-8 text; numbers are decimal.
//!
//! Every stored rejection is relayed, whatever its source: Kafka records, and
//! lines of files loaded into the database (`islet replay --database-url`).
//! `islet.source.topic` then names the source as stored — the topic, or
//! `file:<path>` / `stdin`, with the line number as `islet.source.offset` and
//! partition 0 — and a file line has neither key nor timestamp. (HTTP
//! rejections are answered, not stored, so they never come here.)

use crate::TopicRecord;
use islet_store::outbox::PendingRejection;

/// Header: the topic (or `file:<path>`, `stdin`) the message came from.
pub const SOURCE_TOPIC: &str = "islet.source.topic";
/// Header: its partition (0 for a file).
pub const SOURCE_PARTITION: &str = "islet.source.partition";
/// Header: its offset (the line number for a file).
pub const SOURCE_OFFSET: &str = "islet.source.offset";
/// Header: the original record's timestamp, ms since the epoch (absent when unknown).
pub const SOURCE_TIMESTAMP: &str = "islet.source.timestamp";
/// Header: the rejection code.
pub const REASON_CODE: &str = "islet.reason.code";
/// Header: the reason, naming elements and codes, never patient data.
pub const REASON: &str = "islet.reason";
/// Header: the Bundle entry index, when one entry was rejected.
pub const ENTRY: &str = "islet.entry";
/// Header: the version of Islet that wrote the record.
pub const VERSION: &str = "islet.version";

/// The dead-letter record of one stored rejection.
pub fn record(rejection: &PendingRejection) -> TopicRecord {
    let mut headers = vec![
        (SOURCE_TOPIC, rejection.source.clone().into_bytes()),
        (SOURCE_PARTITION, rejection.partition.to_string().into_bytes()),
        (SOURCE_OFFSET, rejection.offset.to_string().into_bytes()),
    ];
    if let Some(t) = rejection.source_time {
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        headers.push((SOURCE_TIMESTAMP, ms.to_string().into_bytes()));
    }
    headers.push((REASON_CODE, rejection.code.clone().into_bytes()));
    headers.push((REASON, rejection.reason.clone().into_bytes()));
    if let Some(entry) = rejection.entry {
        headers.push((ENTRY, entry.to_string().into_bytes()));
    }
    headers.push((VERSION, env!("CARGO_PKG_VERSION").as_bytes().to_vec()));
    TopicRecord { key: rejection.key.clone(), value: rejection.message.clone().unwrap_or_default(), headers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn rejection() -> PendingRejection {
        PendingRejection {
            source: "fhir.events".into(),
            partition: 4,
            offset: 1_234_567_890_123,
            entry: Some(2),
            resource: Some("Observation/o1".into()),
            code: "missing-status".into(),
            reason: "the Observation has no `status`".into(),
            message: Some(b"{\"resourceType\":\"Bundle\",\xff}".to_vec()),
            key: Some(b"Patient/p1".to_vec()),
            source_time: Some(datetime!(2025-12-06 05:46:40.123 UTC)),
            received_at: datetime!(2025-12-06 05:46:41 UTC),
        }
    }

    fn text(headers: &[(&'static str, Vec<u8>)]) -> Vec<(&'static str, String)> {
        headers.iter().map(|(n, v)| (*n, String::from_utf8(v.clone()).unwrap())).collect()
    }

    #[test]
    fn a_rejected_entry_keeps_key_bytes_and_coordinates() {
        let r = record(&rejection());
        assert_eq!(r.key.as_deref(), Some(&b"Patient/p1"[..]));
        assert_eq!(r.value, b"{\"resourceType\":\"Bundle\",\xff}", "the bytes as received, not re-encoded");
        assert_eq!(
            text(&r.headers),
            [
                ("islet.source.topic", "fhir.events".to_string()),
                ("islet.source.partition", "4".into()),
                ("islet.source.offset", "1234567890123".into()),
                ("islet.source.timestamp", "1765000000123".into()),
                ("islet.reason.code", "missing-status".into()),
                ("islet.reason", "the Observation has no `status`".into()),
                ("islet.entry", "2".into()),
                ("islet.version", env!("CARGO_PKG_VERSION").into()),
            ]
        );
    }

    #[test]
    fn a_file_line_has_no_key_timestamp_or_entry() {
        let mut line = rejection();
        line.source = "file:/data/feed.ndjson".into();
        line.partition = 0;
        line.offset = 17;
        line.entry = None;
        line.key = None;
        line.source_time = None;
        line.message = None;
        let r = record(&line);
        assert_eq!((r.key.as_deref(), r.value.len()), (None, 0));
        let names: Vec<&str> = r.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "islet.source.topic",
                "islet.source.partition",
                "islet.source.offset",
                "islet.reason.code",
                "islet.reason",
                "islet.version"
            ]
        );
        assert_eq!(r.header(SOURCE_TOPIC), Some(&b"file:/data/feed.ndjson"[..]));
        assert_eq!(r.header(SOURCE_OFFSET), Some(&b"17"[..]));
    }

    #[test]
    fn timestamps_before_1970_stay_exact() {
        let mut old = rejection();
        old.source_time = Some(datetime!(1969-12-31 23:59:59.999 UTC));
        assert_eq!(record(&old).header(SOURCE_TIMESTAMP), Some(&b"-1"[..]));
    }
}
