//! One supported resource → a [`ResourceVersion`] with its facts
//! (contract.md: status handling, clinical time, the code tables).
//!
//! This module holds what every resource shares — identity, patient
//! reference, `meta`, choice elements and clinical times; one submodule per
//! resource family says what that family means.

mod body_structure;
mod condition;
mod medication;
mod modifier;
mod observation;
mod patient;
mod therapy;
mod value;

pub(crate) use medication::medication;

use crate::bundle_index::BundleIndex;
use crate::codes::{Code, Terminology};
use crate::datetime::{parse_date_time, parse_instant, parse_period_end};
use crate::json::{parse_named, Bad, CodeableConcept, Obj, Reference, Str, F};
use crate::linked::{PendingFact, PendingKind};
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

/// What decoding one supported resource gave.
pub(crate) enum Decoded {
    /// A resource Islet uses.
    Used(ResourceVersion),
    /// A resource of a supported type whose code Islet does not use, with a
    /// readable identity (id, patient, version): it carries no facts, and
    /// replaces an earlier version that did (a diagnosis re-coded to
    /// something else must stop counting).
    Unused(ResourceVersion),
    /// Not used, and without a readable identity: skipped.
    Skipped,
}

/// Decode one supported resource. A resource Islet would not use (its code
/// is not in the tables) is never rejected, whatever else is wrong with it
/// (contract.md v2, "Relevance before validation"); only a resource Islet
/// would use is validated. On error, also returns the id when it was read.
pub(crate) fn decode(
    term: &Terminology,
    received_at: Option<Instant>,
    resource_type: ResourceType,
    obj: &Obj<'_>,
    raw: &str,
    bundle: Option<&BundleIndex<'_>>,
) -> Result<Decoded, (Option<String>, RejectReason)> {
    let ctx = Ctx { term, received_at, obj, bundle, resource_type };
    if !ctx.relevant() {
        return Ok(ctx.unused(raw).map_or(Decoded::Skipped, Decoded::Unused));
    }
    let id = identity(obj, resource_type.as_str(), raw)?;
    let id: &str = &id;
    ctx.version(id, raw).map(Decoded::Used).map_err(|r| (Some(id.to_owned()), r))
}

/// What every stored resource must be before anything else is read: no
/// control character anywhere (checked first, so that nothing read from the
/// resource — an id, a unit in a problem's text — can carry one into the
/// store), a FHIR id, and no modifier extension anywhere.
fn identity<'a>(obj: &Obj<'a>, resource_type: &str, raw: &str) -> Result<Str<'a>, (Option<String>, RejectReason)> {
    if let Some(path) = find_control_character(raw) {
        return Err((None, RejectReason::ControlCharacter { path }));
    }
    let id = match obj.str(F::Id) {
        Ok(Some(id)) if is_valid_id(&id) => id,
        Ok(Some(_)) => {
            let reason = RejectReason::MalformedField { field: "id".into(), problem: ID_SHAPE.into() };
            return Err((None, reason));
        }
        Ok(None) => return Err((None, RejectReason::NoId { resource_type: resource_type.to_owned() })),
        Err(b) => return Err((None, field(b))),
    };
    if let Some((path, url)) = modifier::find_modifier_extension(raw) {
        return Err((Some(id.to_string()), RejectReason::UnsupportedModifierExtension { path, url }));
    }
    Ok(id)
}

/// `meta.versionId` (a FHIR id) and `meta.lastUpdated` of a resource Islet keeps.
fn version_keys<'a>(obj: &Obj<'a>) -> Result<(Option<Str<'a>>, Option<Instant>)> {
    let Some(meta) = obj.meta().map_err(field)? else {
        return Ok((None, None));
    };
    let last_updated = meta
        .last_updated
        .as_deref()
        .map(|s| {
            parse_instant(s)
                .map_err(|why| RejectReason::MalformedField { field: "meta.lastUpdated".into(), problem: why.into() })
        })
        .transpose()?;
    if meta.version_id.as_deref().is_some_and(|v| !is_valid_id(v)) {
        return Err(RejectReason::MalformedField { field: "meta.versionId".into(), problem: ID_SHAPE.into() });
    }
    Ok((meta.version_id, last_updated))
}

