//! The sans-IO core: apply a batch to locked patient states, assess each
//! touched patient, reconcile its alerts. Pure and synchronous — the store
//! shells ([`crate::Engine::process`], [`crate::MemStore::process`]) do the
//! locking, loading and saving around it, and CDS Hooks can assess a record
//! with no store at all ([`assess`]).

use crate::alert::{AlertChange, AlertRecord, Cause};
use crate::ingest::{Item, Stats};
use crate::reconcile::reconcile;
use crate::record::{Applied, VersionStamp, Versus};
use crate::store::{PatientState, PatientWrite, Written};
use islet_fhir::{Change, Definition, SharedVersion};
use islet_guideline::{Config, Instant};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A shared resource (a Medication) as kept: its version and what it says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedEntry {
    pub stamp: VersionStamp,
    pub definition: Definition,
}

/// The shared resources a batch needs, by reference (`Medication/x`).
pub type Shared = BTreeMap<String, SharedEntry>;

/// A shared resource version this batch made current.
#[derive(Debug, Clone, Copy)]
pub struct SharedWrite<'a> {
    pub version: &'a SharedVersion,
}

/// What a batch must lock before it can be applied.
#[derive(Debug, Default)]
pub struct Plan {
    /// Every resource (`Type/id`) the batch writes or deletes, sorted, unique:
    /// the store says which patients hold them.
    pub references: Vec<String>,
    /// Every patient the batch names.
    pub patients: BTreeSet<String>,
    /// Every shared resource (`Medication/x`) the batch writes, sorted, unique:
    /// the store says which patients point to them.
    pub shared: Vec<String>,
}

impl Plan {
    pub fn of(items: &[Item]) -> Plan {
        let mut plan = Plan::default();
        for change in items.iter().flat_map(|i| &i.decoded.changes) {
            match change {
                Change::Upsert(v) => {
                    plan.references.push(v.reference());
                    plan.patients.insert(v.patient.clone());
                }
                Change::Delete { resource_type, id, patient, .. } => {
                    plan.references.push(format!("{resource_type}/{id}"));
                    plan.patients.extend(patient.clone());
                }
                Change::Shared(s) => plan.shared.push(s.reference.clone()),
                // Only its holder (if any) is locked: a resource Islet does not
                // use creates no patient of its own.
                Change::Unused(v) => plan.references.push(v.reference()),
                Change::Skipped { .. } => {}
            }
        }
        plan.references.sort_unstable();
        plan.references.dedup();
        plan.shared.sort_unstable();
        plan.shared.dedup();
        plan
    }

    /// The patients to lock, sorted (two writers lock in the same order, so
    /// they cannot deadlock): those the batch names, those holding its
    /// resources (`holders`: (reference, patient) pairs from the store) and
    /// those pointing to its shared resources (`referrers`).
    pub fn patients_to_lock(&self, holders: &[(String, String)], referrers: &[(String, String)]) -> Vec<String> {
        let mut all = self.patients.clone();
        all.extend(holders.iter().chain(referrers).map(|(_, p)| p.clone()));
        all.into_iter().collect()
    }

    /// The shared resources to load (after the patients are locked): those
    /// the batch writes, and those the locked records or the batch's
    /// resources point to.
    pub fn shared_needed(&self, items: &[Item], states: &[PatientState]) -> Vec<String> {
        let mut needed: BTreeSet<&str> = self.shared.iter().map(String::as_str).collect();
        needed.extend(states.iter().flat_map(|s| s.record.needs()));
        for change in items.iter().flat_map(|i| &i.decoded.changes) {
            if let Change::Upsert(v) = change {
                needed.extend(v.pending.iter().map(|p| p.needs.as_str()).filter(|n| !n.starts_with("BodyStructure/")));
            }
        }
        needed.into_iter().map(str::to_owned).collect()
    }
}

/// The locked patients, as loaded, who holds which resource, who points to
/// which shared resource, and the shared resources loaded.
pub struct Locked {
    pub states: BTreeMap<String, PatientState>,
    pub holders: HashMap<String, BTreeSet<String>>,
    pub referrers: HashMap<String, BTreeSet<String>>,
    pub shared: Shared,
    /// Versions no patient holds (a DELETE that found no holder, a version
    /// whose code Islet does not use), by resource: an older version that
    /// arrives later (from another partition, say) must not undo them.
    pub unheld: Unheld,
}

