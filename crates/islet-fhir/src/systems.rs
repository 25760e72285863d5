//! Every code-system and extension URI the decoder knows, defined once
//! (contract.md names the code systems). Public, so that what Islet writes
//! in FHIR uses the same URIs it reads.

/// Islet's own code system (contract.md: `islet`).
pub const ISLET: &str = "https://islet.dev/fhir/CodeSystem/pnet";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";
/// ICD-10-CM.
pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
/// ICD-O-3 (topography and morphology).
pub const ICDO3: &str = "http://terminology.hl7.org/CodeSystem/icd-o-3";
/// WHO ATC classification.
pub const ATC: &str = "http://www.whocc.no/atc";
/// UCUM units (`Quantity.system`).
pub const UCUM: &str = "http://unitsofmeasure.org";
/// `Condition.clinicalStatus` codes (FHIR R4).
pub const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
/// `Condition.verificationStatus` codes (FHIR R4).
pub const CONDITION_VER_STATUS: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
/// `Condition.clinicalStatus` codes under their FHIR STU3 URL, still sent by older systems.
pub const CONDITION_CLINICAL_STU3: &str = "http://hl7.org/fhir/condition-clinical";
/// `Condition.verificationStatus` codes under their FHIR STU3 URL.
pub const CONDITION_VER_STATUS_STU3: &str = "http://hl7.org/fhir/condition-ver-status";
/// mCODE's histology-morphology-behavior extension on a primary cancer Condition.
pub const MCODE_HISTOLOGY_MORPHOLOGY_BEHAVIOR: &str =
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior";
