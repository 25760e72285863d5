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
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

impl BatchStats {
    fn count(&mut self, outcome: Applied) {
        match outcome {
            Applied::Stored => self.stored += 1,
            Applied::Duplicate => self.duplicates += 1,
            Applied::Stale => self.stale += 1,
        }
    }
}

/// A locked patient and what this batch did to it.
#[derive(Default)]
struct Touched<'a> {
    state: PatientState,
    versions: Vec<&'a islet_fhir::ResourceVersion>,
    deletions: Vec<(&'a str, &'a str, Option<&'a str>)>,
    /// Resources applied, deleted or moved away: why the patient is re-evaluated.
    causes: Vec<String>,
}

impl Touched<'_> {
    fn new(state: PatientState) -> Self {
        Touched { state, ..Touched::default() }
    }

    /// Holds a live (not retracted, deleted or moved) copy of the resource.
    fn holds(&self, reference: &str) -> bool {
        self.state.record.resources.get(reference).is_some_and(|r| !r.gone)
    }

    /// Was the last holder of the resource (its copy may be retracted or deleted, not moved).
    fn last_held(&self, reference: &str) -> bool {
        self.state.record.resources.get(reference).is_some_and(|r| !r.moved)
    }
}

/// The patient, other than `new_patient`, that currently holds `reference`
/// (any version, even retracted: its version still orders later ones).
fn current_holder(
    touched: &BTreeMap<String, Touched<'_>>,
    candidates: Option<&BTreeSet<String>>,
    reference: &str,
    new_patient: &str,
) -> Option<String> {
    candidates?.iter().find(|p| p.as_str() != new_patient && touched[p.as_str()].last_held(reference)).cloned()
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
    ///
    /// Changes apply in message order. A resource is held by one patient at
    /// a time: a newer version naming another patient (a wrong-patient
    /// correction) moves it — the old patient gets a tombstone, so its alerts
    /// no longer rest on it — while an older version naming another patient
    /// is stale wherever it points.
    pub async fn process<S: Store>(
        &self,
        store: &mut S,
        items: &[Item],
        position: Option<&SourcePosition>,
        now: Instant,
    ) -> Result<(Vec<AlertChange>, BatchStats), S::Error> {
        let mut stats = BatchStats::default();
        let mut tx = store.begin().await?;

        // Who may hold each resource this batch touches: the store's answer
        // plus the patients named in the batch. All of them are locked.
        let mut references: Vec<String> = Vec::new();
        let mut patients: BTreeSet<String> = BTreeSet::new();
        for change in items.iter().flat_map(|i| &i.decoded.changes) {
            match change {
                Change::Upsert(v) => {
                    references.push(v.reference());
                    patients.insert(v.patient.clone());
                }
                Change::Delete { resource_type, id, patient, .. } => {
                    references.push(format!("{resource_type}/{id}"));
                    patients.extend(patient.clone());
                }
                Change::Skipped { .. } => {}
            }
        }
        references.sort();
        references.dedup();
        let mut holders: HashMap<String, BTreeSet<String>> = HashMap::new();
        if !references.is_empty() {
            for (reference, patient) in tx.patients_of(&references).await? {
                patients.insert(patient.clone());
                holders.entry(reference).or_default().insert(patient);
            }
        }
        let patients: Vec<String> = patients.into_iter().collect();
        let states = tx.lock_patients(&patients).await?;
        let mut touched: BTreeMap<String, Touched> =
            patients.into_iter().zip(states).map(|(p, state)| (p, Touched::new(state))).collect();

        for item in items {
            for change in &item.decoded.changes {
                match change {
                    Change::Upsert(v) => {
                        let reference = v.reference();
                        let outcome = match current_holder(&touched, holders.get(&reference), &reference, &v.patient) {
                            Some(old) => {
                                match touched[&old].state.record.compare_version(&reference, v, item.arrival) {
                                    std::cmp::Ordering::Greater => {
                                        let t = touched.get_mut(&old).expect("holder is locked");
                                        t.state.record.move_away(&reference, v, item.arrival);
                                        t.causes.push(reference.clone());
                                        Applied::Stored
                                    }
                                    std::cmp::Ordering::Equal => Applied::Duplicate,
                                    std::cmp::Ordering::Less => Applied::Stale,
                                }
                            }
                            None => Applied::Stored,
                        };
                        let outcome = if outcome == Applied::Stored {
                            let t = touched.get_mut(&v.patient).expect("patient is locked");
                            let o = t.state.record.apply_version(v, item.arrival);
                            if o == Applied::Stored {
                                t.versions.push(v);
                                t.causes.push(reference.clone());
                                holders.entry(reference).or_default().insert(v.patient.clone());
                            }
                            o
                        } else {
                            outcome
                        };
                        stats.count(outcome);
                    }
                    Change::Delete { resource_type, id, patient, version_id } => {
                        let reference = format!("{resource_type}/{id}");
                        // The patient that holds it now (a live copy), else the
                        // one whose copy is already gone (a repeated DELETE).
                        let holder = patient.clone().filter(|p| touched.contains_key(p)).or_else(|| {
                            let h = holders.get(&reference)?;
                            h.iter()
                                .find(|p| touched[*p].holds(&reference))
                                .or_else(|| h.iter().find(|p| touched[*p].last_held(&reference)))
                                .cloned()
                        });
                        let Some(holder) = holder else {
                            stats.orphan_deletes += 1;
                            continue;
                        };
                        let t = touched.get_mut(&holder).expect("holder is locked");
                        let o = t.state.record.apply_delete(reference.clone(), version_id.clone(), item.arrival);
                        if o == Applied::Stored {
                            t.deletions.push((resource_type.as_str(), id, version_id.as_deref()));
                            t.causes.push(reference);
                        }
                        stats.count(o);
                    }
                    Change::Skipped { .. } => stats.skipped += 1,
                }
            }
        }

        let mut writes = Vec::with_capacity(touched.len());
        let mut all_changes = Vec::new();
        for (patient, t) in &mut touched {
            let Touched { state, versions, deletions, causes } = std::mem::take(t);
            let written: Vec<Written> = versions
                .iter()
                .map(|v| Written::Version(v))
                .chain(deletions.iter().map(|(rt, id, v)| Written::Deleted { resource_type: rt, id, version_id: *v }))
                .collect();
            let mut state = state;
            let mut changes_here = Vec::new();
            if !causes.is_empty() {
                let mut causes = causes;
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
        stats.patients = writes.len();
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
