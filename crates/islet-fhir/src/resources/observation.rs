//! Observation: status, clinical time, and the measured or coded value as a fact.

use super::value::{bounded, convert, observation_value, Value};
use super::{field, problem, ClinicalTime, Ctx, Element, Relevance, Result, Said, Use};
use crate::codes::{Answer, Code, ObsKind, Site};
use crate::datetime::parse_instant;
use crate::json::{parse_object, CodeableConcept, Reference, ReferenceRange, F};
use crate::linked::PendingKind;
use crate::reject::{echo, RejectReason};
use crate::units::Canonical;
use islet_guideline::facts::{
    CgaValue, Concentration, DiscoveryMode, DiseaseStatus, Grade, HormonalSymptoms, Ki67Percent,
    LiverInvolvementPercent, Millimetres, MitoticCount, ProblemKind, Recist, Resectability, SstrImaging, TumourSite,
};
use islet_guideline::FactKind;
use serde_json::value::RawValue;

/// Where a tumour size was measured, as far as this message tells.
enum SizeSite {
    /// The primary, a liver lesion, or (`None`) a site Islet does not track.
    Known(Option<TumourSite>),
    /// The `focus` BodyStructure sent in another message (`BodyStructure/b1`).
    Elsewhere(String),
}

impl<'c, 'a> Ctx<'c, 'a> {
    /// An Observation is used when its code is one of the contract's.
    pub(super) fn observation_relevance(&self) -> Relevance {
        self.has_code(F::Code, |c| matches!(c, Code::Obs(_)))
    }

    pub(super) fn observation(&self) -> Result<Said> {
        let status = self.status()?;
        let usage = match &*status {
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
            let obj = parse_object(raw.get())
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

    /// `effective[x]` (dateTime, Period.start, instant), else
    /// `effectivePeriod.end`, else `issued`: whatever the status, an
    /// Observation reports what has happened.
    fn observation_time(&self) -> Result<Option<ClinicalTime>> {
        let mut effective =
            self.choice_clinical_time("effective", &["DateTime", "Period", "Timing", "Instant"], true)?;
        if effective.is_none() {
            // A period with an end only: the observation was made by then (as
            // written: a date-only end is that day, not the next).
            if let Some(end) = self.period_written_end("effective")? {
                effective = Some(ClinicalTime { at: end, element: Element::period_end("effective"), happened: true });
            }
        }
        let issued = match self.obj.str(F::Issued).map_err(field)? {
            Some(s) => Some(ClinicalTime {
                at: parse_instant(&s)
                    .map_err(|why| RejectReason::MalformedField { field: "issued".into(), problem: why.into() })?,
                element: Element::named("issued"),
                happened: true,
            }),
            None => None,
        };
        Ok(effective.or(issued))
    }

    fn observation_facts(&self, kind: ObsKind, value: Value<'a>, said: &mut Said) -> Result<()> {
        let label = obs_label(kind);
        let wrong_type = |v: &Value<'_>, wanted: &str| {
            problem(ProblemKind::UnusableValue, format!("{label}: {} is not usable; Islet reads {wanted}", v.element()))
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
                SizeSite::Known(Some(site)) => self.quantity_fact(&value, label, Canonical::Millimetre, |v| {
                    Millimetres::new(v).map(|largest| FactKind::TumourSize { site, largest })
                }),
                // A size of something else (a lymph node …): not a fact Islet uses.
                SizeSite::Known(None) => return Ok(()),
                SizeSite::Elsewhere(needs) => {
                    // The value is checked now; only the site waits.
                    let mut largest = None;
                    let checked = self.quantity_fact(&value, label, Canonical::Millimetre, |v| {
                        Millimetres::new(v).map(|mm| {
                            largest = Some(mm);
                            FactKind::TumourSize { site: TumourSite::Primary, largest: mm }
                        })
                    });
                    match largest {
                        Some(largest) => said.pending.push((needs, PendingKind::TumourSize { largest })),
                        None => said.push(checked),
                    }
                    return Ok(());
                }
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
                ProblemKind::UnusableValue,
                format!("{label}: {} is not usable; Islet reads valueQuantity", value.element()),
            );
        };
        if q.value.is_none() {
            return problem(ProblemKind::UnusableValue, format!("{label}: the quantity has no `value`"));
        }
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
            None => format!("{label}: the coded value has no coding (text only)"),
        };
        problem(ProblemKind::UnusableValue, detail)
    }

    /// Where a tumour size was measured (contract.md v2): `bodySite`, else
    /// the `focus` BodyStructure (in this message, or sent in another one),
    /// else a focus's display text. Only a size with no site information at
    /// all is the primary: a site Islet cannot read (text only, an unknown
    /// code, a focus it cannot place) is not used.
    fn tumour_site(&self) -> Result<SizeSite> {
        if let Some(cc) = self.cc(F::BodySite)? {
            return Ok(SizeSite::Known(self.site_of(&cc)));
        }
        let focus: Vec<Reference<'a>> = self.obj.list(F::Focus).map_err(field)?;
        for r in &focus {
            let reference = r.reference.as_deref().unwrap_or("");
            if let Some(target) = self.resolve(reference) {
                if target.resource_type.as_deref() == Some("BodyStructure") {
                    let site = self.body_structure_site(&target).map_err(|b| RejectReason::MalformedField {
                        field: format!("focus BodyStructure {}", b.field),
                        problem: b.problem,
                    })?;
                    return Ok(SizeSite::Known(site));
                }
                continue; // focus on a Condition etc.: not a site
            }
            if let Some(needs) = self.elsewhere(reference, "BodyStructure") {
                return Ok(SizeSite::Elsewhere(needs));
            }
            if let Some(d) = r.display.as_deref() {
                let d = d.to_ascii_lowercase();
                if d.contains("liver") || d.contains("hepat") {
                    return Ok(SizeSite::Known(Some(TumourSite::Liver)));
                }
                if d.contains("pancrea") {
                    return Ok(SizeSite::Known(Some(TumourSite::Primary)));
                }
            }
        }
        if focus.is_empty() {
            Ok(SizeSite::Known(Some(TumourSite::Primary)))
        } else {
            Ok(SizeSite::Known(None))
        }
    }

    /// The tumour site a body site names: pancreas (any part of it) = the primary, liver.
    pub(super) fn site_of(&self, cc: &CodeableConcept<'a>) -> Option<TumourSite> {
        self.codes(cc).find_map(|c| match c {
            Code::Site(Site::Pancreas) => Some(TumourSite::Primary),
            Code::Site(Site::Liver) => Some(TumourSite::Liver),
            _ => None,
        })
    }
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
