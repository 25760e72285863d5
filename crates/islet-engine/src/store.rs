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
    Deleted { reference: &'a str, version_id: Option<&'a str> },
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

pub trait Transaction: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Locks a patient for the rest of the transaction and loads its state
    /// (empty for a patient never seen). Callers lock patients in sorted
    /// order, so two writers cannot deadlock.
    fn lock_patient(&mut self, patient: &str) -> impl Future<Output = Result<PatientState, Self::Error>> + Send;

    /// The patient that holds a resource (`Type/id`), for a DELETE that names only the resource.
    fn patient_of(&mut self, reference: &str) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    /// Writes a locked patient back: its state, the resource writes and the
    /// alert changes of this batch. Called for every locked patient.
    fn save_patient(
        &mut self,
        patient: &str,
        state: PatientState,
        written: &[Written<'_>],
        changes: &[AlertChange],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Claims up to `limit` patients whose wake time is ≤ `now` and that no
    /// other transaction holds (`FOR UPDATE SKIP LOCKED`); they are locked.
    fn claim_due(&mut self, now: Instant, limit: usize) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

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
    holder: HashMap<String, String>,
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

    async fn lock_patient(&mut self, patient: &str) -> Result<PatientState, Infallible> {
        Ok(self.store.patients.remove(patient).unwrap_or_default())
    }

    async fn patient_of(&mut self, reference: &str) -> Result<Option<String>, Infallible> {
        Ok(self.store.holder.get(reference).cloned())
    }

    async fn save_patient(
        &mut self,
        patient: &str,
        state: PatientState,
        written: &[Written<'_>],
        changes: &[AlertChange],
    ) -> Result<(), Infallible> {
        for w in written {
            if let Written::Version(v) = w {
                let reference = v.reference();
                if !self.store.holder.contains_key(&reference) {
                    self.store.holder.insert(reference, patient.to_string());
                }
            }
        }
        if self.store.keep_log {
            self.store.log.extend_from_slice(changes);
        }
        self.store.patients.insert(patient.to_string(), state);
        Ok(())
    }

    async fn claim_due(&mut self, now: Instant, limit: usize) -> Result<Vec<String>, Infallible> {
        let mut due: Vec<(&Instant, &String)> =
            self.store.patients.iter().filter_map(|(p, s)| s.wake_at.as_ref().filter(|w| **w <= now).map(|w| (w, p))).collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, p)| p.clone()).collect())
    }

    async fn save_position(&mut self, position: &SourcePosition) -> Result<(), Infallible> {
        self.store.positions.insert((position.source.clone(), position.partition), position.next_offset);
        Ok(())
    }

    async fn commit(self) -> Result<(), Infallible> {
        Ok(())
    }
}
