//! One supported resource → a [`ResourceVersion`] with its facts
//! (contract.md: status handling, clinical time, the code tables).

use crate::codes::{Answer, Code, ObsKind, Site, Terminology};
use crate::datetime::{parse_date, parse_date_time, parse_instant};
use crate::decode::BundleIndex;
use crate::json::{
    parse_named, parse_raw, Bad, CodeableConcept, Comparator, Dosage, Extension, Obj, Quantity, Reference,
    ReferenceRange, Str, F,
};
use crate::reject::{echo, RejectReason};
use crate::units::{factor, Canonical};
use crate::ResourceVersion;
use islet_guideline::facts::{
    CgaValue, Concentration, DiscoveryMode, DiseaseStatus, Grade, HormonalSymptoms, Ki67Percent,
    LiverInvolvementPercent, Millimetres, MitoticCount, ProblemKind, Recist, Resectability, SstrImaging, Syndrome,
    Tense, Therapy, TherapyClass, TumourSite,
};
use islet_guideline::{Fact, FactKind, Instant, SourceRef};
use serde_json::value::RawValue;
use time::macros::datetime;

/// Is `id` a FHIR id (`[A-Za-z0-9\-\.]{1,64}`)?
pub(crate) fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The instant a `deceasedBoolean: true` Patient is deceased from when
/// `meta.lastUpdated` is absent. A flag without a date must hold at every
/// instant Islet may evaluate (facts dated after "now" are not yet known), so
/// it is dated before any clinical fact Islet handles.
const DECEASED_SINCE_UNKNOWN: Instant = datetime!(1900-01-01 0:00 UTC);

const HISTOLOGY_EXTENSION: &str =
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VER_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const UCUM: &str = "http://unitsofmeasure.org";

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
    resource_type: &str,
    obj: &Obj<'_>,
    raw: &str,
    bundle: Option<&BundleIndex<'_>>,
) -> Result<ResourceVersion, (Option<String>, RejectReason)> {
    let id: &str = match obj.id.as_deref() {
        Some(id) if is_valid_id(id) => id,
        Some(_) => {
            let problem = "must be 1–64 letters, digits, '-' or '.'".to_owned();
            let reason = RejectReason::MalformedField { field: "id".into(), problem };
            return Err((None, reason));
        }
        None => {
            let reason = RejectReason::NoId { resource_type: resource_type.to_owned() };
            return Err((None, reason));
        }
    };
    let ctx = Ctx { term, obj, bundle, resource_type };
    ctx.version(id, raw).map_err(|r| (Some(id.to_owned()), r))
}

/// The patient of a resource, best effort (for an envelope DELETE).
pub(crate) fn patient_of(resource_type: &str, obj: &Obj<'_>) -> Option<String> {
    if resource_type == "Patient" {
        let id = obj.id.as_deref()?;
        return is_valid_id(id).then(|| format!("Patient/{id}"));
    }
    let term = Terminology::default();
    let ctx = Ctx { term: &term, obj, bundle: None, resource_type };
    ctx.patient().ok()
}

struct Ctx<'c, 'a> {
    term: &'c Terminology,
    obj: &'c Obj<'a>,
    bundle: Option<&'c BundleIndex<'a>>,
    resource_type: &'c str,
}

/// What a resource says, before it becomes a [`ResourceVersion`].
#[derive(Default)]
struct Said {
    clinical_time: Option<Instant>,
    retracted: bool,
    preliminary: bool,
    /// Facts at the clinical time.
    kinds: Vec<FactKind>,
    /// Facts with their own time (Patient).
    timed: Vec<(Instant, FactKind)>,
}

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

/// How a status decides use.
enum Use {
    Facts { preliminary: bool },
    NoFacts,
    Retract,
}

