//! One supported resource → a [`ResourceVersion`] with its facts
//! (contract.md: status handling, clinical time, the code tables).
//!
//! This module holds what every resource shares — identity, patient
//! reference, `meta`, choice elements and clinical times; one submodule per
//! resource family says what that family means.

mod condition;
mod modifier;
mod observation;
mod patient;
mod therapy;
mod value;

use crate::bundle_index::BundleIndex;
use crate::codes::{Code, Terminology};
use crate::datetime::{parse_date_time, parse_instant};
use crate::json::{parse_named, Bad, CodeableConcept, Obj, Reference, Str, F};
use crate::reject::{echo, RejectReason};
use crate::storable::find_control_character;
use crate::types::{is_resource_type, is_valid_id, type_and_id_suffix, ResourceType, ID_SHAPE};
use crate::ResourceVersion;
use islet_guideline::facts::ProblemKind;
use islet_guideline::{Fact, FactKind, Instant, SourceRef};
use serde_json::value::RawValue;
use time::Duration;

type Result<T, E = RejectReason> = std::result::Result<T, E>;

fn field(b: Bad) -> RejectReason {
    RejectReason::MalformedField { field: b.field, problem: b.problem }
}

fn value_err(b: Bad) -> RejectReason {
    RejectReason::MalformedValue { field: b.field, problem: b.problem }
}

/// Decode one supported resource. On error, also returns the id when it was read.
pub(crate) fn decode(
    term: &Terminology,
    received_at: Option<Instant>,
    resource_type: ResourceType,
    obj: &Obj<'_>,
    raw: &str,
    bundle: Option<&BundleIndex<'_>>,
) -> Result<ResourceVersion, (Option<String>, RejectReason)> {
    // First, so that nothing read from the resource (an id, a unit in a
    // problem's text) can carry such a character into the store.
    if let Some(path) = find_control_character(raw) {
        return Err((None, RejectReason::ControlCharacter { path }));
    }
    let id: &str = match obj.id.as_deref() {
        Some(id) if is_valid_id(id) => id,
        Some(_) => {
            let reason = RejectReason::MalformedField { field: "id".into(), problem: ID_SHAPE.into() };
            return Err((None, reason));
        }
        None => {
            let reason = RejectReason::NoId { resource_type: resource_type.to_string() };
            return Err((None, reason));
        }
    };
    let ctx = Ctx { term, received_at, obj, bundle, resource_type };
    ctx.version(id, raw).map_err(|r| (Some(id.to_owned()), r))
}

/// The patient of a supported resource, best effort (for an envelope DELETE).
pub(crate) fn patient_of(resource_type: ResourceType, obj: &Obj<'_>) -> Option<String> {
    if resource_type == ResourceType::Patient {
        let id = obj.id.as_deref()?;
        return is_valid_id(id).then(|| format!("Patient/{id}"));
    }
    let term = Terminology::default();
    let ctx = Ctx { term: &term, received_at: None, obj, bundle: None, resource_type };
    ctx.patient().ok()
}

struct Ctx<'c, 'a> {
    term: &'c Terminology,
    /// When the message was received, when the caller knows (`decode_received`).
    received_at: Option<Instant>,
    obj: &'c Obj<'a>,
    bundle: Option<&'c BundleIndex<'a>>,
    resource_type: ResourceType,
}

/// What a resource says, before it becomes a [`ResourceVersion`].
#[derive(Default)]
struct Said {
    clinical_time: Option<ClinicalTime>,
    retracted: bool,
    preliminary: bool,
    /// Facts at the clinical time.
    kinds: Vec<FactKind>,
    /// Facts with their own time (Patient).
    timed: Vec<(ClinicalTime, FactKind)>,
}

/// A time read from a resource, and where.
#[derive(Debug, Clone, Copy)]
struct ClinicalTime {
    at: Instant,
    element: Element,
    /// The element records something that has happened, so it cannot lie
    /// after the message was received; `false` for a plan.
    happened: bool,
}

/// The name of the element a time was read from (`effectivePeriod.start`),
/// in static parts so that naming it costs nothing unless a problem needs it.
#[derive(Debug, Clone, Copy)]
struct Element(&'static str, &'static str, &'static str);

impl Element {
    fn named(name: &'static str) -> Element {
        Element(name, "", "")
    }

    /// A `prefix[x]` time of type `kind` (a Period gives its start).
    fn choice(prefix: &'static str, kind: &'static str) -> Element {
        Element(prefix, kind, if kind == "Period" { ".start" } else { "" })
    }
}

impl std::fmt::Display for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.0, self.1, self.2)
    }
}

