//! Where patient state lives: the [`Store`] trait and the in-memory store.
//!
//! The trait is shaped for batched, transactional use: one transaction per
//! batch of messages; each touched patient is locked before it is read
//! (`SELECT … FOR UPDATE` in PostgreSQL); resources, alerts, the change log,
//! wake times and the source position commit together or not at all.

use crate::alert::{AlertChange, AlertRecord};
use crate::record::PatientRecord;
use islet_fhir::ResourceVersion;
use islet_guideline::Instant;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;

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

/// How far a source (Kafka topic partition, replay file) has been consumed:
/// the next offset to read. Committed with the state it produced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourcePosition {
    pub source: String,
    pub partition: i32,
    pub next_offset: i64,
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
    pub patient: &'a str,
    pub state: PatientState,
    pub written: Vec<Written<'a>>,
    pub changes: Vec<AlertChange>,
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

    /// Writes every locked patient back: state, resource writes, alert changes.
    fn save_patients(&mut self, writes: Vec<PatientWrite<'_>>) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Claims up to `limit` patients whose wake time is ≤ `now` and that no
    /// other transaction holds (`FOR UPDATE SKIP LOCKED`), locks them and
    /// returns their ids, sorted.
    fn claim_due(
        &mut self,
        now: Instant,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Records how far a source was consumed, atomically with the batch.
    fn save_position(&mut self, position: &SourcePosition) -> impl Future<Output = Result<(), Self::Error>> + Send;

    fn commit(self) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// State in memory, for replay and unit tests. Its transactions cannot fail
/// and write through (there is nothing to roll back to), so a batch that
/// panics half-way leaves it half-applied: it is not a durable store.
#[derive(Debug, Default)]
pub struct MemStore {
    patients: HashMap<String, PatientState>,
    /// Resource → every patient that ever held a version of it (almost always one).
    holders: HashMap<String, Vec<String>>,
    positions: HashMap<(String, i32), i64>,
    /// Keep the change log (replay `--changes`); off saves memory.
    pub keep_log: bool,
    log: Vec<AlertChange>,
}

impl MemStore {
    pub fn new(keep_log: bool) -> Self {
        MemStore { keep_log, ..Default::default() }
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

    pub fn position(&self, source: &str, partition: i32) -> Option<i64> {
        self.positions.get(&(source.to_string(), partition)).copied()
    }
}

pub struct MemTx<'a> {
    store: &'a mut MemStore,
}

impl Store for MemStore {
    type Error = Infallible;
    type Tx<'a> = MemTx<'a>;
    async fn begin(&mut self) -> Result<MemTx<'_>, Infallible> {
        Ok(MemTx { store: self })
    }
}

impl Transaction for MemTx<'_> {
    type Error = Infallible;

    async fn lock_patients(&mut self, patients: &[String]) -> Result<Vec<PatientState>, Infallible> {
        Ok(patients.iter().map(|p| self.store.patients.remove(p).unwrap_or_default()).collect())
    }

    async fn patients_of(&mut self, references: &[String]) -> Result<Vec<(String, String)>, Infallible> {
        Ok(references
            .iter()
            .flat_map(|r| self.store.holders.get(r).into_iter().flatten().map(move |p| (r.clone(), p.clone())))
            .collect())
    }

    async fn save_patients(&mut self, writes: Vec<PatientWrite<'_>>) -> Result<(), Infallible> {
        for w in writes {
            for written in &w.written {
                if let Written::Version(v) = written {
                    let reference = v.reference();
                    let holders = self.store.holders.entry(reference).or_default();
                    if !holders.iter().any(|p| p == w.patient) {
                        holders.push(w.patient.to_string());
                    }
                }
            }
            if self.store.keep_log {
                self.store.log.extend(w.changes);
            }
            self.store.patients.insert(w.patient.to_string(), w.state);
        }
        Ok(())
    }

    async fn claim_due(&mut self, now: Instant, limit: usize) -> Result<Vec<String>, Infallible> {
        let mut due: Vec<(&Instant, &String)> = self
            .store
            .patients
            .iter()
            .filter_map(|(p, s)| s.wake_at.as_ref().filter(|w| **w <= now).map(|w| (w, p)))
            .collect();
        due.sort();
        let mut claimed: Vec<String> = due.into_iter().take(limit).map(|(_, p)| p.clone()).collect();
        claimed.sort();
        Ok(claimed)
    }

    async fn save_position(&mut self, position: &SourcePosition) -> Result<(), Infallible> {
        self.store.positions.insert((position.source.clone(), position.partition), position.next_offset);
        Ok(())
    }

    async fn commit(self) -> Result<(), Infallible> {
        Ok(())
    }
}
