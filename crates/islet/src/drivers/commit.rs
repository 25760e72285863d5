//! Committing one batch in PostgreSQL, for every durable driver (file load,
//! HTTP ingest, the Kafka consumer): transient errors are retried whole; a
//! batch PostgreSQL refuses because of what it carries is split until the one
//! message responsible stands alone, and that message is rejected
//! (`store-refused`, named by its origin and resources) while the rest commits.

use islet_engine::ingest::{Batch, Rejection, Stats};
use islet_engine::{AlertChange, Engine};
use islet_guideline::Instant;
use islet_store::retry::{is_data_error, sqlstate, with_retry, Backoff};
use islet_store::{PgStore, StoreError};

/// Commits `batch`, retrying transient errors. When PostgreSQL refuses the
/// batch's data, splits it in halves until the message responsible stands
/// alone, rejects that message (its offset stays consumed) and commits the rest.
pub async fn commit_isolating(
    engine: &Engine,
    store: &PgStore,
    batch: Batch,
    at: Instant,
    backoff: &Backoff,
    on_rejection: &mut (dyn FnMut(&Rejection) + Send),
) -> Result<(Vec<AlertChange>, Stats), StoreError> {
    let mut stats = Stats::default();
    let mut changes = Vec::new();
    // Halves still to commit, in file order (the last pushed is committed first).
    let mut todo = vec![batch];
    while let Some(mut batch) = todo.pop() {
        match commit(engine, store, &batch, at, backoff).await {
            Ok((c, s)) => {
                batch.rejections().for_each(|r| on_rejection(&r));
                stats += &s;
                changes.extend(c);
            }
            Err(e) if is_data_error(&e) && batch.items.len() > 1 => {
                let tail = batch.split_off(batch.items.len() / 2);
                todo.push(tail);
                todo.push(batch);
            }
            Err(e) if is_data_error(&e) && !batch.items.is_empty() && !is_store_refused(&batch) => {
                let item = &batch.items[0];
                let resources: Vec<String> = item.decoded.changes.iter().filter_map(resource_of).collect();
                let reason = format!(
                    "PostgreSQL refused to store this message (SQLSTATE {}){}; it was not used",
                    sqlstate(&e).unwrap_or_else(|| "unknown".into()),
                    if resources.is_empty() { String::new() } else { format!(": {}", resources.join(", ")) }
                );
                tracing::warn!(source = item.origin.source.name(), offset = item.origin.offset, sqlstate = ?sqlstate(&e), "message refused by PostgreSQL; rejected");
                batch.reject_item(0, "store-refused", reason);
                todo.push(batch);
            }
            Err(e) => return Err(e),
        }
    }
    Ok((changes, stats))
}

fn is_store_refused(batch: &Batch) -> bool {
    batch.items.first().and_then(|i| i.framing.as_ref()).is_some_and(|f| f.code == "store-refused")
}

pub fn resource_of(change: &islet_fhir::Change) -> Option<String> {
    match change {
        islet_fhir::Change::Upsert(v) | islet_fhir::Change::Unused(v) => Some(v.reference()),
        islet_fhir::Change::Delete { resource_type, id, .. } => Some(format!("{resource_type}/{id}")),
        islet_fhir::Change::Skipped { .. } => None,
        islet_fhir::Change::Shared(s) => Some(s.reference.clone()),
    }
}

/// One batch, retried as a whole on transient errors.
async fn commit(
    engine: &Engine,
    store: &PgStore,
    batch: &Batch,
    at: Instant,
    backoff: &Backoff,
) -> Result<(Vec<AlertChange>, Stats), StoreError> {
    let what = match batch.items.last() {
        Some(i) => format!("batch ending at {} offset {}", i.origin.source.name(), i.origin.offset),
        None => "batch".to_owned(),
    };
    with_retry(&what, backoff, || {
        let mut store = store.clone();
        async move { engine.process(&mut store, batch, at).await }
    })
    .await
}
