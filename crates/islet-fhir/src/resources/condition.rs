//! Condition: verification and clinical status, onset, and the diagnosis codes
//! (with body sites and the mCODE histology extension) as facts.

use super::{field, ClinicalTime, Ctx, Relevance, Result, Said};
use crate::codes::{Code, Site};
use crate::json::{parse_raw, CodeableConcept, Extension, F};
use crate::reject::{echo, RejectReason};
use crate::systems;
use islet_guideline::facts::{MetastasisSite, Syndrome};
use islet_guideline::FactKind;

impl<'c, 'a> Ctx<'c, 'a> {
    /// A Condition is used when its code (or its mCODE histology extension)
    /// is one of the contract's diagnoses, syndromes, metastases, ….
    pub(super) fn condition_relevance(&self) -> Relevance {
        let by_code = self.has_code(F::Code, Code::is_condition_fact);
        if by_code == Relevance::Used {
            return by_code;
        }
        let Ok(extensions) = self.obj.list::<Extension<'a>>(F::Extension) else {
            return Relevance::Used; // unreadable: validation names it
        };
        let histology = extensions.iter().any(|e| {
            e.url.as_deref() == Some(systems::MCODE_HISTOLOGY_MORPHOLOGY_BEHAVIOR)
                && e.value_codeable_concept.as_ref().is_some_and(|cc| self.codes(cc).any(Code::is_condition_fact))
        });
        if histology {
            Relevance::Used
        } else {
            by_code
        }
    }

    /// `verificationStatus`, read under the R4 and STU3 system URLs.
    pub(super) fn verification_status(&self) -> Result<Option<&'static str>> {
        self.status_code(
            F::VerificationStatus,
            [systems::CONDITION_VER_STATUS, systems::CONDITION_VER_STATUS_STU3],
            &["unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"],
        )
    }

    pub(super) fn condition(&self, last_updated: Option<ClinicalTime>) -> Result<Said> {
        let verification = self.verification_status()?;
        if matches!(verification, Some("entered-in-error" | "refuted")) {
            // Honoured even when the rest of the body is broken.
            let clinical_time = self.condition_time(last_updated).ok().flatten();
            return Ok(Said { clinical_time, retracted: true, ..Said::default() });
        }
        let clinical = self.status_code(
            F::ClinicalStatus,
            [systems::CONDITION_CLINICAL, systems::CONDITION_CLINICAL_STU3],
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
        let pnet = codes.contains(&Code::Pnet);
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
                Code::Nec => {
                    said.push(FactKind::NecDiagnosis);
                    if pancreatic || pnet {
                        // A pancreatic NEC (contract.md v2): an active pNET
                        // diagnosis, which the NEC makes G3.
                        said.push(FactKind::PnetDiagnosis);
                    }
                }
                Code::Morphology(m) => {
                    if pancreatic && matches!(m, 8150..=8156 | 8240 | 8249 | 8246) {
                        said.push(FactKind::PnetDiagnosis);
                    }
                    if matches!(m, 8246 | 8013 | 8041) {
                        said.push(FactKind::NecDiagnosis);
                        if pancreatic || pnet {
                            said.push(FactKind::PnetDiagnosis);
                        }
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
                // Metastatic whatever the site (contract.md v2): liver with a
                // liver body site, else (none recorded, or one not listed) `other`.
                Code::SecondaryMalignancy if liver => said.push(FactKind::Metastasis(MetastasisSite::Liver)),
                Code::SecondaryMalignancy => said.push(FactKind::Metastasis(MetastasisSite::Other)),
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

    /// The code of a status CodeableConcept in its FHIR code system — the
    /// R4 URL or its STU3 predecessor — or without a system; also a bare code
    /// (STU3 wrote these statuses as a `code`, not a CodeableConcept).
    fn status_code(&self, f: F, systems: [&str; 2], allowed: &[&'static str]) -> Result<Option<&'static str>> {
        let Some(raw) = self.obj.raw(f) else {
            return Ok(None);
        };
        let cc: CodeableConcept<'a> = if raw.get().starts_with('"') {
            let code: crate::json::Str<'a> = parse_raw(raw, f.name()).map_err(field)?;
            CodeableConcept { coding: vec![crate::json::Coding { system: None, code: Some(code) }] }
        } else {
            match self.cc(f)? {
                Some(cc) => cc,
                None => return Ok(None),
            }
        };
        for c in &cc.coding {
            if c.system.as_deref().is_some_and(|s| !systems.contains(&s)) {
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