/// How far after the message's receipt a time that has happened may lie:
/// slack for time zones and clocks.
const RECEIPT_SLACK: Duration = Duration::DAY;

impl Said {
    fn push(&mut self, k: FactKind) {
        if !self.kinds.contains(&k) {
            self.kinds.push(k);
        }
    }
}

fn problem(kind: ProblemKind, detail: String) -> FactKind {
    FactKind::Problem { kind, detail }
}

/// The problem that replaces facts dated after the message was received
/// (the detail is for clinicians: it names the element and the date). The
/// receipt time is not in the text: replay output must not depend on the
/// day it runs. The evidence line adds "on <date>", the day it was noted.
fn implausible_time(t: &ClinicalTime, _received: Instant) -> FactKind {
    let detail = format!("{} {} lies in the future, so the data it dates is not used; noted", t.element, t.at.date());
    problem(ProblemKind::ImplausibleTime, detail)
}

/// How a status decides use.
enum Use {
    Facts { preliminary: bool },
    NoFacts,
    Retract,
}

impl<'c, 'a> Ctx<'c, 'a> {
    fn version(&self, id: &str, raw: &str) -> Result<ResourceVersion> {
        if raw.contains("\"modifierExtension\"") {
            if let Some((path, url)) = modifier::find_modifier_extension(raw) {
                return Err(RejectReason::UnsupportedModifierExtension { path, url });
            }
        }
        let meta = self.obj.meta.as_ref();
        let last_updated = meta
            .and_then(|m| m.last_updated.as_deref())
            .map(|s| {
                parse_instant(s).map_err(|why| RejectReason::MalformedField {
                    field: "meta.lastUpdated".into(),
                    problem: why.into(),
                })
            })
            .transpose()?;
        let version_id = meta.and_then(|m| m.version_id.as_deref());
        if version_id.is_some_and(|v| !is_valid_id(v)) {
            return Err(RejectReason::MalformedField { field: "meta.versionId".into(), problem: ID_SHAPE.into() });
        }
        let patient = match self.resource_type {
            ResourceType::Patient => format!("Patient/{id}"),
            _ => self.patient()?,
        };
        // The last resort for a clinical time; the server recorded it, so it has happened.
        let last_updated_time =
            last_updated.map(|at| ClinicalTime { at, element: Element::named("meta.lastUpdated"), happened: true });
        let mut said = match self.resource_type {
            ResourceType::Observation => self.observation()?,
            ResourceType::Condition => self.condition(last_updated_time)?,
            ResourceType::Patient => self.patient_facts(last_updated)?,
            ResourceType::Procedure
            | ResourceType::MedicationStatement
            | ResourceType::MedicationRequest
            | ResourceType::ServiceRequest => self.therapy(last_updated_time)?,
        };
        let kinds_at = self.set_aside_future_times(&mut said);
        let source = SourceRef::new(self.resource_type.as_str(), id);
        let mut facts = Vec::with_capacity(said.kinds.len() + said.timed.len());
        if !said.kinds.is_empty() {
            let Some(at) = kinds_at else {
                return Err(RejectReason::NoClinicalTime {
                    resource_type: self.resource_type.to_string(),
                    looked_at: looked_at(self.resource_type),
                });
            };
            facts.extend(said.kinds.into_iter().map(|kind| Fact {
                source: source.clone(),
                at,
                preliminary: said.preliminary,
                kind,
            }));
        }
        facts.extend(said.timed.into_iter().map(|(t, kind)| Fact {
            source: source.clone(),
            at: t.at,
            preliminary: false,
            kind,
        }));
        Ok(ResourceVersion {
            resource_type: self.resource_type,
            id: id.to_owned(),
            patient,
            version_id: version_id.map(str::to_owned),
            last_updated,
            clinical_time: said.clinical_time.map(|t| t.at),
            retracted: said.retracted,
            facts,
            raw: raw.to_owned(),
            content_hash: crate::canonical::content_sha256(raw),
            pending: Vec::new(),
            definition: None,
        })
    }

