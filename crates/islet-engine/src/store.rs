//! Where patient state lives: the [`Store`] trait and the in-memory store.
//!
//! The trait is shaped for batched, transactional use: one transaction per
//! batch of messages; each touched patient is locked before it is read
//! (`SELECT … FOR UPDATE` in PostgreSQL); resources, alerts, the change log,
//! wake times and the source position commit together or not at all.

use crate::alert::{AlertChange, AlertRecord};
use crate::core::{self, Locked, Plan, Shared, SharedEntry, SharedWrite, Unheld};
use crate::ingest::{Batch, Rejection, SourcePosition, Stats};
use crate::record::PatientRecord;
use islet_fhir::ResourceVersion;
use islet_guideline::{Config, Instant};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

/// Everything Islet keeps about one patient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientState {
    pub record: PatientRecord,
    /// Current alerts by id.
    pub alerts: BTreeMap<String, AlertRecord>,
    /// When to re-evaluate without new data.
    pub wake_at: Option<Instant>,
}

/// A resource write of this batch, for stores that keep the raw versions.
#[derive(Debug, Clone, Copy)]
pub enum Written<'a> {
    Version(&'a ResourceVersion),
    Deleted { resource_type: &'a str, id: &'a str, version_id: Option<&'a str> },
}

pub trait Store: Send {
    type Error: std::error::Error + Send + Sync + 'static;
    type Tx<'a>: Transaction<Error = Self::Error>
    where
        Self: 'a;
    fn begin(&mut self) -> impl Future<Output = Result<Self::Tx<'_>, Self::Error>> + Send;
}

/// One patient's writes at the end of a batch.
#[derive(Debug)]
pub struct PatientWrite<'a> {
    pub patient: String,
    pub state: PatientState,
    pub written: Vec<Written<'a>>,
    pub changes: Vec<AlertChange>,
}

/// A rejected message as a durable store keeps it: the rejection and the
/// message's original bytes (for the dead-letter relay).
#[derive(Debug, Clone)]
pub struct RejectedMessage {
    pub rejection: Rejection,
    pub message: Option<Arc<[u8]>>,
    /// The Kafka record's key and timestamp (for the dead-letter record).
    pub key: Option<Arc<[u8]>>,
    pub timestamp_ms: Option<i64>,
}

impl RejectedMessage {
    /// Every rejection of `batch`, with the bytes of its message when kept.
    /// An HTTP request's rejections are its answer, not kept.
    pub fn of_batch(batch: &Batch) -> Vec<RejectedMessage> {
        batch
            .items
            .iter()
            .filter(|item| item.origin.source != crate::ingest::Source::Http)
            .flat_map(|item| {
                item.rejections().map(|rejection| RejectedMessage {
                    rejection,
                    message: item.bytes.clone(),
                    key: item.key.clone(),
                    timestamp_ms: item.timestamp_ms,
                })
            })
            .collect()
    }
}

