//! Condition: verification and clinical status, onset, and the diagnosis codes
//! (with body sites and the mCODE histology extension) as facts.

use super::{field, ClinicalTime, Ctx, Result, Said};
use crate::codes::{Code, Site};
use crate::json::{CodeableConcept, Extension, F};
use crate::reject::{echo, RejectReason};
use crate::systems;
use islet_guideline::facts::{MetastasisSite, Syndrome};
use islet_guideline::FactKind;

impl<'c, 'a> Ctx<'c, 'a> {
    pub(super) fn condition(&self, last_updated: Option<ClinicalTime>) -> Result<Said> {
        let verification = self.status_code(
            F::VerificationStatus,
            systems::CONDITION_VER_STATUS,
            &["unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"],
        )?;
        if matches!(verification, Some("entered-in-error" | "refuted")) {
            // Honoured even when the rest of the body is broken.
            let clinical_time = self.condition_time(last_updated).ok().flatten();
            return Ok(Said { clinical_time, retracted: true, ..Said::default() });
        }
        let clinical = self.status_code(
            F::ClinicalStatus,
            systems::CONDITION_CLINICAL,
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
            if e.url.as_deref() == Some(systems::MCODE_HISTOLOGY_MORPHOLOGY_BEHAVIOR) {
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
                Code::SecondaryMalignancy if liver => said.push(FactKind::Metastasis(MetastasisSite::Liver)),
                Code::PortalVeinOcclusion => said.push(FactKind::PortalVeinOcclusion),
                Code::LiverFailure => said.push(FactKind::LiverFailure),
                Code::BiliaryReconstruction => said.push(FactKind::BiliaryReconstruction),
                _ => {}
            }
        }
        Ok(said)
    }

    /// `onset[x]` (dateTime, Period.start), else `recordedDate`, else `meta.lastUpdated`.
    fn condition_time(&self, last_updated: Option<ClinicalTime>) -> Result<Option<ClinicalTime>> {
        let onset = self.choice_clinical_time("onset", &["DateTime", "Age", "Period", "Range", "String"], true)?;
        Ok(onset.or(self.date_time_of(F::RecordedDate, true)?).or(last_updated))
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
}