    /// With a receipt time, a time that has happened cannot lie after it:
    /// what rests on such a time is replaced by one problem dated at receipt,
    /// and the version loses that clinical time (so it cannot move a replay's
    /// default instant). Returns the instant of the facts in `said.kinds`.
    fn set_aside_future_times(&self, said: &mut Said) -> Option<Instant> {
        let kinds_at = said.clinical_time.map(|t| t.at);
        let Some(received) = self.received_at else {
            return kinds_at;
        };
        let implausible =
            |t: &ClinicalTime| t.happened && received.checked_add(RECEIPT_SLACK).is_some_and(|latest| t.at > latest);
        for (t, kind) in &mut said.timed {
            if implausible(t) {
                *kind = implausible_time(t, received);
                t.at = received;
            }
        }
        let Some(t) = said.clinical_time.filter(implausible) else {
            return kinds_at;
        };
        said.clinical_time = None;
        if said.kinds.is_empty() {
            return None;
        }
        said.kinds = vec![implausible_time(&t, received)];
        said.preliminary = false;
        Some(received)
    }

    // ---- common elements ------------------------------------------------

    /// `Patient/id` from `subject` (or `patient`).
    fn patient(&self) -> Result<String> {
        let (name, f) = if self.obj.has(F::Subject) { ("subject", F::Subject) } else { ("patient", F::Patient) };
        let r: Reference<'a> = self
            .obj
            .get(f)
            .map_err(field)?
            .ok_or(RejectReason::NoPatient { detail: "the resource has no `subject` (or `patient`) reference" })?;
        let Some(reference) = r.reference else {
            return Err(RejectReason::NoPatient {
                detail: if r.identifier.is_some() {
                    "the subject is given by identifier only; Islet needs a Patient reference"
                } else {
                    "the subject has no `reference`"
                },
            });
        };
        let reference: &str = &reference;
        if reference.starts_with('#') {
            return Err(RejectReason::NoPatient {
                detail: "the subject is a contained resource; Islet needs a Patient reference",
            });
        }
        if let Some(target) = self.bundle.and_then(|b| b.resolve(reference)) {
            // A reference to another entry (urn:uuid or Type/id): that entry's identity.
            return match (target.resource_type.as_deref(), target.id.as_deref()) {
                (Some("Patient"), Some(id)) if is_valid_id(id) => Ok(format!("Patient/{id}")),
                (Some(rt), _) if rt != "Patient" => {
                    Err(RejectReason::SubjectNotPatient { field: name, found: echo(rt) })
                }
                _ => Err(RejectReason::NoPatient {
                    detail: "the subject's Bundle entry is a Patient without a valid id",
                }),
            };
        }
        if reference.starts_with("urn:") {
            return Err(RejectReason::UnresolvedReference { field: name.to_owned(), reference: echo(reference) });
        }
        let suffix = type_and_id_suffix(reference);
        match suffix.and_then(|s| s.split_once('/')) {
            Some(("Patient", id)) if is_valid_id(id) => Ok(format!("Patient/{id}")),
            Some((rt, _)) if is_resource_type(rt) && rt != "Patient" => {
                Err(RejectReason::SubjectNotPatient { field: name, found: rt.to_owned() })
            }
            _ => Err(RejectReason::MalformedField {
                field: format!("{name}.reference"),
                problem: "must be Patient/id, an absolute URL ending in /Patient/id, or a urn:uuid of a Bundle entry"
                    .into(),
            }),
        }
    }

