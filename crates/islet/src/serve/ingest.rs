//! HTTP ingest (contract "HTTP ingest"): one request body is one message,
//! through the same batcher and engine path as a file or a Kafka record, in
//! one transaction, answered only after it committed.

use super::outcome::IngestOutcome;
use super::State;
use crate::drivers::clock::horizon;
use crate::drivers::commit::commit_isolating;
use islet_engine::ingest::{BatchLimits, Message, Origin, Rejection, Source};
use islet_store::StoreError;
use std::sync::atomic::Ordering;

/// What the URL says the body must be (`POST /fhir/{type}`, `PUT /fhir/{type}/{id}`).
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub resource_type: Option<String>,
    pub id: Option<String>,
}

/// The top of a resource, read without decoding the rest.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    id: Option<String>,
}

/// Checks the body against the URL: the FHIR REST rules a client expects
/// (`PUT` needs the body's id to be the URL's).
/// Returns the reason code and text of a mismatch.
pub fn url_mismatch(expected: &Expected, body: &[u8]) -> Option<(&'static str, String)> {
    // `POST /fhir` says nothing about its body.
    expected.resource_type.as_ref()?;
    // A body that is not JSON is reported by the decoder, with its own code.
    let head: Head = serde_json::from_slice(body).ok()?;
    if let Some(t) = &expected.resource_type {
        if head.resource_type.as_deref() != Some(t.as_str()) {
            let found = head.resource_type.as_deref().unwrap_or("not a resource");
            return Some(("wrong-resource-type", format!("the URL names {t} but the body is {found}")));
        }
    }
    if let Some(id) = &expected.id {
        if head.id.as_deref() != Some(id.as_str()) {
            let found = head.id.as_deref().unwrap_or("");
            return Some(("id-mismatch", format!("the URL names id {id:?} but the body's id is {found:?}")));
        }
    }
    None
}

/// Applies one message. `Err` only when the database could not be reached
/// within the request's retry budget (the caller answers 503).
pub async fn ingest(state: &State, body: &[u8], received_ms: i64) -> Result<IngestOutcome, StoreError> {
    let now = state.clock.now();
    let mut batcher = state.engine.batcher(BatchLimits { max_messages: 1 }, horizon(Some(now)));
    let offset = state.http_messages.fetch_add(1, Ordering::Relaxed);
    let message = Message {
        timestamp_ms: Some(received_ms),
        ..Message::new(Origin { source: Source::Http, partition: 0, offset }, body)
    };
    let batch = batcher.push(message).unwrap_or_else(|| batcher.take());
    let item = batch.items.first();
    let unusable = match item {
        // A blank body.
        None => {
            return Ok(IngestOutcome::Unusable {
                rejections: vec![Rejection {
                    origin: Origin { source: Source::Http, partition: 0, offset },
                    entry: None,
                    resource: None,
                    code: "empty-message",
                    reason: "the request body is empty".into(),
                }],
            })
        }
        Some(item) => item.framing.is_some() || (item.decoded.changes.is_empty() && item.is_rejected()),
    };
    if unusable {
        return Ok(IngestOutcome::Unusable { rejections: batch.rejections().collect() });
    }
    let started = std::time::Instant::now();
    let mut rejections = Vec::new();
    let received = super::metrics::Received::of(&batch);
    let (changes, stats) = commit_isolating(&state.engine, &state.store, batch, now, &state.http_backoff, &mut |r| {
        rejections.push(r.clone())
    })
    .await?;
    state.metrics.batch_committed(
        &received,
        &stats,
        &changes,
        &rejections,
        started.elapsed(),
        super::metrics::unix_now(),
    );
    if rejections.iter().any(|r| r.code == "store-refused") {
        return Ok(IngestOutcome::Unusable { rejections });
    }
    Ok(IngestOutcome::Applied { stats, rejections, alert_changes: changes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_must_be_what_the_url_names() {
        let body = br#"{"resourceType":"Observation","id":"o1","status":"final"}"#;
        let any = Expected::default();
        assert_eq!(url_mismatch(&any, body), None);
        let obs = Expected { resource_type: Some("Observation".into()), id: None };
        assert_eq!(url_mismatch(&obs, body), None);
        let cond = Expected { resource_type: Some("Condition".into()), id: None };
        assert!(url_mismatch(&cond, body).unwrap().1.contains("Condition"));
        let other = Expected { resource_type: Some("Observation".into()), id: Some("o2".into()) };
        assert_eq!(url_mismatch(&other, body).unwrap().0, "id-mismatch");
        let same = Expected { resource_type: Some("Observation".into()), id: Some("o1".into()) };
        assert_eq!(url_mismatch(&same, body), None);
    }
}