/// The patient of a supported resource, best effort (for an envelope DELETE).
pub(crate) fn patient_of(resource_type: ResourceType, obj: &Obj<'_>) -> Option<String> {
    if resource_type == ResourceType::Patient {
        let id = obj.id()?;
        return is_valid_id(&id).then(|| format!("Patient/{}", &*id));
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
    /// Facts at the clinical time that wait for a resource sent in another
    /// message (`Medication/m1`, `BodyStructure/b1`).
    pending: Vec<(String, PendingKind)>,
    /// What this resource says for other resources' pending facts.
    definition: Option<crate::Definition>,
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

    /// The end of a `prefix[x]` Period.
    fn period_end(prefix: &'static str) -> Element {
        Element(prefix, "Period", ".end")
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

/// Would Islet use a resource, judged by its code before anything is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relevance {
    /// A code Islet uses — or one it cannot read, which only validation can name.
    Used,
    /// Only codes Islet does not use.
    Unused,
    /// No code at all (no drug): used only as a retraction.
    NoCode,
}

impl Relevance {
    fn of(used: bool) -> Relevance {
        if used {
            Relevance::Used
        } else {
            Relevance::Unused
        }
    }
}

/// How a status decides use.
enum Use {
    Facts { preliminary: bool },
    NoFacts,
    Retract,
}

impl<'c, 'a> Ctx<'c, 'a> {
    /// Would Islet use this resource? Decided by its code alone (or, for a
    /// medication, the drug), before anything else is read. What cannot be
    /// told (an unreadable code, a drug in another message) counts as used,
    /// so that it is validated.
    fn relevant(&self) -> bool {
        let relevance = match self.resource_type {
            ResourceType::Patient | ResourceType::BodyStructure => Relevance::Used,
            ResourceType::Observation => self.observation_relevance(),
            ResourceType::Condition => self.condition_relevance(),
            ResourceType::Procedure
            | ResourceType::ServiceRequest
            | ResourceType::MedicationStatement
            | ResourceType::MedicationRequest => self.therapy_relevance(),
        };
        match relevance {
            Relevance::Used => true,
            Relevance::Unused => false,
            // A retraction is honoured even when its body is broken: a
            // version marked as an error may have lost its code.
            Relevance::NoCode => self.is_retraction(),
        }
    }

    /// Does the status (read leniently: nothing is validated yet) retract the resource?
    fn is_retraction(&self) -> bool {
        if self.resource_type == ResourceType::Condition {
            return matches!(self.verification_status(), Ok(Some("entered-in-error" | "refuted")));
        }
        self.obj.str(F::Status).ok().flatten().is_some_and(|s| &*s == "entered-in-error")
    }

    /// Does `f` (a CodeableConcept) hold a code `wanted` accepts?
    fn has_code(&self, f: F, wanted: impl Fn(Code) -> bool) -> Relevance {
        match self.obj.get::<CodeableConcept<'a>>(f) {
            Ok(Some(cc)) if cc.coding.is_empty() => Relevance::NoCode,
            Ok(Some(cc)) => Relevance::of(self.codes(&cc).any(wanted)),
            Ok(None) => Relevance::NoCode,
            Err(_) => Relevance::Used,
        }
    }

    /// The identity of a resource Islet does not use, when everything it
    /// needs is readable and storable; `None` otherwise (then it is only skipped).
    fn unused(&self, raw: &str) -> Option<ResourceVersion> {
        if find_control_character(raw).is_some() {
            return None;
        }
        let id = self.obj.str(F::Id).ok()??;
        if !is_valid_id(&id) {
            return None;
        }
        let (version_id, last_updated) = version_keys(self.obj).ok()?;
        let patient = match self.resource_type {
            ResourceType::Patient => return None,
            _ => self.patient().ok()?,
        };
        Some(ResourceVersion {
            resource_type: self.resource_type,
            id: id.to_string(),
            patient,
            version_id: version_id.map(|v| v.to_string()),
            last_updated,
            clinical_time: None,
            retracted: false,
            facts: Vec::new(),
            raw: raw.to_owned(),
            content_hash: crate::canonical::content_sha256(raw),
            pending: Vec::new(),
            definition: None,
        })
    }

    fn version(&self, id: &str, raw: &str) -> Result<ResourceVersion> {
        let (version_id, last_updated) = version_keys(self.obj)?;
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
            ResourceType::BodyStructure => self.body_structure()?,
            ResourceType::Procedure
            | ResourceType::MedicationStatement
            | ResourceType::MedicationRequest
            | ResourceType::ServiceRequest => self.therapy(last_updated_time)?,
        };
        let kinds_at = self.set_aside_future_times(&mut said);
        let source = SourceRef::new(self.resource_type.as_str(), id);
        let mut facts = Vec::with_capacity(said.kinds.len() + said.timed.len());
        let mut pending = Vec::with_capacity(said.pending.len());
        if !said.kinds.is_empty() || !said.pending.is_empty() {
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
            pending.extend(said.pending.into_iter().map(|(needs, kind)| PendingFact {
                source: source.clone(),
                at,
                preliminary: said.preliminary,
                needs,
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
            version_id: version_id.map(|v| v.to_string()),
            last_updated,
            clinical_time: said.clinical_time.map(|t| t.at),
            retracted: said.retracted,
            facts,
            raw: raw.to_owned(),
            content_hash: crate::canonical::content_sha256(raw),
            pending,
            definition: said.definition,
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
        if said.kinds.is_empty() && said.pending.is_empty() {
            return None;
        }
        said.pending.clear();
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
            return match (target.resource_type.as_deref(), target.id().as_deref()) {
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

    fn status(&self) -> Result<Str<'a>> {
        self.obj
            .str(F::Status)
            .map_err(field)?
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

    /// `prefix` Period's start and its exclusive end, when the resource
    /// gives a Period (checked already by [`Ctx::choice_time`]). A period
    /// end is inclusive at its precision (FHIR): `2024-06-30` runs to the
    /// start of 1 July, in the offset of the start when it has one.
    fn period(&self, prefix: &'static str) -> Result<(Option<Instant>, Option<Instant>)> {
        let Some(p) = self.period_of(prefix)? else {
            return Ok((None, None));
        };
        let bad = |part: &str, why: &str| RejectReason::MalformedField {
            field: format!("{prefix}Period.{part}"),
            problem: why.into(),
        };
        let start = p.start.as_deref().map(parse_date_time).transpose().map_err(|why| bad("start", why))?;
        let offset = start.map_or(time::UtcOffset::UTC, |s| s.offset());
        let end = p.end.as_deref().map(|e| parse_period_end(e, offset)).transpose().map_err(|why| bad("end", why))?;
        Ok((start, end))
    }

    /// `prefix`Period, when the resource gives its `prefix[x]` as a Period.
    fn period_of(&self, prefix: &'static str) -> Result<Option<crate::json::Period<'a>>> {
        let Some((_, raw)) = self.obj.choices.iter().find(|(k, _)| k.strip_prefix(prefix) == Some("Period")) else {
            return Ok(None);
        };
        parse_named(raw, || format!("{prefix}Period")).map_err(field)
    }

    /// The `end` of `prefix`Period as written (a date is its first instant).
    fn period_written_end(&self, prefix: &'static str) -> Result<Option<Instant>> {
        let Some(end) = self.period_of(prefix)?.and_then(|p| p.end) else {
            return Ok(None);
        };
        parse_date_time(&end)
            .map(Some)
            .map_err(|why| RejectReason::MalformedField { field: format!("{prefix}Period.end"), problem: why.into() })
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
                (*o.id()? == *local).then_some(o)
            });
        }
        self.bundle?.resolve(reference).cloned()
    }

    /// A reference that names a resource of `resource_type` by `Type/id`
    /// (relative or absolute) but is not in this message: `Type/id`, the
    /// key of a resource sent in another message.
    fn elsewhere(&self, reference: &str, resource_type: &str) -> Option<String> {
        if reference.starts_with('#') || self.resolve(reference).is_some() {
            return None;
        }
        let (rt, id) = type_and_id_suffix(reference)?.split_once('/')?;
        (rt == resource_type && is_valid_id(id)).then(|| format!("{rt}/{id}"))
    }
}

/// Where `NoClinicalTime` looked, per resource type.
fn looked_at(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::Observation => {
            "effectiveDateTime, effectivePeriod.start, effectiveInstant, effectivePeriod.end, issued"
        }
        ResourceType::Condition => "onsetDateTime, onsetPeriod.start, recordedDate, meta.lastUpdated",
        ResourceType::Procedure => "performedDateTime, performedPeriod.start, meta.lastUpdated",
        ResourceType::MedicationStatement => "effectivePeriod.start, effectiveDateTime, dateAsserted, meta.lastUpdated",
        ResourceType::MedicationRequest => "authoredOn, meta.lastUpdated",
        ResourceType::ServiceRequest => "occurrenceDateTime, occurrencePeriod.start, authoredOn, meta.lastUpdated",
        ResourceType::Patient => "meta.lastUpdated",
        ResourceType::BodyStructure => "(a BodyStructure carries no facts)",
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
