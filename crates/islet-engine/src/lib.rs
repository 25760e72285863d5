//! The engine: decode → apply → evaluate → reconcile → commit, for any [`Store`].
//!
//! **Invariants.** The engine reads no clock: "now" is an argument (the
//! service passes its clock, replay an explicit instant). The outcome for a
//! patient depends on the set of resource versions and "now", never on
//! arrival order (except where the contract says arrival order breaks ties:
//! unversioned resources with equal `meta.lastUpdated`). Decoding happens
//! before a transaction opens; a transaction covers one batch.
//!
//! **API.** [`Engine::decode`], [`Engine::process`] (one batch of decoded
//! messages through a store), [`Engine::wake_due`] (the scheduler's path),
//! [`replay`] (files through an in-memory store), [`MemStore`].

pub mod alert;
pub mod block_on;
pub mod reconcile;
pub mod record;
pub mod replay;
pub mod store;

pub use alert::{AlertChange, AlertRecord, Cause, ChangeKind};
pub use store::{MemStore, PatientState, PatientWrite, SourcePosition, Store, Transaction, Written};

use islet_fhir::{Change, Decoded, Decoder, SiteMapping};
use islet_guideline::{Config, Instant};
use record::Applied;
use std::collections::{BTreeMap, HashMap};

pub struct Engine {
    decoder: Decoder,
    config: Config,
}

/// One decoded message and its arrival sequence number (file line, Kafka offset).
pub struct Item {
    pub arrival: u64,
    pub decoded: Decoded,
}

/// Counts of what a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub stored: usize,
    pub duplicates: usize,
    pub stale: usize,
    pub skipped: usize,
    /// DELETEs naming a resource no patient holds.
    pub orphan_deletes: usize,
    pub patients: usize,
}

impl std::ops::AddAssign for BatchStats {
    fn add_assign(&mut self, o: Self) {
        self.stored += o.stored;
        self.duplicates += o.duplicates;
        self.stale += o.stale;
        self.skipped += o.skipped;
        self.orphan_deletes += o.orphan_deletes;
        self.patients += o.patients;
    }
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

    /// Bytes → resource versions and rejections. Pure; no store involved.
    pub fn decode(&self, bytes: &[u8]) -> Decoded {
        self.decoder.decode(bytes)
    }

    /// The desired alert set of one patient at `now`, and its next wake time.
    pub fn assess(&self, patient: &str, state: &PatientState, now: Instant) -> (Vec<AlertRecord>, Option<Instant>) {
        let assessment = islet_guideline::evaluate(state.record.facts(), now, &self.config);
        let alerts =
            assessment.alerts.iter().map(|a| AlertRecord::from_guideline(patient, self.config.profile, a)).collect();
        (alerts, assessment.wake_at)
    }

    /// Applies one batch in one transaction and commits it with `position`.
    /// Returns the alert changes it made.
    pub async fn process<S: Store>(
        &self,
        store: &mut S,
        items: &[Item],
        position: Option<&SourcePosition>,
        now: Instant,
    ) -> Result<(Vec<AlertChange>, BatchStats), S::Error> {
        let mut stats = BatchStats::default();
        let mut tx = store.begin().await?;

        // A DELETE that names only the resource goes to the patient holding
        // it: a version earlier in this batch, else the store.
        let mut holder_here: HashMap<String, &str> = HashMap::new();
        let mut unknown_holders: Vec<String> = Vec::new();
        for change in items.iter().flat_map(|i| &i.decoded.changes) {
            match change {
                Change::Upsert(v) => {
                    holder_here.insert(v.reference(), &v.patient);
                }
                Change::Delete { resource_type, id, patient: None, .. } => {
                    let reference = format!("{resource_type}/{id}");
                    if !holder_here.contains_key(&reference) {
                        unknown_holders.push(reference);
                    }
                }
                _ => {}
            }
        }
        let holders =
            if unknown_holders.is_empty() { HashMap::new() } else { tx.patients_of(&unknown_holders).await? };

        let mut by_patient: BTreeMap<String, Vec<(u64, &Change)>> = BTreeMap::new();
        for item in items {
            for change in &item.decoded.changes {
                let patient = match change {
                    Change::Upsert(v) => v.patient.clone(),
                    Change::Delete { resource_type, id, patient, .. } => {
                        let reference = format!("{resource_type}/{id}");
                        let holder = patient
                            .clone()
                            .or_else(|| holder_here.get(&reference).map(|p| p.to_string()))
                            .or_else(|| holders.get(&reference).cloned());
                        match holder {
                            Some(p) => p,
                            None => {
                                stats.orphan_deletes += 1;
                                continue;
                            }
                        }
                    }
                    Change::Skipped { .. } => {
                        stats.skipped += 1;
                        continue;
                    }
                };
                by_patient.entry(patient).or_default().push((item.arrival, change));
            }
        }

        let patients: Vec<String> = by_patient.keys().cloned().collect();
        let states = tx.lock_patients(&patients).await?;
        let mut writes = Vec::with_capacity(patients.len());
        let mut all_changes = Vec::new();
        for ((patient, changes), mut state) in by_patient.iter().zip(states) {
            let mut written = Vec::new();
            let mut causes = Vec::new();
            for (arrival, change) in changes {
                let outcome = match change {
                    Change::Upsert(v) => {
                        let o = state.record.apply_version(v, *arrival);
                        if o == Applied::Stored {
                            written.push(Written::Version(v));
                            causes.push(v.reference());
                        }
                        o
                    }
                    Change::Delete { resource_type, id, version_id, .. } => {
                        let reference = format!("{resource_type}/{id}");
                        let o = state.record.apply_delete(reference.clone(), version_id.clone(), *arrival);
                        if o == Applied::Stored {
                            written.push(Written::Deleted { resource_type, id, version_id: version_id.as_deref() });
                            causes.push(reference);
                        }
                        o
                    }
                    Change::Skipped { .. } => unreachable!("skipped changes are not grouped"),
                };
                match outcome {
                    Applied::Stored => stats.stored += 1,
                    Applied::Duplicate => stats.duplicates += 1,
                    Applied::Stale => stats.stale += 1,
                }
            }
            let mut changes_here = Vec::new();
            if !written.is_empty() {
                causes.sort();
                causes.dedup();
                let cause = Cause::Data { resources: causes };
                let (desired, wake_at) = self.assess(patient, &state, now);
                changes_here = reconcile::reconcile(&mut state.alerts, desired, now, &cause);
                state.wake_at = wake_at;
            }
            all_changes.extend(changes_here.iter().cloned());
            writes.push(PatientWrite { patient, state, written, changes: changes_here });
        }
        stats.patients = patients.len();
        tx.save_patients(writes).await?;
        if let Some(p) = position {
            tx.save_position(p).await?;
        }
        tx.commit().await?;
        Ok((all_changes, stats))
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
        let mut all = Vec::new();
        let mut writes = Vec::with_capacity(due.len());
        for (patient, mut state) in due.iter().zip(states) {
            let (desired, wake_at) = self.assess(patient, &state, now);
            let changes = reconcile::reconcile(&mut state.alerts, desired, now, &Cause::Clock);
            state.wake_at = wake_at;
            all.extend(changes.iter().cloned());
            writes.push(PatientWrite { patient, state, written: Vec::new(), changes });
        }
        tx.save_patients(writes).await?;
        tx.commit().await?;
        Ok((all, due.len()))
    }
}