impl<'c, 'a> Ctx<'c, 'a> {
    fn version(&self, id: &str, raw: &str) -> Result<ResourceVersion> {
        if raw.contains("\"modifierExtension\"") {
            if let Some((path, url)) = find_modifier_extension(raw) {
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
        let patient = if self.resource_type == "Patient" { format!("Patient/{id}") } else { self.patient()? };
        let said = match self.resource_type {
            "Observation" => self.observation()?,
            "Condition" => self.condition(last_updated)?,
            "Patient" => self.patient_facts(last_updated)?,
            _ => self.therapy(last_updated)?,
        };
        let source = SourceRef::new(self.resource_type, id);
        let mut facts = Vec::with_capacity(said.kinds.len() + said.timed.len());
        if !said.kinds.is_empty() {
            let Some(at) = said.clinical_time else {
                return Err(RejectReason::NoClinicalTime {
                    resource_type: self.resource_type.to_owned(),
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
        facts.extend(said.timed.into_iter().map(|(at, kind)| Fact {
            source: source.clone(),
            at,
            preliminary: false,
            kind,
        }));
        Ok(ResourceVersion {
            resource_type: self.resource_type.to_owned(),
            id: id.to_owned(),
            patient,
            version_id: meta.and_then(|m| m.version_id.as_deref()).map(str::to_owned),
            last_updated,
            clinical_time: said.clinical_time,
            retracted: said.retracted,
            facts,
            raw: raw.to_owned(),
            content_hash: crate::canonical::content_sha256(raw),
        })
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
                _ => Err(RejectReason::NoPatient { detail: "the subject's Bundle entry is a Patient without an id" }),
            };
        }
        if reference.starts_with("urn:") {
            return Err(RejectReason::UnresolvedReference { field: name.to_owned(), reference: echo(reference) });
        }
        let suffix = crate::decode::type_and_id_suffix(reference);
        match suffix.and_then(|s| s.split_once('/')) {
            Some(("Patient", id)) if is_valid_id(id) => Ok(format!("Patient/{id}")),
            Some((rt, _)) if crate::types::is_resource_type(rt) && rt != "Patient" => {
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
            .ok_or_else(|| RejectReason::MissingStatus { resource_type: self.resource_type.to_owned() })
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
        choice_in(self.obj, prefix, allowed, self.resource_type, "")
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

    // ---- Observation -----------------------------------------------------

    fn observation(&self) -> Result<Said> {
        let status = self.status()?;
        let usage = match status {
            "final" | "amended" | "corrected" => Use::Facts { preliminary: false },
            "preliminary" => Use::Facts { preliminary: true },
            "registered" | "cancelled" | "unknown" => Use::NoFacts,
            "entered-in-error" => Use::Retract,
            other => return Err(RejectReason::UnknownStatus { field: "status", found: echo(other) }),
        };
        if let Use::Retract = usage {
            // A retraction is honoured even when the rest of the body is
            // broken: keeping a version someone marked as an error is worse.
            let clinical_time = self.observation_time().ok().flatten();
            return Ok(Said { clinical_time, retracted: true, ..Said::default() });
        }
        let code =
            self.cc(F::Code)?.ok_or_else(|| RejectReason::MissingCode { resource_type: "Observation".into() })?;
        // Read and check everything first, whatever the status: a malformed
        // value is a rejection even on a version that carries no facts.
        let value = observation_value(self.obj, "")?;
        let clinical_time = self.observation_time()?;
        let components: Vec<&'a RawValue> = self.obj.list(F::Component).map_err(field)?;
        let mut parts = Vec::with_capacity(components.len());
        for (i, raw) in components.iter().enumerate() {
            let name = || format!("component[{i}]");
            let obj = crate::decode::parse_object(raw.get())
                .map_err(|_| RejectReason::MalformedField { field: name(), problem: "must be a JSON object".into() })?;
            let code: CodeableConcept<'a> = obj
                .get(F::Code)
                .map_err(|b| RejectReason::MalformedField {
                    field: format!("{}.{}", name(), b.field),
                    problem: b.problem,
                })?
                .ok_or_else(|| RejectReason::MissingCode { resource_type: format!("Observation {}", name()) })?;
            let value = observation_value(&obj, &format!("{}.", name()))?;
            parts.push((code, value));
        }
        let mut said = Said { clinical_time, ..Said::default() };
        match usage {
            Use::Retract | Use::NoFacts => return Ok(said),
            Use::Facts { preliminary } => said.preliminary = preliminary,
        }
        let Some(kind) = self.codes(&code).find_map(|c| match c {
            Code::Obs(k) => Some(k),
            _ => None,
        }) else {
            return Ok(said);
        };
        // The value: for a size panel, the longest-dimension component wins.
        let value = if matches!(kind, ObsKind::SizePanel | ObsKind::SizeLongest) {
            parts
                .iter()
                .find(|(c, v)| v.is_some() && self.codes(c).any(|c| c == Code::Obs(ObsKind::SizeLongest)))
                .map(|(_, v)| v.clone())
                .unwrap_or(value)
        } else {
            value
        };
        let Some(value) = value else {
            return Ok(said); // no value (dataAbsentReason): nothing to say
        };
        self.observation_facts(kind, value, &mut said)?;
        Ok(said)
    }

    /// `effective[x]` (dateTime, Period.start, instant), else `issued`.
    fn observation_time(&self) -> Result<Option<Instant>> {
        let mut time = None;
        if let Some((kind, raw)) = self.choice("effective", &["DateTime", "Period", "Timing", "Instant"])? {
            time = self.choice_time("effective", kind, raw)?;
        }
        let issued = match self.obj.str(F::Issued).map_err(field)? {
            Some(s) => Some(
                parse_instant(&s)
                    .map_err(|why| RejectReason::MalformedField { field: "issued".into(), problem: why.into() })?,
            ),
            None => None,
        };
        Ok(time.or(issued))
    }

    fn observation_facts(&self, kind: ObsKind, value: Value<'a>, said: &mut Said) -> Result<()> {
        let label = obs_label(kind);
        let wrong_type = |v: &Value<'_>, wanted: &str| {
            problem(
                ProblemKind::ImplausibleValue,
                format!("{label}: {} is not usable; Islet reads {wanted}", v.element()),
            )
        };
        let fact = match kind {
            ObsKind::Ki67 => {
                self.quantity_fact(&value, label, Canonical::Percent, |v| Ki67Percent::new(v).map(FactKind::Ki67))
            }
            ObsKind::Mitoses => match &value {
                Value::Integer(n) => bounded(MitoticCount::new(*n as f64).map(FactKind::Mitoses)),
                _ => self.quantity_fact(&value, label, Canonical::MitosesPer10Hpf, |v| {
                    MitoticCount::new(v).map(FactKind::Mitoses)
                }),
            },
            ObsKind::LiverInvolvement => self.quantity_fact(&value, label, Canonical::Percent, |v| {
                LiverInvolvementPercent::new(v).map(FactKind::LiverInvolvement)
            }),
            ObsKind::PancreaticPolypeptide => self.quantity_fact(&value, label, Canonical::PicogramPerMl, |v| {
                Concentration::new(v).map(FactKind::PancreaticPolypeptide)
            }),
            ObsKind::CgaMass | ObsKind::CgaMolar | ObsKind::CgaUnits => {
                let (unit, wrap): (Canonical, fn(Concentration) -> CgaValue) = match kind {
                    ObsKind::CgaMass => (Canonical::NanogramPerMl, CgaValue::NgPerMl),
                    ObsKind::CgaMolar => (Canonical::NanomolPerL, CgaValue::NmolPerL),
                    _ => (Canonical::UnitPerL, CgaValue::UPerL),
                };
                let upper_limit = self.upper_limit(label, unit, said)?;
                self.quantity_fact(&value, label, unit, |v| {
                    Concentration::new(v).map(|c| FactKind::ChromograninA { value: wrap(c), upper_limit })
                })
            }
            ObsKind::SizePanel | ObsKind::SizeLongest => match self.tumour_site()? {
                Some(site) => self.quantity_fact(&value, label, Canonical::Millimetre, |v| {
                    Millimetres::new(v).map(|largest| FactKind::TumourSize { site, largest })
                }),
                // A size of something else (a lymph node …): not a fact Islet uses.
                None => return Ok(()),
            },
            ObsKind::LiverLesionCount => match value {
                Value::Integer(n) => match u32::try_from(n) {
                    Ok(n) => FactKind::LiverLesionCount(n),
                    Err(_) => {
                        problem(ProblemKind::ImplausibleValue, format!("{label} {n} is outside its physical range ≥ 0"))
                    }
                },
                ref v => wrong_type(v, "valueInteger"),
            },
            ObsKind::Krenning | ObsKind::Ecog => {
                let max = if kind == ObsKind::Krenning { 4 } else { 5 };
                let n = match &value {
                    Value::Integer(n) => Some(*n),
                    Value::Concept(cc) if kind == ObsKind::Ecog => match self.answer(cc) {
                        Some(Answer::Ecog(n)) => Some(i64::from(n)),
                        _ => {
                            said.push(self.unknown_answer(label, cc));
                            return Ok(());
                        }
                    },
                    v => {
                        said.push(wrong_type(v, "valueInteger"));
                        return Ok(());
                    }
                };
                match n.and_then(|n| u8::try_from(n).ok()).filter(|n| *n <= max) {
                    Some(n) if kind == ObsKind::Krenning => FactKind::KrenningScore(n),
                    Some(n) => FactKind::Ecog(n),
                    None => problem(
                        ProblemKind::ImplausibleValue,
                        format!("{label} {} is outside its range 0–{max}", n.unwrap_or_default()),
                    ),
                }
            }
            _ => {
                // Coded answers.
                let Value::Concept(cc) = &value else {
                    said.push(wrong_type(&value, "valueCodeableConcept"));
                    return Ok(());
                };
                match self.answer(cc).and_then(|a| coded_fact(kind, a)) {
                    Some(f) => f,
                    None => self.unknown_answer(label, cc),
                }
            }
        };
        said.push(fact);
        Ok(())
    }

    /// A quantity converted to `unit` and validated by `make`; a problem fact otherwise.
    fn quantity_fact(
        &self,
        value: &Value<'a>,
        label: &str,
        unit: Canonical,
        make: impl FnOnce(f64) -> Result<FactKind, islet_guideline::facts::OutOfRange>,
    ) -> FactKind {
        let Value::Quantity(q) = value else {
            return problem(
                ProblemKind::ImplausibleValue,
                format!("{label}: {} is not usable; Islet reads valueQuantity", value.element()),
            );
        };
        match convert(q, unit, label) {
            Ok(v) => bounded(make(v)),
            Err(p) => p,
        }
    }

    /// `referenceRange.high` in the unit of the value (chromogranin A).
    fn upper_limit(&self, label: &str, unit: Canonical, said: &mut Said) -> Result<Option<Concentration>> {
        let ranges: Vec<ReferenceRange<'a>> = self.obj.list(F::ReferenceRange).map_err(field)?;
        let Some(high) = ranges.into_iter().find_map(|r| r.high) else {
            return Ok(None);
        };
        if high.value.is_none() {
            return Ok(None);
        }
        let label = format!("{label} upper reference limit");
        match convert(&high, unit, &label) {
            Ok(v) => match Concentration::new(v) {
                Ok(c) => Ok(Some(c)),
                Err(e) => {
                    said.push(problem(ProblemKind::ImplausibleValue, format!("{label}: {e}")));
                    Ok(None)
                }
            },
            Err(p) => {
                said.push(p);
                Ok(None)
            }
        }
    }

    fn answer(&self, cc: &CodeableConcept<'a>) -> Option<Answer> {
        self.codes(cc).find_map(|c| match c {
            Code::Answer(a) => Some(a),
            _ => None,
        })
    }

    fn unknown_answer(&self, label: &str, cc: &CodeableConcept<'a>) -> FactKind {
        let detail = match cc.coding.first() {
            Some(c) => format!(
                "{label}: the coded value {}|{} is not one Islet knows for this observation",
                echo(c.system.as_deref().unwrap_or("")),
                echo(c.code.as_deref().unwrap_or(""))
            ),
            None => format!("{label}: the coded value has no coding"),
        };
        problem(ProblemKind::ImplausibleValue, detail)
    }

    /// Where a tumour size was measured: `Some(site)`, or `None` for a site
    /// Islet does not track. Absent site = the primary.
    fn tumour_site(&self) -> Result<Option<TumourSite>> {
        if let Some(cc) = self.cc(F::BodySite)? {
            return Ok(self.site_of(&cc).or(if cc.coding.is_empty() { Some(TumourSite::Primary) } else { None }));
        }
        let focus: Vec<Reference<'a>> = self.obj.list(F::Focus).map_err(field)?;
        for r in &focus {
            if let Some(target) = r.reference.as_deref().and_then(|x| self.resolve(x)) {
                if target.resource_type.as_deref() == Some("BodyStructure") {
                    let location: Option<CodeableConcept<'a>> =
                        target.get(F::Location).map_err(|b| RejectReason::MalformedField {
                            field: format!("focus BodyStructure {}", b.field),
                            problem: b.problem,
                        })?;
                    return Ok(location.and_then(|cc| self.site_of(&cc)));
                }
                continue; // focus on a Condition etc.: not a site
            }
            if let Some(d) = r.display.as_deref() {
                let d = d.to_ascii_lowercase();
                if d.contains("liver") || d.contains("hepat") {
                    return Ok(Some(TumourSite::Liver));
                }
                if d.contains("pancrea") {
                    return Ok(Some(TumourSite::Primary));
                }
            }
        }
        Ok(Some(TumourSite::Primary))
    }

    fn site_of(&self, cc: &CodeableConcept<'a>) -> Option<TumourSite> {
        self.codes(cc).find_map(|c| match c {
            Code::Site(Site::Pancreas) => Some(TumourSite::Primary),
            Code::Site(Site::Liver) => Some(TumourSite::Liver),
            _ => None,
        })
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

    // ---- Condition -------------------------------------------------------

    fn condition(&self, last_updated: Option<Instant>) -> Result<Said> {
        let verification = self.status_code(
            F::VerificationStatus,
            CONDITION_VER_STATUS,
            &["unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"],
        )?;
        if matches!(verification, Some("entered-in-error" | "refuted")) {
            // Honoured even when the rest of the body is broken.
            let clinical_time = self.condition_time(last_updated).ok().flatten();
            return Ok(Said { clinical_time, retracted: true, ..Said::default() });
        }
        let clinical = self.status_code(
            F::ClinicalStatus,
            CONDITION_CLINICAL,
            &["active", "recurrence", "relapse", "inactive", "remission", "resolved"],
        )?;
        let abatement = self.choice("abatement", &["DateTime", "Age", "Period", "Range", "String"])?;
        if let Some((kind, raw)) = abatement {
            self.choice_time("abatement", kind, raw)?;
        }
        let said = Said {
            clinical_time: self.condition_time(last_updated)?,
            preliminary: matches!(verification, Some("unconfirmed" | "provisional" | "differential")),
            ..Said::default()
        };
        let present = match clinical {
            Some("active" | "recurrence" | "relapse") => true,
            Some(_) => false,
            // No clinicalStatus (allowed outside problem lists): present unless abated.
            None => abatement.is_none(),
        };
        let mut said = said;
        let Some(code) = self.cc(F::Code)? else {
            return Ok(said);
        };
        let mut codes: Vec<Code> = self.codes(&code).collect();
        let extensions: Vec<Extension<'a>> = self.obj.list(F::Extension).map_err(field)?;
        for e in extensions {
            if e.url.as_deref() == Some(HISTOLOGY_EXTENSION) {
                if let Some(cc) = &e.value_codeable_concept {
                    codes.extend(self.codes(cc));
                }
            }
        }
        let body_sites: Vec<CodeableConcept<'a>> = self.obj.list(F::BodySite).map_err(field)?;
        let sites: Vec<Code> = body_sites.iter().flat_map(|cc| self.codes(cc)).collect();
        if !present {
            return Ok(said);
        }
        let pancreatic = codes.iter().chain(&sites).any(|c| *c == Code::Site(Site::Pancreas));
        let liver = sites.contains(&Code::Site(Site::Liver));
        for c in codes {
            match c {
                Code::Pnet => said.push(FactKind::PnetDiagnosis),
                Code::PnetIfPancreatic if pancreatic => said.push(FactKind::PnetDiagnosis),
                Code::NecAndPnetIfPancreatic => {
                    said.push(FactKind::NecDiagnosis);
                    if pancreatic {
                        said.push(FactKind::PnetDiagnosis);
                    }
                }
                Code::Nec => said.push(FactKind::NecDiagnosis),
                Code::Morphology(m) => {
                    if pancreatic && matches!(m, 8150..=8156 | 8240 | 8249 | 8246) {
                        said.push(FactKind::PnetDiagnosis);
                    }
                    if matches!(m, 8246 | 8013 | 8041) {
                        said.push(FactKind::NecDiagnosis);
                    }
                    let syndrome = match m {
                        8151 => Some(Syndrome::Insulinoma),
                        8152 => Some(Syndrome::Glucagonoma),
                        8153 => Some(Syndrome::Gastrinoma),
                        8155 => Some(Syndrome::Vipoma),
                        8156 => Some(Syndrome::Somatostatinoma),
                        _ => None,
                    };
                    if let Some(s) = syndrome {
                        said.push(FactKind::Syndrome(s));
                    }
                }
                Code::Syndrome(s) => said.push(FactKind::Syndrome(s)),
                Code::Hereditary(h) => said.push(FactKind::Hereditary(h)),
                Code::Metastasis(site) => said.push(FactKind::Metastasis(site)),
                Code::SecondaryMalignancy if liver => {
                    said.push(FactKind::Metastasis(islet_guideline::facts::MetastasisSite::Liver))
                }
                Code::PortalVeinOcclusion => said.push(FactKind::PortalVeinOcclusion),
                Code::LiverFailure => said.push(FactKind::LiverFailure),
                Code::BiliaryReconstruction => said.push(FactKind::BiliaryReconstruction),
                _ => {}
            }
        }
        Ok(said)
    }

    /// `onset[x]` (dateTime, Period.start), else `recordedDate`, else `meta.lastUpdated`.
    fn condition_time(&self, last_updated: Option<Instant>) -> Result<Option<Instant>> {
        let onset = match self.choice("onset", &["DateTime", "Age", "Period", "Range", "String"])? {
            Some((kind, raw)) => self.choice_time("onset", kind, raw)?,
            None => None,
        };
        Ok(onset.or(self.date_time(F::RecordedDate)?).or(last_updated))
    }

    /// The code of a status CodeableConcept in its FHIR code system (or without a system).
    fn status_code(&self, f: F, system: &str, allowed: &[&'static str]) -> Result<Option<&'static str>> {
        let Some(cc) = self.cc(f)? else {
            return Ok(None);
        };
        for c in &cc.coding {
            if c.system.as_deref().is_some_and(|s| s != system) {
                continue;
            }
            let Some(code) = c.code.as_deref() else {
                continue;
            };
            return match allowed.iter().find(|a| **a == code) {
                Some(a) => Ok(Some(*a)),
                None => Err(RejectReason::UnknownStatus { field: f.name(), found: echo(code) }),
            };
        }
        Ok(None)
    }

    // ---- Patient ---------------------------------------------------------

    fn patient_facts(&self, last_updated: Option<Instant>) -> Result<Said> {
        let mut said = Said::default();
        if let Some(s) = self.obj.str(F::BirthDate).map_err(field)? {
            let date = parse_date(&s)
                .map_err(|why| RejectReason::MalformedField { field: "birthDate".into(), problem: why.into() })?;
            said.timed.push((date.midnight().assume_utc(), FactKind::BirthDate(date)));
        }
        match self.choice("deceased", &["Boolean", "DateTime"])? {
            Some(("Boolean", raw)) => {
                let dead: bool = parse_raw(raw, "deceasedBoolean").map_err(field)?;
                if dead {
                    let at = last_updated.unwrap_or(DECEASED_SINCE_UNKNOWN);
                    said.timed.push((at, FactKind::Deceased));
                }
            }
            Some((kind, raw)) => {
                if let Some(at) = self.choice_time("deceased", kind, raw)? {
                    said.timed.push((at, FactKind::Deceased));
                }
            }
            None => {}
        }
        Ok(said)
    }

    // ---- Procedure, MedicationStatement, MedicationRequest, ServiceRequest ----

    fn therapy(&self, last_updated: Option<Instant>) -> Result<Said> {
        let status = self.status()?;
        let rt = self.resource_type;
        let statuses: &[&str] = match rt {
            "Procedure" => &[
                "preparation",
                "in-progress",
                "not-done",
                "on-hold",
                "stopped",
                "completed",
                "entered-in-error",
                "unknown",
            ],
            "MedicationStatement" => {
                &["active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"]
            }
            "MedicationRequest" => {
                &["active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"]
            }
            _ => &["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"],
        };
        if !statuses.contains(&status) {
            return Err(RejectReason::UnknownStatus { field: "status", found: echo(status) });
        }
        let tense = match (rt, status) {
            ("MedicationStatement" | "MedicationRequest", "active") | ("Procedure", "in-progress") => {
                Some(Tense::Running)
            }
            ("MedicationRequest", "draft" | "on-hold")
            | ("MedicationStatement", "intended")
            | ("ServiceRequest", "active" | "draft" | "on-hold")
            | ("Procedure", "preparation") => Some(Tense::Planned),
            ("MedicationStatement", "completed" | "stopped") | ("Procedure", "completed") => Some(Tense::Done),
            _ => None,
        };
        if status == "entered-in-error" {
            // Honoured even when the rest of the body is broken.
            let clinical_time = self.therapy_time(last_updated).ok().flatten();
            return Ok(Said { clinical_time, retracted: true, ..Said::default() });
        }
        let clinical_time = self.therapy_time(last_updated)?;
        let (codes, dosages): (Vec<Code>, Vec<Dosage<'a>>) = match rt {
            "Procedure" | "ServiceRequest" => {
                (self.cc(F::Code)?.map(|cc| self.codes(&cc).collect()).unwrap_or_default(), Vec::new())
            }
            "MedicationStatement" => (self.medication_codes()?, self.obj.list(F::Dosage).map_err(field)?),
            _ => (self.medication_codes()?, self.obj.list(F::DosageInstruction).map_err(field)?),
        };
        let mut said = Said { clinical_time, ..Said::default() };
        let do_not_perform: bool = self.obj.get(F::DoNotPerform).map_err(field)?.unwrap_or(false);
        // A proposal or an option is a suggestion, not a plan (Islet's own
        // recommendations are MedicationRequest / ServiceRequest proposals).
        let suggestion = matches!(self.obj.str(F::Intent).map_err(field)?.as_deref(), Some("proposal" | "option"));
        let Some(tense) = tense.filter(|_| !do_not_perform && !suggestion) else {
            return Ok(said);
        };
        let outcome = if rt == "Procedure" {
            self.cc(F::Outcome)?.and_then(|cc| {
                self.codes(&cc).find_map(|c| match c {
                    Code::Outcome(o) => Some(o),
                    _ => None,
                })
            })
        } else {
            None
        };
        let escalated = codes.contains(&Code::SsaEscalated) || dosages.iter().any(shortened_interval);
        let mut classes: Vec<TherapyClass> = Vec::new();
        for c in &codes {
            let class = match c {
                Code::Therapy(class) => *class,
                Code::SsaEscalated => TherapyClass::Ssa,
                Code::BiliaryReconstruction if rt == "Procedure" && tense == Tense::Done => {
                    said.push(FactKind::BiliaryReconstruction);
                    continue;
                }
                _ => continue,
            };
            if !classes.contains(&class) {
                classes.push(class);
            }
        }
        for class in classes {
            said.push(FactKind::Therapy(Therapy {
                class,
                tense,
                escalated: class == TherapyClass::Ssa && escalated,
                outcome: outcome.filter(|_| class == TherapyClass::PrimaryResection),
                // The period end (v2 "running therapy") is not read yet.
                until: None,
            }));
        }
        Ok(said)
    }

    /// The clinical time of a therapy resource (contract.md "Clinical time"),
    /// falling back to `meta.lastUpdated`.
    fn therapy_time(&self, last_updated: Option<Instant>) -> Result<Option<Instant>> {
        let (prefix, kinds, then): (&'static str, &[&'static str], Option<F>) = match self.resource_type {
            "Procedure" => ("performed", &["DateTime", "Period", "String", "Age", "Range"], None),
            "ServiceRequest" => ("occurrence", &["DateTime", "Period", "Timing"], Some(F::AuthoredOn)),
            "MedicationStatement" => ("effective", &["DateTime", "Period"], Some(F::DateAsserted)),
            _ => ("", &[], Some(F::AuthoredOn)),
        };
        let mut time = None;
        if !prefix.is_empty() {
            if let Some((kind, raw)) = self.choice(prefix, kinds)? {
                time = self.choice_time(prefix, kind, raw)?;
            }
        }
        if let Some(f) = then {
            time = time.or(self.date_time(f)?);
        }
        Ok(time.or(last_updated))
    }

    /// The codes of `medication[x]`: a CodeableConcept, or a referenced
    /// Medication (contained, or another entry of the Bundle).
    fn medication_codes(&self) -> Result<Vec<Code>> {
        match self.choice("medication", &["CodeableConcept", "Reference"])? {
            None => {
                Err(RejectReason::MissingField { resource_type: self.resource_type.to_owned(), field: "medication[x]" })
            }
            Some(("CodeableConcept", raw)) => {
                let cc: CodeableConcept<'a> = parse_raw(raw, "medicationCodeableConcept").map_err(field)?;
                Ok(self.codes(&cc).collect())
            }
            Some((_, raw)) => {
                let r: Reference<'a> = parse_raw(raw, "medicationReference").map_err(field)?;
                let reference = r.reference.as_deref().unwrap_or("");
                let Some(med) = self.resolve(reference) else {
                    return Err(RejectReason::UnresolvedReference {
                        field: "medicationReference".into(),
                        reference: if reference.is_empty() {
                            "no resource (display or identifier only)".into()
                        } else {
                            echo(reference)
                        },
                    });
                };
                match med.resource_type.as_deref() {
                    Some("Medication") => {}
                    other => {
                        return Err(RejectReason::WrongResourceType {
                            context: "medicationReference",
                            expected: "Medication".into(),
                            found: other.map_or("resource without resourceType".into(), echo),
                        })
                    }
                }
                let cc: Option<CodeableConcept<'a>> = med.get(F::Code).map_err(|b| RejectReason::MalformedField {
                    field: format!("Medication.{}", b.field),
                    problem: b.problem,
                })?;
                Ok(cc.map(|cc| self.codes(&cc).collect()).unwrap_or_default())
            }
        }
    }
}

/// Where `NoClinicalTime` looked, per resource type.
fn looked_at(resource_type: &str) -> &'static str {
    match resource_type {
        "Observation" => "effectiveDateTime, effectivePeriod.start, effectiveInstant, issued",
        "Condition" => "onsetDateTime, onsetPeriod.start, recordedDate, meta.lastUpdated",
        "Procedure" => "performedDateTime, performedPeriod.start, meta.lastUpdated",
        "MedicationStatement" => "effectivePeriod.start, effectiveDateTime, dateAsserted, meta.lastUpdated",
        "MedicationRequest" => "authoredOn, meta.lastUpdated",
        "ServiceRequest" => "occurrenceDateTime, occurrencePeriod.start, authoredOn, meta.lastUpdated",
        _ => "meta.lastUpdated",
    }
}

/// A dosage repeating every 1–21 days: a shortened-interval depot SSA.
/// Intervals of a day or less are immediate-release dosing (e.g. octreotide
/// s.c. t.i.d.), not an escalated depot schedule.
fn shortened_interval(d: &Dosage<'_>) -> bool {
    let Some(repeat) = d.timing.as_ref().and_then(|t| t.repeat.as_ref()) else {
        return false;
    };
    let (Some(period), Some(unit)) = (repeat.period, repeat.period_unit.as_deref()) else {
        return false;
    };
    let days_per_unit = match unit {
        "s" => 1.0 / 86_400.0,
        "min" => 1.0 / 1_440.0,
        "h" => 1.0 / 24.0,
        "d" => 1.0,
        "wk" => 7.0,
        "mo" => 30.0,
        "a" => 365.0,
        _ => return false,
    };
    let frequency = f64::from(repeat.frequency.unwrap_or(1).max(1));
    let interval = period.0 * days_per_unit / frequency;
    interval > 1.0 && interval <= 21.0
}

/// An Observation's `value[x]`, checked (fhir-sdk drops a malformed one silently).
#[derive(Debug, Clone)]
enum Value<'a> {
    Quantity(Quantity<'a>),
    Concept(CodeableConcept<'a>),
    Integer(i64),
    /// Another well-formed value type, by element name (`valueString` …).
    Other(&'static str),
}

impl Value<'_> {
    fn element(&self) -> &'static str {
        match self {
            Value::Quantity(_) => "valueQuantity",
            Value::Concept(_) => "valueCodeableConcept",
            Value::Integer(_) => "valueInteger",
            Value::Other(name) => name,
        }
    }
}

const OBSERVATION_VALUES: [&str; 11] = [
    "Quantity",
    "CodeableConcept",
    "String",
    "Boolean",
    "Integer",
    "Range",
    "Ratio",
    "SampledData",
    "Time",
    "DateTime",
    "Period",
];

/// `value[x]` of an Observation or a component; `path` prefixes element names.
fn observation_value<'a>(obj: &Obj<'a>, path: &str) -> Result<Option<Value<'a>>> {
    let Some((kind, raw)) = choice_in(obj, "value", &OBSERVATION_VALUES, "Observation", path)? else {
        return Ok(None);
    };
    let name = || format!("{path}value{kind}");
    let v = match kind {
        "Quantity" => {
            let q: Quantity<'a> = parse_named(raw, name).map_err(value_err)?;
            if q.value.is_none() {
                return Err(RejectReason::MalformedValue { field: name(), problem: "has no `value`".into() });
            }
            Value::Quantity(q)
        }
        "CodeableConcept" => Value::Concept(parse_named(raw, name).map_err(value_err)?),
        "Integer" => {
            let n: i32 = parse_named(raw, name).map_err(value_err)?;
            Value::Integer(i64::from(n))
        }
        "String" | "Time" => {
            parse_named::<Str<'a>>(raw, name).map_err(value_err)?;
            Value::Other(if kind == "String" { "valueString" } else { "valueTime" })
        }
        "DateTime" => {
            let s: Str<'a> = parse_named(raw, name).map_err(value_err)?;
            parse_date_time(&s).map_err(|why| RejectReason::MalformedValue { field: name(), problem: why.into() })?;
            Value::Other("valueDateTime")
        }
        "Boolean" => {
            parse_named::<bool>(raw, name).map_err(value_err)?;
            Value::Other("valueBoolean")
        }
        other => {
            if !raw.get().starts_with('{') {
                return Err(RejectReason::MalformedValue { field: name(), problem: "must be a JSON object".into() });
            }
            Value::Other(match other {
                "Range" => "valueRange",
                "Ratio" => "valueRatio",
                "SampledData" => "valueSampledData",
                _ => "valuePeriod",
            })
        }
    };
    Ok(Some(v))
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

fn bounded(r: Result<FactKind, islet_guideline::facts::OutOfRange>) -> FactKind {
    r.unwrap_or_else(|e| problem(ProblemKind::ImplausibleValue, e.to_string()))
}

/// A quantity's value in `target`; comparators give the nearest value that satisfies them.
fn convert(q: &Quantity<'_>, target: Canonical, label: &str) -> Result<f64, FactKind> {
    let value = q.value.map_or(f64::NAN, |d| d.0);
    let ucum_code = q.code.as_deref().filter(|_| q.system.as_deref().is_none_or(|s| s == UCUM));
    let unit = ucum_code.or(q.unit.as_deref());
    let Some(unit) = unit else {
        return Err(problem(
            ProblemKind::UnknownUnit,
            format!("{label}: the quantity has no unit; expected {}", target.label()),
        ));
    };
    let f = factor(unit, target).or_else(|| q.unit.as_deref().and_then(|u| factor(u, target))).ok_or_else(|| {
        problem(
            ProblemKind::UnknownUnit,
            format!("{label}: unit `{}` cannot be converted to {}", echo(unit), target.label()),
        )
    })?;
    let value = match q.comparator {
        None | Some(Comparator::Le | Comparator::Ge) => value,
        Some(Comparator::Lt) => value.next_down(),
        Some(Comparator::Gt) => value.next_up(),
    };
    Ok(value * f)
}

fn coded_fact(kind: ObsKind, a: Answer) -> Option<FactKind> {
    use Answer as A;
    Some(match (kind, a) {
        (ObsKind::WhoGrade, A::G1) => FactKind::ReportedGrade(Grade::G1),
        (ObsKind::WhoGrade, A::G2) => FactKind::ReportedGrade(Grade::G2),
        (ObsKind::WhoGrade, A::G3) => FactKind::ReportedGrade(Grade::G3),
        (ObsKind::SstrImaging, A::Positive) => FactKind::SstrImaging(SstrImaging::Positive),
        (ObsKind::SstrImaging, A::Negative) => FactKind::SstrImaging(SstrImaging::Negative),
        (ObsKind::SstrImaging, A::Equivocal) => FactKind::SstrImaging(SstrImaging::Equivocal),
        (ObsKind::OctreotideTest, A::Positive) => FactKind::OctreotideTest { positive: true },
        (ObsKind::OctreotideTest, A::Negative) => FactKind::OctreotideTest { positive: false },
        (ObsKind::DiseaseStatus, A::Improved) => FactKind::DiseaseStatus(DiseaseStatus::Improved),
        (ObsKind::DiseaseStatus, A::Stable) => FactKind::DiseaseStatus(DiseaseStatus::Stable),
        (ObsKind::DiseaseStatus, A::Worsened) => FactKind::DiseaseStatus(DiseaseStatus::Worsened),
        (ObsKind::DiseaseStatus, A::Undetermined) => FactKind::DiseaseStatus(DiseaseStatus::Undetermined),
        (ObsKind::Recist, A::Cr) => FactKind::Recist(Recist::CompleteResponse),
        (ObsKind::Recist, A::Pr) => FactKind::Recist(Recist::PartialResponse),
        (ObsKind::Recist, A::Sd) => FactKind::Recist(Recist::StableDisease),
        (ObsKind::Recist, A::Pd) => FactKind::Recist(Recist::ProgressiveDisease),
        (ObsKind::Resectability, A::Complete) => FactKind::Resectability(Resectability::Complete),
        (ObsKind::Resectability, A::Ge90) => FactKind::Resectability(Resectability::AtLeast90),
        (ObsKind::Resectability, A::Lt90) => FactKind::Resectability(Resectability::Below90),
        (ObsKind::Resectability, A::UnresectableVascular) => {
            FactKind::Resectability(Resectability::UnresectableVascular)
        }
        (ObsKind::Resectability, A::Unresectable) => FactKind::Resectability(Resectability::Unresectable),
        (ObsKind::LiverResectability, A::Resectable) => FactKind::LiverResectable(true),
        (ObsKind::LiverResectability, A::Unresectable) => FactKind::LiverResectable(false),
        (ObsKind::DiscoveryMode, A::Incidental) => FactKind::DiscoveryMode(DiscoveryMode::Incidental),
        (ObsKind::DiscoveryMode, A::Symptomatic) => FactKind::DiscoveryMode(DiscoveryMode::Symptomatic),
        (ObsKind::HormonalSymptoms, A::Controlled) => FactKind::HormonalSymptoms(HormonalSymptoms::Controlled),
        (ObsKind::HormonalSymptoms, A::Uncontrolled) => FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled),
        (ObsKind::HormonalSymptoms, A::Crisis) => FactKind::HormonalSymptoms(HormonalSymptoms::Crisis),
        _ => return None,
    })
}

fn obs_label(kind: ObsKind) -> &'static str {
    match kind {
        ObsKind::Ki67 => "Ki-67",
        ObsKind::Mitoses => "mitotic count",
        ObsKind::WhoGrade => "WHO grade",
        ObsKind::CgaMass | ObsKind::CgaMolar | ObsKind::CgaUnits => "chromogranin A",
        ObsKind::PancreaticPolypeptide => "pancreatic polypeptide",
        ObsKind::SizePanel | ObsKind::SizeLongest => "tumour size",
        ObsKind::LiverLesionCount => "liver lesion count",
        ObsKind::LiverInvolvement => "liver involvement",
        ObsKind::SstrImaging => "SSTR imaging",
        ObsKind::Krenning => "Krenning score",
        ObsKind::OctreotideTest => "octreotide test",
        ObsKind::DiseaseStatus => "disease status",
        ObsKind::Recist => "RECIST response",
        ObsKind::Ecog => "ECOG performance status",
        ObsKind::Resectability => "resectability",
        ObsKind::LiverResectability => "liver metastases resectability",
        ObsKind::DiscoveryMode => "discovery mode",
        ObsKind::HormonalSymptoms => "hormonal symptoms",
    }
}

/// The first non-empty `modifierExtension` anywhere in the resource (slow
/// path, taken only when the text contains the key).
fn find_modifier_extension(raw: &str) -> Option<(String, String)> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Option<(String, String)> {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    if k == "modifierExtension" {
                        let url = match child {
                            serde_json::Value::Array(a) if a.is_empty() => continue,
                            serde_json::Value::Array(a) => a[0]
                                .get("url")
                                .and_then(|u| u.as_str())
                                .map_or_else(|| "(without url)".to_owned(), echo),
                            _ => "(malformed: not an array)".to_owned(),
                        };
                        return Some((format!("{path}modifierExtension"), url));
                    }
                    let len = path.len();
                    path.push_str(k);
                    path.push('.');
                    let hit = walk(child, path);
                    path.truncate(len);
                    if hit.is_some() {
                        return hit;
                    }
                }
                None
            }
            serde_json::Value::Array(items) => {
                let base = path.pop().map(|_| path.len());
                let mut found = None;
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]."));
                    found = walk(child, path);
                    path.truncate(len);
                    if found.is_some() {
                        break;
                    }
                }
                if base.is_some() {
                    path.push('.');
                }
                found
            }
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    walk(&value, &mut String::new())
}
