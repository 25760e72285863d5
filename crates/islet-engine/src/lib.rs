//! The engine: decode → apply → evaluate → reconcile → commit, for any [`Store`].
//!
//! **Invariants.** The engine reads no clock: "now" is an argument (the
//! service passes its clock, replay an explicit instant). The outcome for a
//! patient depends on the set of resource versions and "now", never on
//! arrival order (contract.md v2: ties of the version key are decided by
//! content). Decoding happens before a transaction opens ([`ingest`]); a
//! transaction covers one batch. The logic is a sans-IO core ([`core`]):
//! apply, assess and reconcile are pure synchronous functions, and
//! [`Engine::process`] / [`Engine::wake_due`] are thin async shells that lock,
//! load and save through a [`Store`] around it.
//!
//! **API.** [`ingest::Batcher`] (messages → batches, the one ingest path),
//! [`Engine::process`] (one batch through a store), [`Engine::wake_due`] (the
//! scheduler's path), [`core::assess`] (a record without a store),
//! [`MemStore`] (the same core, synchronously, for replay and tests).

pub mod alert;
pub mod core;
pub mod ingest;
pub mod reconcile;
pub mod record;
pub mod store;

pub use alert::{AlertChange, AlertRecord, Cause, ChangeKind};
pub use ingest::{Batch, BatchLimits, Batcher, Item, Message, Origin, Rejection, Source, SourcePosition, Stats};
pub use store::{MemStore, PatientState, PatientWrite, RejectedMessage, Store, Transaction, Written};

use crate::core::{Locked, Plan};
use islet_fhir::{Decoder, SiteMapping};
use islet_guideline::{Config, Instant};

/// The guideline configuration and the decoder of one deployment.
pub struct Engine {
    decoder: Decoder,
    config: Config,
}

impl Engine {
    pub fn new(mapping: SiteMapping, config: Config) -> Self {
        Engine { decoder: Decoder::new(mapping), config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The decoder, to decode on another thread (it is `Clone + Send`).
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// A batcher decoding with this engine's decoder.
    pub fn batcher(&self, limits: BatchLimits, horizon: Instant) -> Batcher {
        Batcher::new(self.decoder.clone(), limits, horizon)
    }

    /// Applies one batch in one transaction: resources, patient states,
    /// alerts, change log, rejections and the batch's source positions commit
    /// together. Returns the alert changes and the counts.
    pub async fn process<S: Store>(
        &self,
        store: &mut S,
        batch: &Batch,
        now: Instant,
    ) -> Result<(Vec<AlertChange>, Stats), S::Error> {
        let mut tx = store.begin().await?;
        // Kafka partitions: lock their positions first and skip what another
        // consumer already committed (two owners during a rebalance apply a
        // record once).
        let partitions = batch.topic_partitions();
        let fenced = if partitions.is_empty() { None } else { batch.fenced(&tx.fence_positions(&partitions).await?) };
        let batch = fenced.as_ref().unwrap_or(batch);
        let plan = Plan::of(&batch.items);
        // The shared resources this batch writes or points to are locked
        // first (created empty when new). A concurrent batch that writes one
        // of them, or adds a pointer to one, holds its row until it commits,
        // so who points to it and what it says are read after that commit:
        // otherwise a Medication and a statement pointing to it, applied at
        // the same time, would each miss the other (found by a rebalance
        // test with two instances).
        let first = plan.shared_needed(&batch.items, &[]);
        let mut shared = if first.is_empty() { Default::default() } else { tx.load_shared(&first).await? };
        let holders = if plan.references.is_empty() { Vec::new() } else { tx.patients_of(&plan.references).await? };
        let referrers = if plan.shared.is_empty() { Vec::new() } else { tx.patients_referring(&plan.shared).await? };
        let patients = plan.patients_to_lock(&holders, &referrers);
        let states = tx.lock_patients(&patients).await?;
        // What the locked records already pointed to is read without a lock
        // (see `Transaction::read_shared`): locks are taken in one order
        // only — positions, then shared resources, then patients.
        let rest: Vec<String> = plan
            .shared_needed(&batch.items, &states)
            .into_iter()
            .filter(|r| !shared.contains_key(r) && !first.contains(r))
            .collect();
        if !rest.is_empty() {
            shared.extend(tx.read_shared(&rest).await?);
        }
        let unheld = if plan.references.is_empty() { Default::default() } else { tx.unheld(&plan.references).await? };
        let locked = Locked::new(patients, states, holders, referrers, shared, unheld);
        let outcome = core::apply(&self.config, &batch.items, locked, now);
        tx.save_patients(outcome.writes).await?;
        if !outcome.unheld_writes.is_empty() {
            tx.save_unheld(&outcome.unheld_writes).await?;
        }
        if !outcome.shared_writes.is_empty() {
            tx.save_shared(&outcome.shared_writes).await?;
        }
        let rejected = RejectedMessage::of_batch(batch);
        if !rejected.is_empty() {
            tx.save_rejections(&rejected).await?;
        }
        let positions = batch.positions();
        if !positions.is_empty() {
            tx.save_positions(&positions).await?;
        }
        tx.commit().await?;
        let mut stats = batch.ingest_stats();
        stats += &outcome.stats;
        Ok((outcome.changes, stats))
    }

    /// The scheduler's path: re-evaluates up to `limit` patients whose wake
    /// time has passed, in one transaction. Returns the alert changes and how
    /// many patients were claimed (fewer than `limit`: nobody else is due).
    pub async fn wake_due<S: Store>(
        &self,
        store: &mut S,
        now: Instant,
        limit: usize,
    ) -> Result<(Vec<AlertChange>, usize), S::Error> {
        let mut tx = store.begin().await?;
        let due = tx.claim_due(now, limit).await?;
        let states = tx.lock_patients(&due).await?;
        let claimed = due.len();
        let needed: Vec<String> = states.iter().flat_map(|s| s.record.needs().map(str::to_owned)).collect();
        let shared = if needed.is_empty() { Default::default() } else { tx.read_shared(&needed).await? };
        let outcome = core::wake(&self.config, due.into_iter().zip(states).collect(), &shared, now);
        tx.save_patients(outcome.writes).await?;
        tx.commit().await?;
        Ok((outcome.changes, claimed))
    }
}
