//! What each rule proposes to do, for the `action` of a RequestGroup and the
//! `focus` of a follow-up Task: a title and the requests (a proposed
//! ServiceRequest or MedicationRequest), taken from the rule's own wording.
//!
//! A request is coded only with a code of the contract's therapy table, which
//! names exactly that therapy (and which Islet's decoder reads back as that
//! therapy — tested); everything else (a biopsy, a lab test, an imaging
//! study, an evaluation) is text, because the contract gives no order code
//! for it and Islet does not invent clinical codes. Safety and data rules
//! propose nothing: they are DetectedIssues.

use islet_fhir::systems::{ATC, ISLET};
use islet_guideline::facts::TherapyClass;

/// The proposed activity of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// `RequestGroup.action.title`.
    pub title: &'static str,
    /// The requests; none when the rule names no order (e.g. "watch for side effects").
    pub requests: &'static [Request],
    /// `true`: the requests are alternatives, at most one to be chosen
    /// ("everolimus or sunitinib"); `false`: all of them.
    pub alternatives: bool,
}

/// One proposed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub resource: RequestType,
    /// The code, and the therapy it means in the contract's table.
    pub code: Option<(Coding, TherapyClass)>,
    /// `code.text` / `medicationCodeableConcept.text`: what to do, in words.
    pub text: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    ServiceRequest,
    MedicationRequest,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::ServiceRequest => "ServiceRequest",
            RequestType::MedicationRequest => "MedicationRequest",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coding {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
}

const fn islet(code: &'static str, display: &'static str) -> Coding {
    Coding { system: ISLET, code, display }
}

const fn atc(code: &'static str, display: &'static str) -> Coding {
    Coding { system: ATC, code, display }
}

const fn service(text: &'static str) -> Request {
    Request { resource: RequestType::ServiceRequest, code: None, text }
}

const fn procedure(code: Coding, therapy: TherapyClass, text: &'static str) -> Request {
    Request { resource: RequestType::ServiceRequest, code: Some((code, therapy)), text }
}

const fn medication(code: Coding, therapy: TherapyClass, text: &'static str) -> Request {
    Request { resource: RequestType::MedicationRequest, code: Some((code, therapy)), text }
}

const fn all(title: &'static str, requests: &'static [Request]) -> Activity {
    Activity { title, requests, alternatives: false }
}

const fn one_of(title: &'static str, requests: &'static [Request]) -> Activity {
    Activity { title, requests, alternatives: true }
}

// Displays are those of the CodeSystem (Islet) and of the WHO ATC index.
const SSA: Coding = islet("ssa", "Somatostatin analogue");
const SSA_ESCALATED: Coding = islet("ssa-escalated", "High-dose or shortened-interval somatostatin analogue");
const INTERFERON: Coding = islet("interferon", "α-interferon");
const CHEMOTHERAPY: Coding = islet("chemotherapy", "Chemotherapy");
const PRRT: Coding = islet("prrt", "Peptide receptor radionuclide therapy");
const PRIMARY_RESECTION: Coding = islet("primary-resection", "Surgical resection of the primary");
const LIVER_ABLATION: Coding = islet("liver-ablation", "Liver ablation (RFA, cryotherapy, ethanol)");
const TAE: Coding = islet("tae", "Transarterial embolization");
const TACE: Coding = islet("tace", "Transarterial chemoembolization");
const SIRT: Coding = islet("sirt", "Selective internal radiation therapy (90Y)");
const EVEROLIMUS: Coding = atc("L01EG02", "everolimus");
const SUNITINIB: Coding = atc("L01EX01", "sunitinib");
const OCTREOTIDE: Coding = atc("H01CB02", "octreotide");
const PPI: Coding = atc("A02BC", "Proton pump inhibitors");
const DIAZOXIDE: Coding = atc("V03AH01", "diazoxide");

const CGA: Request = service("Chromogranin A");
const RESECTION: Request =
    procedure(PRIMARY_RESECTION, TherapyClass::PrimaryResection, "Surgical resection of the pancreatic tumour");
const TARGETED: &[Request] = &[
    medication(EVEROLIMUS, TherapyClass::Everolimus, "Everolimus"),
    medication(SUNITINIB, TherapyClass::Sunitinib, "Sunitinib"),
];