/// The strongest version stamp per resource no patient holds.
pub type Unheld = BTreeMap<String, VersionStamp>;

fn by_reference(pairs: Vec<(String, String)>) -> HashMap<String, BTreeSet<String>> {
    let mut map: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (reference, patient) in pairs {
        map.entry(reference).or_default().insert(patient);
    }
    map
}

impl Locked {
    /// `patients` and their `states` in the same order (as the store returns them).
    pub fn new(
        patients: Vec<String>,
        states: Vec<PatientState>,
        holders: Vec<(String, String)>,
        referrers: Vec<(String, String)>,
        shared: Shared,
        unheld: Unheld,
    ) -> Locked {
        Locked {
            states: patients.into_iter().zip(states).collect(),
            holders: by_reference(holders),
            referrers: by_reference(referrers),
            shared,
            unheld,
        }
    }
}

/// What applying a batch produced: the writes (every locked patient, so the
/// store can release and save them), the alert changes, and the counts.
pub struct Outcome<'a> {
    pub writes: Vec<PatientWrite<'a>>,
    pub shared_writes: Vec<SharedWrite<'a>>,
    /// Orphan DELETE tombstones this batch added or strengthened.
    pub unheld_writes: Unheld,
    pub changes: Vec<AlertChange>,
    pub stats: Stats,
}

/// A locked patient and what this batch did to it.
#[derive(Default)]
struct Touched<'a> {
    state: PatientState,
    written: Vec<Written<'a>>,
    /// Resources applied, deleted or moved away: why the patient is re-evaluated.
    causes: Vec<String>,
}

impl Touched<'_> {
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

