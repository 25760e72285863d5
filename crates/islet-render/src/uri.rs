//! Every URI and code Islet writes in its FHIR output and does not read.
//! Code systems Islet also reads (its own CodeSystem, ATC, …) stay in
//! `islet_fhir::systems`, so that what Islet writes is coded as it reads.

/// `identifier.system` of every alert resource; the value is the alert id.
pub const ALERT_ID: &str = "https://islet.dev/fhir/alert-id";

/// Canonical URL of a rule: `{RULE}{id}` (`RequestGroup.instantiatesUri`,
/// `Task.instantiatesUri`, `DetectedIssue.reference`).
pub const RULE: &str = "https://islet.dev/fhir/rule/";

/// The rule's citation in the source review, as text (`valueString`).
/// Islet's own: the core `cqf-citation` is allowed only on `Attachment` in
/// R4, and `DetectedIssue` has no `note`.
pub const CITATION_EXTENSION: &str = "https://islet.dev/fhir/StructureDefinition/citation";

/// Evidence a `RequestGroup` cannot hold in `reasonReference` (R4 allows
/// only Condition, Observation, DiagnosticReport and DocumentReference
/// there): a therapy, a Patient, a BodyStructure (`valueReference`).
pub const EVIDENCE_EXTENSION: &str = "https://islet.dev/fhir/StructureDefinition/evidence";

/// The code system of every code Islet writes: rules, `meta.tag` codes,
/// follow-up states. Islet's one CodeSystem (contract: `islet`).
pub const CODES: &str = islet_fhir::systems::ISLET;

/// The canonical URL of a rule.
pub fn rule_url(rule: &str) -> String {
    format!("{RULE}{rule}")
}

/// Codes of [`CODES`] that Islet writes besides the rule ids, with their
/// display: every one must be a concept of `schemas/codesystem-pnet.json`
/// with that display (tested).
pub mod code {
    /// `meta.tag`: the guideline profile the alert was raised under.
    pub const ENETS: (&str, &str) = ("enets", "ENETS 2012 profile");
    pub const NCCN: (&str, &str) = ("nccn", "NCCN 2012 profile");
    /// `meta.tag`: the alert rests on a preliminary result.
    pub const PRELIMINARY: (&str, &str) = ("preliminary", "Rests on a preliminary result");
    /// `Task.businessStatus`: the follow-up's state.
    pub const SCHEDULED: (&str, &str) = ("scheduled", "Scheduled");
    pub const DUE: (&str, &str) = ("due", "Due");
    pub const OVERDUE: (&str, &str) = ("overdue", "Overdue");

    /// All of them, for the CodeSystem test.
    pub const ALL: [(&str, &str); 6] = [ENETS, NCCN, PRELIMINARY, SCHEDULED, DUE, OVERDUE];
}