    fn status(&self) -> Result<&'c str> {
        self.obj
            .status
            .as_deref()
            .ok_or_else(|| RejectReason::MissingStatus { resource_type: self.resource_type.to_string() })
    }

    fn cc(&self, f: F) -> Result<Option<CodeableConcept<'a>>> {
        self.obj.get(f).map_err(field)
    }

    fn codes<'x>(&'x self, cc: &'x CodeableConcept<'a>) -> impl Iterator<Item = Code> + 'x {
        cc.coding.iter().filter_map(|c| self.term.lookup(c.system.as_deref(), c.code.as_deref()))
    }

    /// A `dateTime` element.
    fn date_time(&self, f: F) -> Result<Option<Instant>> {
        match self.obj.str(f).map_err(field)? {
            None => Ok(None),
            Some(s) => parse_date_time(&s)
                .map(Some)
                .map_err(|why| RejectReason::MalformedField { field: f.name().into(), problem: why.into() }),
        }
    }

    /// One `prefix[x]` choice element: at most one, and only an allowed type.
    fn choice(&self, prefix: &'static str, allowed: &[&'static str]) -> Result<Option<(&'static str, &'a RawValue)>> {
        choice_in(self.obj, prefix, allowed, self.resource_type.as_str(), "")
    }

    /// A `dateTime` element as a clinical time.
    fn date_time_of(&self, f: F, happened: bool) -> Result<Option<ClinicalTime>> {
        Ok(self.date_time(f)?.map(|at| ClinicalTime { at, element: Element::named(f.name()), happened }))
    }

    /// A `prefix[x]` time (dateTime, instant, Period start) as a clinical time.
    fn choice_clinical_time(
        &self,
        prefix: &'static str,
        allowed: &[&'static str],
        happened: bool,
    ) -> Result<Option<ClinicalTime>> {
        let Some((kind, raw)) = self.choice(prefix, allowed)? else {
            return Ok(None);
        };
        let at = self.choice_time(prefix, kind, raw)?;
        Ok(at.map(|at| ClinicalTime { at, element: Element::choice(prefix, kind), happened }))
    }

    /// The instant of a `dateTime` / `Period` / `instant` choice value.
    fn choice_time(&self, prefix: &str, kind: &str, raw: &'a RawValue) -> Result<Option<Instant>> {
        let name = || format!("{prefix}{kind}");
        let bad = |why: &str| RejectReason::MalformedField { field: name(), problem: why.into() };
        match kind {
            "DateTime" | "Instant" => {
                let s: Str<'a> = parse_named(raw, name).map_err(field)?;
                let parsed = if kind == "Instant" { parse_instant(&s) } else { parse_date_time(&s) };
                parsed.map(Some).map_err(bad)
            }
            "Period" => {
                let p: crate::json::Period<'a> = parse_named(raw, name).map_err(field)?;
                if let Some(end) = &p.end {
                    parse_date_time(end).map_err(|why| RejectReason::MalformedField {
                        field: format!("{}.end", name()),
                        problem: why.into(),
                    })?;
                }
                p.start.map(|s| parse_date_time(&s)).transpose().map_err(|why| RejectReason::MalformedField {
                    field: format!("{}.start", name()),
                    problem: why.into(),
                })
            }
            _ => {
                if raw.get().starts_with('{') || raw.get().starts_with('"') {
                    Ok(None)
                } else {
                    Err(bad("has the wrong JSON type"))
                }
            }
        }
    }

    /// A contained resource (`#id`) or another entry of the Bundle.
    fn resolve(&self, reference: &str) -> Option<Obj<'a>> {
        if let Some(local) = reference.strip_prefix('#') {
            let contained: Vec<&'a RawValue> = self.obj.list(F::Contained).ok()?;
            return contained.into_iter().find_map(|raw| {
                let o = Obj::parse(raw.get()).ok()?;
                (o.id.as_deref()? == local).then_some(o)
            });
        }
        self.bundle?.resolve(reference).cloned()
    }
}

/// Where `NoClinicalTime` looked, per resource type.
fn looked_at(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Observation => "effectiveDateTime, effectivePeriod.start, effectiveInstant, issued",
        ResourceType::Condition => "onsetDateTime, onsetPeriod.start, recordedDate, meta.lastUpdated",
        ResourceType::Procedure => "performedDateTime, performedPeriod.start, meta.lastUpdated",
        ResourceType::MedicationStatement => "effectivePeriod.start, effectiveDateTime, dateAsserted, meta.lastUpdated",
        ResourceType::MedicationRequest => "authoredOn, meta.lastUpdated",
        ResourceType::ServiceRequest => "occurrenceDateTime, occurrencePeriod.start, authoredOn, meta.lastUpdated",
        ResourceType::Patient => "meta.lastUpdated",
    }
}

/// One `prefix[x]` element of `obj`, or a rejection naming the offending key.
fn choice_in<'a>(
    obj: &Obj<'a>,
    prefix: &'static str,
    allowed: &[&'static str],
    resource_type: &str,
    path: &str,
) -> Result<Option<(&'static str, &'a RawValue)>> {
    let mut found: Option<(&'static str, &'a RawValue)> = None;
    for (key, raw) in &obj.choices {
        let Some(suffix) = key.strip_prefix(prefix) else {
            continue;
        };
        if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let make = |problem: String| {
            let field = format!("{path}{}", echo(key));
            if prefix == "value" {
                RejectReason::MalformedValue { field, problem }
            } else {
                RejectReason::MalformedField { field, problem }
            }
        };
        let Some(kind) = allowed.iter().find(|a| **a == suffix) else {
            return Err(make(format!(
                "is not a valid {resource_type} {prefix}[x] (allowed: {})",
                allowed.iter().map(|a| format!("{prefix}{a}")).collect::<Vec<_>>().join(", ")
            )));
        };
        if found.is_some() {
            return Err(make(format!("more than one {prefix}[x] element")));
        }
        if raw.get() == "null" {
            return Err(make("is null".into()));
        }
        found = Some((kind, raw));
    }
    Ok(found)
}
