//! Code systems, and the helpers that write codings, CodeableConcepts, body
//! sites and UCUM quantities in the shapes `spec/contract.md` accepts.

use crate::json::{j, num, J};

/// Islet's own code system (contract.md).
pub const ISLET: &str = "https://islet.dev/fhir/CodeSystem/pnet";
/// `Patient.meta.tag` system naming the archetype a synthetic patient was drawn from.
pub const ARCHETYPE_SYSTEM: &str = "https://islet.dev/fhir/CodeSystem/synthetic-archetype";
pub(crate) const LOINC: &str = "http://loinc.org";
pub(crate) const SCT: &str = "http://snomed.info/sct";
pub(crate) const ICD10: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub(crate) const ICDO3: &str = "http://terminology.hl7.org/CodeSystem/icd-o-3";
pub(crate) const ATC: &str = "http://www.whocc.no/atc";
pub(crate) const UCUM: &str = "http://unitsofmeasure.org";

pub(crate) fn coding(system: &'static str, code: impl Into<J>) -> J {
    let code = code.into();
    j!({ "system": system, "code": code })
}
pub(crate) fn coding_d(system: &'static str, code: &'static str, display: &'static str) -> J {
    j!({ "system": system, "code": code, "display": display })
}
pub(crate) fn cc(codings: Vec<J>, text: impl Into<J>) -> J {
    let text = text.into();
    j!({ "coding": codings, "text": text })
}
pub(crate) fn islet_cc(code: impl Into<J>, text: impl Into<J>) -> J {
    cc(vec![coding(ISLET, code)], text)
}
pub(crate) fn pancreas_structure() -> J {
    cc(vec![coding_d(SCT, "15776009", "Pancreatic structure")], "Pancreas")
}
pub(crate) fn head_of_pancreas_structure() -> J {
    cc(vec![coding_d(SCT, "64163001", "Structure of head of pancreas")], "Head of pancreas")
}
pub(crate) fn liver_structure() -> J {
    cc(vec![coding_d(SCT, "10200004", "Liver structure")], "Liver")
}
/// `bodySite` of a Condition or Procedure (a list; an Observation's is one CodeableConcept).
pub(crate) fn pancreas_site() -> J {
    j!([(pancreas_structure())])
}
pub(crate) fn liver_site() -> J {
    j!([(liver_structure())])
}
pub(crate) fn ucum(value: f64, unit: &'static str, code: &'static str) -> J {
    j!({ "value": num(value), "unit": unit, "system": UCUM, "code": code })
}
pub(crate) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
