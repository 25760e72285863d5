//! Procedure, MedicationStatement, MedicationRequest and ServiceRequest: the
//! tense a status gives, the clinical time, and the therapy classes of the
//! codes (a medication by code or by reference) as facts.

use super::{field, ClinicalTime, Ctx, Relevance, Result, Said};
use crate::codes::Code;
use crate::json::{parse_raw, CodeableConcept, Dosage, Reference, F};
use crate::linked::PendingKind;
use crate::reject::{echo, RejectReason};
use crate::types::ResourceType;
use islet_guideline::facts::{Tense, Therapy, TherapyClass};
use islet_guideline::{FactKind, Instant};

/// The drug of a medication resource, as far as this message tells.
enum Drug {
    /// The codes of its `medicationCodeableConcept`, or of the Medication it
    /// references in this message (contained, or another Bundle entry).
    Codes(Vec<Code>),
    /// A Medication sent in another message (`Medication/m1`).
    Elsewhere(String),
}

impl<'c, 'a> Ctx<'c, 'a> {
    /// A therapy resource is used when its code (a Procedure, a
    /// ServiceRequest) or its drug names a therapy of the contract's table,
    /// or its drug is a Medication in another message (which may name one).
    pub(super) fn therapy_relevance(&self) -> Relevance {
        match self.resource_type {
            ResourceType::Procedure => self.has_code(F::Code, |c| c.is_therapy() || c == Code::BiliaryReconstruction),
            ResourceType::ServiceRequest => self.has_code(F::Code, Code::is_therapy),
            _ => match self.drug() {
                Ok(Some(Drug::Codes(codes))) => Relevance::of(codes.iter().any(|c| c.is_therapy())),
                Ok(Some(Drug::Elsewhere(_))) => Relevance::Used,
                // No drug at all, or one given by display or identifier only: nothing to use.
                Ok(None) => Relevance::NoCode,
                Err(_) => Relevance::Used,
            },
        }
    }

