//! FHIR names: the resource types Islet reads ([`ResourceType`]), every
//! resource type name of R4 and R4B (to tell an unused type from a misspelt
//! one), FHIR ids, and the `Type/id` part of a reference.

use std::fmt;

/// The patient-scoped resource types Islet reads: those it reads facts from,
/// and BodyStructure, which facts point to (a tumour size's `focus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Observation,
    Condition,
    Patient,
    Procedure,
    MedicationStatement,
    MedicationRequest,
    ServiceRequest,
    BodyStructure,
}

impl ResourceType {
    /// Every supported type.
    pub const ALL: [ResourceType; 8] = [
        ResourceType::Observation,
        ResourceType::Condition,
        ResourceType::Patient,
        ResourceType::Procedure,
        ResourceType::MedicationStatement,
        ResourceType::MedicationRequest,
        ResourceType::ServiceRequest,
        ResourceType::BodyStructure,
    ];

    /// The FHIR name (`"Observation"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Observation => "Observation",
            ResourceType::Condition => "Condition",
            ResourceType::Patient => "Patient",
            ResourceType::Procedure => "Procedure",
            ResourceType::MedicationStatement => "MedicationStatement",
            ResourceType::MedicationRequest => "MedicationRequest",
            ResourceType::ServiceRequest => "ServiceRequest",
            ResourceType::BodyStructure => "BodyStructure",
        }
    }

    /// The supported type of that exact FHIR name; `None` for any other name.
    pub fn parse(name: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Is `id` a FHIR id (`[A-Za-z0-9\-\.]{1,64}`)? Everything Islet keeps as a
/// key (resource id, version id, patient id) must be one.
pub(crate) fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// What a FHIR id must be, for rejections.
pub(crate) const ID_SHAPE: &str = "must be a FHIR id: 1–64 letters, digits, '-' or '.'";

/// `…/Type/id` → `Type/id` (the last two path segments; `_history` dropped).
pub(crate) fn type_and_id_suffix(reference: &str) -> Option<&str> {
    let r = match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    };
    let slash = r.rfind('/')?;
    let start = r[..slash].rfind('/').map_or(0, |i| i + 1);
    Some(&r[start..])
}

/// Every resource type of FHIR R4 and R4B, sorted.
const ALL: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdministrableProductDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Citation",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "ClinicalUseDefinition",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceReport",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "Ingredient",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "ManufacturedItemDefinition",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductDefinition",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "NutritionProduct",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "PackagedProductDefinition",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RegulatedAuthorization",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "SubscriptionStatus",
    "SubscriptionTopic",
    "Substance",
    "SubstanceDefinition",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// Is `name` a FHIR R4 / R4B resource type?
pub(crate) fn is_resource_type(name: &str) -> bool {
    ALL.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_types_round_trip_and_are_fhir_types() {
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
            assert!(is_resource_type(t.as_str()), "{t}");
        }
        assert_eq!(ResourceType::parse("Encounter"), None);
        assert_eq!(ResourceType::parse("observation"), None);
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("a-1.B"));
        assert!(is_valid_id(&"x".repeat(64)));
        assert!(!is_valid_id(&"x".repeat(65)));
        for bad in ["", "a b", "a/b", "a_b", "é", "a\0"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn suffixes() {
        assert_eq!(type_and_id_suffix("Patient/1"), Some("Patient/1"));
        assert_eq!(type_and_id_suffix("http://x/fhir/Patient/1"), Some("Patient/1"));
        assert_eq!(type_and_id_suffix("Patient/1/_history/2"), Some("Patient/1"));
        assert_eq!(type_and_id_suffix("urn:uuid:abc"), None);
    }

    #[test]
    fn sorted_and_complete() {
        assert!(ALL.windows(2).all(|w| w[0] < w[1]));
        for t in ["Observation", "Encounter", "Bundle", "MedicinalProduct", "SubscriptionTopic"] {
            assert!(is_resource_type(t), "{t}");
        }
        assert!(!is_resource_type("Observatoin"));
        assert!(!is_resource_type("DomainResource"));
    }
}