/// Applies `items` in message order to the locked patients, then assesses
/// and reconciles every patient whose record changed, at `now`.
///
/// A resource is held by one patient at a time: a newer version naming
/// another patient (a wrong-patient correction) moves it — the old patient
/// gets a tombstone, so its alerts no longer rest on it — while an older
/// version naming another patient is stale wherever it points.
pub fn apply<'a>(config: &Config, items: &'a [Item], locked: Locked, now: Instant) -> Outcome<'a> {
    let Locked { states, mut holders, referrers, mut shared, mut unheld } = locked;
    let mut stats = Stats::default();
    let mut shared_writes = Vec::new();
    let mut unheld_writes = Unheld::new();
    let mut touched: BTreeMap<String, Touched<'a>> =
        states.into_iter().map(|(p, state)| (p, Touched { state, ..Touched::default() })).collect();

    for change in items.iter().flat_map(|i| &i.decoded.changes) {
        match change {
            Change::Upsert(v) => {
                let reference = v.reference();
                if let Some(stamp) = unheld.get(&reference) {
                    // A DELETE or an unused version came first: the patient's
                    // record gets it as a tombstone before the version is compared.
                    let t = touched.get_mut(&v.patient).expect("patient is locked");
                    t.state.record.apply_tombstone(reference.clone(), stamp.clone());
                }
                let outcome = match current_holder(&touched, holders.get(&reference), &reference, &v.patient) {
                    None => None,
                    Some(old) => {
                        let t = touched.get_mut(&old).expect("holder is locked");
                        match t.state.record.versus(&reference, v) {
                            Versus::Newer | Versus::Conflict { wins: true } => {
                                t.state.record.move_away(&reference, v);
                                t.causes.push(reference.clone());
                                None
                            }
                            Versus::Same => Some(Applied::Duplicate),
                            Versus::Older => Some(Applied::Stale),
                            Versus::Conflict { wins: false } => {
                                if t.state.record.flag_conflict(&reference) {
                                    t.state.record.note_conflict(&reference, now);
                                    t.causes.push(reference.clone());
                                    Some(Applied::Conflict { replaced: false })
                                } else {
                                    Some(Applied::Duplicate)
                                }
                            }
                        }
                    }
                };
                let outcome = outcome.unwrap_or_else(|| {
                    let t = touched.get_mut(&v.patient).expect("patient is locked");
                    let o = t.state.record.apply_version(v);
                    if let Applied::Conflict { .. } = o {
                        t.state.record.note_conflict(&reference, now);
                    }
                    if matches!(o, Applied::Stored | Applied::Conflict { replaced: true }) {
                        t.state.record.date_receipt_problems(&reference, now);
                        t.written.push(Written::Version(v));
                        holders.entry(reference.clone()).or_default().insert(v.patient.clone());
                    }
                    if o.changed() {
                        t.causes.push(reference);
                    }
                    o
                });
                count(&mut stats, outcome);
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
                    keep_unheld(&mut unheld, &mut unheld_writes, reference, VersionStamp::deletion(version_id.clone()));
                    continue;
                };
                let t = touched.get_mut(&holder).expect("holder is locked");
                let o = t.state.record.apply_delete(reference.clone(), version_id.clone());
                if o == Applied::Stored {
                    t.written.push(Written::Deleted {
                        resource_type: resource_type.as_str(),
                        id,
                        version_id: version_id.as_deref(),
                    });
                    t.causes.push(reference);
                }
                count(&mut stats, o);
            }
            Change::Shared(version) => {
                let stamp = VersionStamp {
                    version_id: version.version_id.clone(),
                    last_updated: version.last_updated,
                    content: crate::record::ContentHash(version.content_hash),
                };
                let outcome = match shared.get(&version.reference).map(|e| stamp.versus(&e.stamp)) {
                    None | Some(Versus::Newer) => Applied::Stored,
                    Some(Versus::Conflict { wins: true }) => Applied::Conflict { replaced: true },
                    Some(Versus::Same) => Applied::Duplicate,
                    Some(Versus::Older) => Applied::Stale,
                    // Nobody to show a shared conflict to: the larger hash is kept, counted.
                    Some(Versus::Conflict { wins: false }) => Applied::Conflict { replaced: false },
                };
                if matches!(outcome, Applied::Stored | Applied::Conflict { replaced: true }) {
                    let entry = SharedEntry { stamp, definition: version.definition.clone() };
                    if shared.insert(version.reference.clone(), entry.clone()).map(|old| old.definition)
                        != Some(entry.definition)
                    {
                        for p in referrers.get(&version.reference).into_iter().flatten() {
                            if let Some(t) = touched.get_mut(p) {
                                t.causes.push(version.reference.clone());
                            }
                        }
                    }
                    shared_writes.push(SharedWrite { version });
                }
                count(&mut stats, outcome);
            }
            Change::Unused(v) => {
                let reference = v.reference();
                let holder = holders
                    .get(&reference)
                    .and_then(|h| h.iter().find(|p| touched[p.as_str()].last_held(&reference)).cloned());
                let Some(holder) = holder else {
                    stats.skipped += 1;
                    // Only a version with a key can order later copies (without one,
                    // order is by content anyway); nothing else of it is kept.
                    if v.version_id.is_some() || v.last_updated.is_some() {
                        keep_unheld(&mut unheld, &mut unheld_writes, reference, VersionStamp::of(v));
                    }
                    continue;
                };
                let t = touched.get_mut(&holder).expect("holder is locked");
                let outcome = match t.state.record.versus(&reference, v) {
                    Versus::Newer | Versus::Conflict { wins: true } if holder == v.patient => {
                        let o = t.state.record.apply_version(v);
                        if let Applied::Conflict { .. } = o {
                            t.state.record.note_conflict(&reference, now);
                        }
                        t.written.push(Written::Version(v));
                        o
                    }
                    // Re-coded and moved to another patient: the holder loses it,
                    // and nobody needs a resource Islet does not use.
                    Versus::Newer | Versus::Conflict { wins: true } => {
                        t.state.record.move_away(&reference, v);
                        Applied::Stored
                    }
                    Versus::Same => Applied::Duplicate,
                    Versus::Older => Applied::Stale,
                    Versus::Conflict { wins: false } => {
                        if t.state.record.flag_conflict(&reference) {
                            t.state.record.note_conflict(&reference, now);
                            Applied::Conflict { replaced: false }
                        } else {
                            Applied::Duplicate
                        }
                    }
                };
                if outcome.changed() {
                    t.causes.push(reference);
                }
                count(&mut stats, outcome);
            }
            Change::Skipped { .. } => stats.skipped += 1,
        }
    }

    let mut writes = Vec::with_capacity(touched.len());
    let mut all_changes = Vec::new();
    for (patient, t) in touched {
        let Touched { mut state, written, mut causes } = t;
        let mut changes = Vec::new();
        if !causes.is_empty() {
            causes.sort_unstable();
            causes.dedup();
            let cause = Cause::Data { resources: causes };
            let (desired, wake_at) = assess(config, &patient, &state, &shared, now);
            changes = reconcile(&mut state.alerts, desired, now, &cause);
            state.wake_at = wake_at;
        }
        all_changes.extend(changes.iter().cloned());
        writes.push(PatientWrite { patient, state, written, changes });
    }
    stats.patients = writes.len() as u64;
    stats.alert_changes = all_changes.len() as u64;
    Outcome { writes, shared_writes, unheld_writes, changes: all_changes, stats }
}