    pub(super) fn therapy(&self, last_updated: Option<ClinicalTime>) -> Result<Said> {
        let status = self.status()?;
        let status: &str = &status;
        let rt = self.resource_type;
        let statuses: &[&str] = match rt {
            ResourceType::Procedure => &[
                "preparation",
                "in-progress",
                "not-done",
                "on-hold",
                "stopped",
                "completed",
                "entered-in-error",
                "unknown",
            ],
            ResourceType::MedicationStatement => {
                &["active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"]
            }
            ResourceType::MedicationRequest => {
                &["active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"]
            }
            _ => &["draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"],
        };
        if !statuses.contains(&status) {
            return Err(RejectReason::UnknownStatus { field: "status", found: echo(status) });
        }
        use ResourceType as RT;
        let tense = match (rt, status) {
            (RT::MedicationStatement | RT::MedicationRequest, "active") | (RT::Procedure, "in-progress") => {
                Some(Tense::Running)
            }
            (RT::MedicationRequest, "draft" | "on-hold")
            | (RT::MedicationStatement, "intended")
            | (RT::ServiceRequest, "active" | "draft" | "on-hold")
            | (RT::Procedure, "preparation") => Some(Tense::Planned),
            (RT::MedicationStatement | RT::MedicationRequest, "completed" | "stopped")
            | (RT::Procedure, "completed") => Some(Tense::Done),
            _ => None,
        };
        if status == "entered-in-error" {
            // Honoured even when the rest of the body is broken.
            let clinical_time = self.therapy_time(status, last_updated).ok().flatten();
            return Ok(Said { clinical_time, retracted: true, ..Said::default() });
        }
        let clinical_time = self.therapy_time(status, last_updated)?;
        let until = self.therapy_until()?;
        let (drug, dosages): (Drug, Vec<Dosage<'a>>) = match rt {
            RT::Procedure | RT::ServiceRequest => {
                (Drug::Codes(self.cc(F::Code)?.map(|cc| self.codes(&cc).collect()).unwrap_or_default()), Vec::new())
            }
            RT::MedicationStatement => (self.medication()?, self.obj.list(F::Dosage).map_err(field)?),
            _ => (self.medication()?, self.obj.list(F::DosageInstruction).map_err(field)?),
        };
        let mut said = Said { clinical_time, ..Said::default() };
        let do_not_perform: bool = self.obj.get(F::DoNotPerform).map_err(field)?.unwrap_or(false);
        // A proposal or an option is a suggestion, not a plan (Islet's own
        // recommendations are MedicationRequest / ServiceRequest proposals).
        let suggestion = matches!(self.obj.str(F::Intent).map_err(field)?.as_deref(), Some("proposal" | "option"));
        let Some(tense) = tense.filter(|_| !do_not_perform && !suggestion) else {
            return Ok(said);
        };
        let outcome = if rt == RT::Procedure {
            self.cc(F::Outcome)?.and_then(|cc| {
                self.codes(&cc).find_map(|c| match c {
                    Code::Outcome(o) => Some(o),
                    _ => None,
                })
            })
        } else {
            None
        };
        let shortened = dosages.iter().any(shortened_interval);
        let codes = match drug {
            Drug::Codes(codes) => codes,
            Drug::Elsewhere(needs) => {
                said.pending.push((needs, PendingKind::Therapy { tense, escalated: shortened, until }));
                return Ok(said);
            }
        };
        let escalated = codes.contains(&Code::SsaEscalated) || shortened;
        let mut classes: Vec<TherapyClass> = Vec::new();
        for c in &codes {
            let class = match c {
                Code::Therapy(class) => *class,
                Code::SsaEscalated => TherapyClass::Ssa,
                Code::BiliaryReconstruction if rt == RT::Procedure && tense == Tense::Done => {
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
                until,
            }));
        }
        Ok(said)
    }

    /// The clinical time of a therapy resource (contract.md "Clinical time"),
    /// falling back to `meta.lastUpdated`. A performed / effective time has
    /// happened for a completed or in-progress Procedure and an active,
    /// completed or stopped MedicationStatement; otherwise, and for a
    /// ServiceRequest occurrence, it is a plan and may lie in the future.
    /// `authoredOn` and `dateAsserted` record what has happened.
    fn therapy_time(&self, status: &str, last_updated: Option<ClinicalTime>) -> Result<Option<ClinicalTime>> {
        use ResourceType as RT;
        let (prefix, kinds, happened, then): (&'static str, &[&'static str], bool, Option<F>) = match self.resource_type
        {
            RT::Procedure => (
                "performed",
                &["DateTime", "Period", "String", "Age", "Range"],
                matches!(status, "completed" | "in-progress"),
                None,
            ),
            RT::ServiceRequest => ("occurrence", &["DateTime", "Period", "Timing"], false, Some(F::AuthoredOn)),
            RT::MedicationStatement => (
                "effective",
                &["DateTime", "Period"],
                matches!(status, "active" | "completed" | "stopped"),
                Some(F::DateAsserted),
            ),
            _ => ("", &[], false, Some(F::AuthoredOn)),
        };
        let mut time = None;
        if !prefix.is_empty() {
            time = self.choice_clinical_time(prefix, kinds, happened)?;
        }
        if let Some(f) = then {
            time = time.or(self.date_time_of(f, true)?);
        }
        Ok(time.or(last_updated))
    }

    /// The end of the recorded course (`effectivePeriod.end` of a
    /// MedicationStatement, `performedPeriod.end` of a Procedure) when the
    /// period also has a start: exclusive (guideline.md v2, "running therapy").
    fn therapy_until(&self) -> Result<Option<Instant>> {
        let prefix = match self.resource_type {
            ResourceType::MedicationStatement => "effective",
            ResourceType::Procedure => "performed",
            _ => return Ok(None),
        };
        Ok(match self.period(prefix)? {
            (Some(_), end) => end,
            (None, _) => None,
        })
    }

    /// The drug of [`Ctx::drug`], which a resource Islet uses must name.
    fn medication(&self) -> Result<Drug> {
        self.drug()?.ok_or_else(|| RejectReason::MissingField {
            resource_type: self.resource_type.to_string(),
            field: "medication[x]",
        })
    }

    /// `medication[x]`: a CodeableConcept, or a referenced Medication
    /// (contained, another entry of the Bundle, or sent in another message);
    /// `None` without a drug Islet can look up (absent, or a reference by
    /// display or identifier only).
    fn drug(&self) -> Result<Option<Drug>> {
        match self.choice("medication", &["CodeableConcept", "Reference"])? {
            None => Ok(None),
            Some(("CodeableConcept", raw)) => {
                let cc: CodeableConcept<'a> = parse_raw(raw, "medicationCodeableConcept").map_err(field)?;
                Ok(Some(Drug::Codes(self.codes(&cc).collect())))
            }
            Some((_, raw)) => {
                let r: Reference<'a> = parse_raw(raw, "medicationReference").map_err(field)?;
                let Some(reference) = r.reference.as_deref().filter(|r| !r.is_empty()) else {
                    return Ok(None);
                };
                if let Some(needs) = self.elsewhere(reference, "Medication") {
                    return Ok(Some(Drug::Elsewhere(needs)));
                }
                let Some(med) = self.resolve(reference) else {
                    return Err(RejectReason::UnresolvedReference {
                        field: "medicationReference".into(),
                        reference: echo(reference),
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
                Ok(Some(Drug::Codes(cc.map(|cc| self.codes(&cc).collect()).unwrap_or_default())))
            }
        }
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