/// Every rule that proposes an activity, with it. Safety and data rules are
/// not here: they propose nothing (they are DetectedIssues).
pub const ACTIVITIES: &[(&str, Activity)] = &[
    // Work-up: obtain the missing data.
    ("workup.grading-missing", all("Histological grading", &[service("Biopsy with Ki-67 index and mitotic count")])),
    (
        "workup.ssr-imaging-missing",
        all("Somatostatin-receptor imaging", &[service("Somatostatin-receptor imaging (SRS or 68Ga-SSA PET)")]),
    ),
    ("workup.cga-missing", all("Chromogranin A", &[CGA])),
    ("workup.performance-status-missing", all("Performance status", &[service("ECOG performance status assessment")])),
    // Surgery.
    ("surgery.resection-indicated", all("Surgical resection", &[RESECTION])),
    ("surgery.vascular-exploration", all("Surgical exploration", &[service("Surgical exploration")])),
    ("surveillance.small-nonfunctioning", all("Non-operative approach with surveillance", &[])),
    ("men1.resection-indicated", all("Surgical resection", &[RESECTION])),
    ("men1.small-tumour", all("Yearly tumour growth", &[service("Imaging to measure the tumour's growth")])),
    // Somatostatin analogues, syndromes, interferon.
    (
        "ssa.antiproliferative",
        all(
            "Long-acting somatostatin analogue",
            &[medication(
                SSA,
                TherapyClass::Ssa,
                "Long-acting somatostatin analogue (octreotide LAR or lanreotide autogel)",
            )],
        ),
    ),
    (
        "ssa.g2-limited-evidence",
        all("Somatostatin analogue (to consider)", &[medication(SSA, TherapyClass::Ssa, "Somatostatin analogue")]),
    ),
    (
        "ssa.syndrome-control",
        all(
            "Somatostatin analogue for hormone hypersecretion",
            &[medication(SSA, TherapyClass::Ssa, "Somatostatin analogue")],
        ),
    ),
    (
        "ssa.escalate-on-progression",
        all(
            "Escalate the somatostatin analogue",
            &[medication(SSA_ESCALATED, TherapyClass::Ssa, "Somatostatin analogue every 21 days, or at high dose")],
        ),
    ),
    (
        "ssa.rescue-octreotide",
        all(
            "Immediate-release octreotide rescue",
            &[medication(OCTREOTIDE, TherapyClass::Ssa, "Immediate-release octreotide s.c. (rescue medication)")],
        ),
    ),
    (
        "syndrome.gastrinoma-ppi",
        all(
            "High-dose proton pump inhibitor",
            &[medication(PPI, TherapyClass::ProtonPumpInhibitor, "High-dose proton pump inhibitor")],
        ),
    ),
    (
        "syndrome.insulinoma-glucose",
        all("Control hypoglycaemia", &[medication(DIAZOXIDE, TherapyClass::Diazoxide, "Diazoxide")]),
    ),
    (
        "ifn.consider",
        all(
            "α-interferon",
            &[medication(INTERFERON, TherapyClass::Interferon, "α-interferon, usually with a somatostatin analogue")],
        ),
    ),
    // Chemotherapy, targeted therapy, PRRT.
    (
        "chemo.well-differentiated",
        all(
            "Chemotherapy",
            &[medication(
                CHEMOTHERAPY,
                TherapyClass::Chemotherapy,
                "Streptozotocin-based chemotherapy (alternatives: dacarbazine, temozolomide ± capecitabine, \
                 oxaliplatin regimens)",
            )],
        ),
    ),
    (
        "chemo.nec-platinum",
        all(
            "Platinum-based chemotherapy",
            &[medication(CHEMOTHERAPY, TherapyClass::Chemotherapy, "Cisplatin or carboplatin with etoposide")],
        ),
    ),
    ("targeted.after-chemo", one_of("Everolimus or sunitinib", TARGETED)),
    ("targeted.first-line", one_of("Everolimus or sunitinib", TARGETED)),
    (
        "prrt.candidate",
        all(
            "Peptide receptor radionuclide therapy",
            &[procedure(PRRT, TherapyClass::Prrt, "PRRT with 177Lu- or 90Y-DOTA-octreotate")],
        ),
    ),
    // Liver-directed therapy, transplantation.
    (
        "liver.ablation",
        all(
            "Liver ablation",
            &[procedure(
                LIVER_ABLATION,
                TherapyClass::LiverAblation,
                "Radiofrequency ablation of the liver metastases",
            )],
        ),
    ),
    (
        "liver.embolization",
        one_of(
            "TAE or TACE (TACE favoured)",
            &[
                procedure(TACE, TherapyClass::Tace, "Transarterial chemoembolization (TACE)"),
                procedure(TAE, TherapyClass::Tae, "Transarterial embolization (TAE)"),
            ],
        ),
    ),
    (
        "liver.sirt",
        all(
            "Radioembolization (SIRT)",
            &[
                service("Celiac angiogram (exclude shunting first)"),
                procedure(SIRT, TherapyClass::Sirt, "Selective internal radiation therapy with 90Y microspheres"),
            ],
        ),
    ),
    (
        "olt.candidate",
        all(
            "Evaluation for liver transplantation",
            &[service("Evaluation for liver transplantation (Milan-NET criteria)")],
        ),
    ),
    // Monitoring: what to check while a therapy runs.
    ("monitoring.ssa", all("Side effects of the somatostatin analogue", &[])),
    ("monitoring.everolimus", all("Monitoring on everolimus", &[service("Blood counts")])),
    ("monitoring.sunitinib", all("Monitoring on sunitinib", &[service("Blood pressure and neutrophil count")])),
    ("monitoring.prrt", all("Monitoring after PRRT", &[service("Blood counts and renal function")])),
    ("monitoring.interferon", all("Monitoring on α-interferon", &[service("Blood counts, liver tests and lipids")])),
    // Dated follow-up: exactly one request, the Task's focus.
    (
        "followup.surveillance-imaging",
        all("Surveillance imaging", &[service("Imaging to measure the pancreatic tumour")]),
    ),
    ("followup.cga-surveillance", all("Chromogranin A", &[CGA])),
];

/// The activity a rule proposes; `None` for safety and data rules, and for
/// a rule id this build does not know (an alert stored by another version).
pub fn of_rule(rule: &str) -> Option<&'static Activity> {
    ACTIVITIES.iter().find(|(id, _)| *id == rule).map(|(_, a)| a)
}