/// The scheduler's path: re-evaluates claimed patients at `now` (time passed).
pub fn wake<'a>(config: &Config, due: Vec<(String, PatientState)>, shared: &Shared, now: Instant) -> Outcome<'a> {
    let mut writes = Vec::with_capacity(due.len());
    let mut all = Vec::new();
    for (patient, mut state) in due {
        let (desired, wake_at) = assess(config, &patient, &state, shared, now);
        let changes = reconcile(&mut state.alerts, desired, now, &Cause::Clock);
        state.wake_at = wake_at;
        all.extend(changes.iter().cloned());
        writes.push(PatientWrite { patient, state, written: Vec::new(), changes });
    }
    let stats = Stats { patients: writes.len() as u64, alert_changes: all.len() as u64, ..Stats::default() };
    Outcome { writes, shared_writes: Vec::new(), unheld_writes: Unheld::new(), changes: all, stats }
}

/// The desired alert set of one patient at `now`, and its next wake time.
/// Reads nothing but its arguments: CDS Hooks assesses a copy of a record
/// with draft orders added this way, writing nothing. Pending facts resolve
/// against the record's own BodyStructures and the `shared` Medications.
pub fn assess(
    config: &Config,
    patient: &str,
    state: &PatientState,
    shared: &Shared,
    now: Instant,
) -> (Vec<AlertRecord>, Option<Instant>) {
    let (resolved, waiting) = state.record.resolved_facts(&|r| shared.get(r).map(|e| e.definition.clone()));
    let assessment = islet_guideline::evaluate(state.record.facts().chain(&resolved), now, config);
    let mut alerts: Vec<AlertRecord> =
        assessment.alerts.iter().map(|a| AlertRecord::from_guideline(patient, config.profile, a)).collect();
    // What Islet could not take into account must show where it advises.
    let untold = waiting_notes(&waiting, now);
    if !untold.is_empty() {
        for a in alerts.iter_mut().filter(|a| a.kind != islet_guideline::Kind::Data) {
            a.detail.push_str(&untold);
        }
    }
    (alerts, assessment.wake_at)
}

/// A note for each fact still waiting for a resource sent in another message
/// (a therapy whose Medication, a size whose BodyStructure, has not arrived).
fn waiting_notes(waiting: &[&islet_fhir::PendingFact], now: Instant) -> String {
    let mut notes = String::new();
    for p in waiting.iter().filter(|p| p.at <= now) {
        let what = match p.kind {
            islet_fhir::PendingKind::Therapy { .. } => "that therapy is not taken into account",
            islet_fhir::PendingKind::TumourSize { .. } => "that size is not used",
        };
        notes.push_str(&format!(
            "\n\n_{} names {}, which Islet has not received: {what}._",
            p.source.as_str(),
            p.needs
        ));
    }
    notes
}

/// Keeps `stamp` for a resource no patient holds, when it beats what is kept.
fn keep_unheld(unheld: &mut Unheld, writes: &mut Unheld, reference: String, stamp: VersionStamp) {
    if unheld.get(&reference).is_none_or(|old| stamp.versus(old) == Versus::Newer) {
        unheld.insert(reference.clone(), stamp.clone());
        writes.insert(reference, stamp);
    }
}

fn count(stats: &mut Stats, outcome: Applied) {
    match outcome {
        Applied::Stored => stats.stored += 1,
        Applied::Duplicate => stats.duplicates += 1,
        Applied::Stale => stats.stale += 1,
        Applied::Conflict { replaced } => {
            stats.version_conflicts += 1;
            if replaced {
                stats.stored += 1;
            } else {
                stats.stale += 1;
            }
        }
    }
}