/// A transaction over a whole batch. The methods take many patients at once,
/// so a database store needs a handful of round trips per batch, not one
/// per message.
pub trait Transaction: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Locks these patients (given sorted, so two writers cannot deadlock)
    /// for the rest of the transaction and loads their states, in the same
    /// order (empty for a patient never seen).
    fn lock_patients(
        &mut self,
        patients: &[String],
    ) -> impl Future<Output = Result<Vec<PatientState>, Self::Error>> + Send;

    /// The patients that hold or held each of these resources (`Type/id`):
    /// (reference, patient) pairs; unknown references are left out. The
    /// engine locks them all, so it can see which one holds the resource now
    /// (for DELETEs that name only the resource, and for a version that moves
    /// the resource to another patient).
    fn patients_of(
        &mut self,
        references: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, Self::Error>> + Send;

    /// Writes every locked patient back: state, resource writes, alert
    /// changes, and which shared resources its record points to
    /// (`record.needs()`, for [`Transaction::patients_referring`]).
    fn save_patients(&mut self, writes: Vec<PatientWrite<'_>>) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The patients whose records point to each of these shared resources:
    /// (reference, patient) pairs. The engine locks and re-evaluates them
    /// when the resource changes.
    fn patients_referring(
        &mut self,
        references: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, Self::Error>> + Send;

    /// Loads and locks (in a database: in reference order, before the
    /// patients; a row is created for a resource not seen yet, so it is
    /// locked too) the shared resources a batch writes or points to; unknown
    /// ones are left out of the result.
    fn load_shared(&mut self, references: &[String]) -> impl Future<Output = Result<Shared, Self::Error>> + Send;

    /// Reads, without locking, shared resources the locked patients' records
    /// already point to. No lock is needed: a batch that changes one of them
    /// locks every patient pointing to it, so it waits for this transaction
    /// and re-evaluates them after it. Locking them here, after the
    /// patients, would take locks out of order (two batches deadlocked on
    /// each other's Medication rows when they ran side by side).
    fn read_shared(&mut self, references: &[String]) -> impl Future<Output = Result<Shared, Self::Error>> + Send;

    /// The tombstones of DELETEs that named one of these resources before any
    /// patient held it.
    fn unheld(&mut self, references: &[String]) -> impl Future<Output = Result<Unheld, Self::Error>> + Send;

    /// Keeps new or stronger orphan DELETE tombstones.
    fn save_unheld(&mut self, unheld: &Unheld) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Writes the shared resource versions this batch made current.
    fn save_shared(&mut self, writes: &[SharedWrite<'_>]) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Keeps the batch's rejected messages (with the batch: a crash neither
    /// loses nor doubles one).
    fn save_rejections(&mut self, rejected: &[RejectedMessage])
        -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Claims up to `limit` patients whose wake time is ≤ `now` and that no
    /// other transaction holds (`FOR UPDATE SKIP LOCKED`), locks them and
    /// returns their ids, sorted.
    fn claim_due(
        &mut self,
        now: Instant,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Locks the position rows of these Kafka partitions for the rest of the
    /// transaction (creating them when new) and returns the committed next
    /// offsets: the batch skips what is below them (fencing against a
    /// consumer that owned a partition during a rebalance).
    fn fence_positions(
        &mut self,
        partitions: &[(String, i32)],
    ) -> impl Future<Output = Result<std::collections::BTreeMap<(String, i32), i64>, Self::Error>> + Send;

    /// Records how far sources were consumed, atomically with the batch.
    fn save_positions(&mut self, positions: &[SourcePosition]) -> impl Future<Output = Result<(), Self::Error>> + Send;

    fn commit(self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// State in memory, for replay and unit tests: the same core as the durable
/// stores, called synchronously. Nothing here can fail, and nothing survives
/// the process.
#[derive(Debug, Default)]
pub struct MemStore {
    patients: HashMap<String, PatientState>,
    /// Resource → every patient that ever held a version of it (almost always one).
    holders: HashMap<String, Vec<String>>,
    positions: HashMap<(String, i32), SourcePosition>,
    /// Shared resources (Medications) by reference.
    shared: Shared,
    /// DELETEs that found no holder.
    unheld: Unheld,
    /// Shared resource → the patients whose records point to it.
    referrers: HashMap<String, Vec<String>>,
    /// Keep the change log (replay `--changes`); off saves memory.
    pub keep_log: bool,
    log: Vec<AlertChange>,
}

impl MemStore {
    pub fn new(keep_log: bool) -> Self {
        MemStore { keep_log, ..Default::default() }
    }

    /// Applies one batch (the engine core between lock and save) and returns
    /// its alert changes and counts.
    pub fn process(&mut self, config: &Config, batch: &Batch, now: Instant) -> (Vec<AlertChange>, Stats) {
        let plan = Plan::of(&batch.items);
        let holders: Vec<(String, String)> = plan
            .references
            .iter()
            .flat_map(|r| self.holders.get(r).into_iter().flatten().map(move |p| (r.clone(), p.clone())))
            .collect();
        let referrers: Vec<(String, String)> = plan
            .shared
            .iter()
            .flat_map(|r| self.referrers.get(r).into_iter().flatten().map(move |p| (r.clone(), p.clone())))
            .collect();
        let patients = plan.patients_to_lock(&holders, &referrers);
        let states: Vec<PatientState> = patients.iter().map(|p| self.patients.remove(p).unwrap_or_default()).collect();
        let shared = self.shared_of(&plan.shared_needed(&batch.items, &states));
        let unheld =
            plan.references.iter().filter_map(|r| self.unheld.get(r).map(|s| (r.clone(), s.clone()))).collect();
        let locked = Locked::new(patients, states, holders, referrers, shared, unheld);
        let outcome = core::apply(config, &batch.items, locked, now);
        self.unheld.extend(outcome.unheld_writes.clone());
        for w in &outcome.shared_writes {
            let v = w.version;
            let stamp = crate::record::VersionStamp {
                version_id: v.version_id.clone(),
                last_updated: v.last_updated,
                content: crate::record::ContentHash(v.content_hash),
            };
            self.shared.insert(v.reference.clone(), SharedEntry { stamp, definition: v.definition.clone() });
        }
        self.save(outcome.writes);
        for p in batch.positions() {
            self.positions.insert((p.source.clone(), p.partition), p);
        }
        let mut stats = batch.ingest_stats();
        stats += &outcome.stats;
        (outcome.changes, stats)
    }

    /// The scheduler's path: re-evaluates up to `limit` patients whose wake
    /// time is ≤ `now`, earliest first.
    pub fn wake_due(&mut self, config: &Config, now: Instant, limit: usize) -> (Vec<AlertChange>, usize) {
        let mut due: Vec<(Instant, String)> =
            self.patients.iter().filter_map(|(p, s)| s.wake_at.filter(|w| *w <= now).map(|w| (w, p.clone()))).collect();
        due.sort();
        due.truncate(limit);
        let mut claimed: Vec<String> = due.into_iter().map(|(_, p)| p).collect();
        claimed.sort();
        let states: Vec<(String, PatientState)> =
            claimed.iter().map(|p| (p.clone(), self.patients.remove(p).unwrap_or_default())).collect();
        let needed: Vec<String> = states.iter().flat_map(|(_, s)| s.record.needs().map(str::to_owned)).collect();
        let shared = self.shared_of(&needed);
        let outcome = core::wake(config, states, &shared, now);
        let n = outcome.writes.len();
        self.save(outcome.writes);
        (outcome.changes, n)
    }

    fn shared_of(&self, references: &[String]) -> Shared {
        references.iter().filter_map(|r| self.shared.get(r).map(|e| (r.clone(), e.clone()))).collect()
    }

    fn save(&mut self, writes: Vec<PatientWrite<'_>>) {
        for w in writes {
            for needed in w.state.record.needs() {
                let referrers = self.referrers.entry(needed.to_owned()).or_default();
                if !referrers.contains(&w.patient) {
                    referrers.push(w.patient.clone());
                }
            }
            for written in &w.written {
                if let Written::Version(v) = written {
                    let holders = self.holders.entry(v.reference()).or_default();
                    if !holders.contains(&w.patient) {
                        holders.push(w.patient.clone());
                    }
                }
            }
            if self.keep_log {
                self.log.extend(w.changes);
            }
            self.patients.insert(w.patient, w.state);
        }
    }

    pub fn patients(&self) -> impl Iterator<Item = (&String, &PatientState)> {
        self.patients.iter()
    }

    pub fn patient(&self, patient: &str) -> Option<&PatientState> {
        self.patients.get(patient)
    }

    /// Every current alert, sorted by patient, rule, then id.
    pub fn alerts(&self) -> Vec<&AlertRecord> {
        let mut all: Vec<&AlertRecord> = self.patients.values().flat_map(|s| s.alerts.values()).collect();
        all.sort_by(|a, b| (&a.patient, &a.rule, &a.id).cmp(&(&b.patient, &b.rule, &b.id)));
        all
    }

    pub fn change_log(&self) -> &[AlertChange] {
        &self.log
    }

    pub fn position(&self, source: &str, partition: i32) -> Option<&SourcePosition> {
        self.positions.get(&(source.to_string(), partition))
    }
}
