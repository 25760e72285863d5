//! Terminology: the codes of contract.md "Facts and the codes that carry them".
//!
//! [`STANDARD`] is the one table of exact codes; a few rules cover code
//! ranges (ICD-10-CM `K72.x`, `C77.x`, ICD-10-CM `C25.x` as a pancreatic
//! site, ICD-O-3 topography `C25.x`, ATC `A02BC*`). Every coding Islet reads
//! goes through [`Terminology::lookup`], which applies the site mapping first.

use crate::systems;
use islet_guideline::facts::{Hereditary, MetastasisSite, ResectionOutcome, Syndrome, TherapyClass};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The code systems Islet interprets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum System {
    Islet,
    Loinc,
    Sct,
    Icd10Cm,
    IcdO3,
    Atc,
}

impl System {
    pub(crate) const ALL: [System; 6] =
        [System::Islet, System::Loinc, System::Sct, System::Icd10Cm, System::IcdO3, System::Atc];

    pub(crate) fn from_uri(uri: &str) -> Option<System> {
        System::ALL.into_iter().find(|sys| sys.uri() == uri)
    }

    pub(crate) fn uri(self) -> &'static str {
        match self {
            System::Islet => systems::ISLET,
            System::Loinc => systems::LOINC,
            System::Sct => systems::SNOMED,
            System::Icd10Cm => systems::ICD10CM,
            System::IcdO3 => systems::ICDO3,
            System::Atc => systems::ATC,
        }
    }

    /// Short name usable in the site-mapping file (`"loinc|29593-1"`).
    pub(crate) fn alias(self) -> &'static str {
        match self {
            System::Islet => "islet",
            System::Loinc => "loinc",
            System::Sct => "sct",
            System::Icd10Cm => "icd-10-cm",
            System::IcdO3 => "icd-o-3",
            System::Atc => "atc",
        }
    }

    pub(crate) fn from_alias_or_uri(s: &str) -> Option<System> {
        System::ALL.into_iter().find(|sys| sys.alias() == s).or_else(|| System::from_uri(s))
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What an Observation measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ObsKind {
    Ki67,
    Mitoses,
    WhoGrade,
    CgaMass,
    CgaMolar,
    CgaUnits,
    PancreaticPolypeptide,
    /// LOINC 21889-1: size panel (component 33728-7) or a size value.
    SizePanel,
    /// LOINC 33728-7: longest dimension.
    SizeLongest,
    LiverLesionCount,
    LiverInvolvement,
    SstrImaging,
    Krenning,
    OctreotideTest,
    DiseaseStatus,
    Recist,
    Ecog,
    Resectability,
    LiverResectability,
    DiscoveryMode,
    HormonalSymptoms,
}

/// A coded answer (Observation.valueCodeableConcept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Answer {
    G1,
    G2,
    G3,
    Positive,
    Negative,
    Equivocal,
    Cr,
    Pr,
    Sd,
    Pd,
    Complete,
    Ge90,
    Lt90,
    UnresectableVascular,
    Unresectable,
    Resectable,
    Incidental,
    Symptomatic,
    Controlled,
    Uncontrolled,
    Crisis,
    Improved,
    Stable,
    Worsened,
    Undetermined,
    /// ECOG grade as a LOINC answer (LA9622-7 … LA9627-6).
    Ecog(u8),
}

/// A body site Islet distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Site {
    Pancreas,
    Liver,
}

/// Everything a code can mean to Islet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Code {
    Obs(ObsKind),
    Answer(Answer),
    Site(Site),
    /// A pNET diagnosis whatever the site.
    Pnet,
    /// ICD-10-CM C7A.8: a pNET when the site is pancreatic.
    PnetIfPancreatic,
    /// ICD-10-CM C7A.1: a NEC; also a pNET when the site is pancreatic.
    NecAndPnetIfPancreatic,
    Nec,
    /// ICD-O-3 morphology with malignant behaviour, e.g. 8240 for `8240/3`.
    Morphology(u16),
    Syndrome(Syndrome),
    Hereditary(Hereditary),
    Metastasis(MetastasisSite),
    /// SCT 128462008 secondary malignant neoplasm: liver metastases with a liver body site.
    SecondaryMalignancy,
    PortalVeinOcclusion,
    LiverFailure,
    BiliaryReconstruction,
    Therapy(TherapyClass),
    /// Islet `ssa-escalated`: an SSA at high dose or shortened interval.
    SsaEscalated,
    Outcome(ResectionOutcome),
}

use Answer as A;
use Code as C;
use System::*;

impl Code {
    /// A code a Condition turns into a fact (alone, or with a body site).
    pub(crate) fn is_condition_fact(self) -> bool {
        matches!(
            self,
            C::Pnet
                | C::PnetIfPancreatic
                | C::NecAndPnetIfPancreatic
                | C::Nec
                | C::Morphology(_)
                | C::Syndrome(_)
                | C::Hereditary(_)
                | C::Metastasis(_)
                | C::SecondaryMalignancy
                | C::PortalVeinOcclusion
                | C::LiverFailure
                | C::BiliaryReconstruction
        )
    }

    /// A code that names a therapy class.
    pub(crate) fn is_therapy(self) -> bool {
        matches!(self, C::Therapy(_) | C::SsaEscalated)
    }
}

/// Every exact code of the contract's tables (ICD-10-CM without dots is also accepted).
pub(crate) const STANDARD: &[(System, &str, Code)] = &[
    // Observations
    (Loinc, "29593-1", C::Obs(ObsKind::Ki67)),
    (Islet, "ki67-index", C::Obs(ObsKind::Ki67)),
    (Islet, "mitotic-count", C::Obs(ObsKind::Mitoses)),
    (Islet, "who-grade", C::Obs(ObsKind::WhoGrade)),
    (Islet, "G1", C::Answer(A::G1)),
    (Islet, "G2", C::Answer(A::G2)),
    (Islet, "G3", C::Answer(A::G3)),
    (Loinc, "9811-1", C::Obs(ObsKind::CgaMass)),
    (Loinc, "25587-7", C::Obs(ObsKind::CgaMolar)),
    (Loinc, "30169-7", C::Obs(ObsKind::CgaUnits)),
    (Loinc, "2721-9", C::Obs(ObsKind::PancreaticPolypeptide)),
    (Loinc, "21889-1", C::Obs(ObsKind::SizePanel)),
    (Loinc, "33728-7", C::Obs(ObsKind::SizeLongest)),
    (Sct, "15776009", C::Site(Site::Pancreas)),
    // Parts of the pancreas: a tumour there is the primary (contract.md v2;
    // sources in tests/codes.rs). Neck and uncinate process: codes not confirmed.
    (Sct, "64163001", C::Site(Site::Pancreas)), // structure of head of pancreas
    (Sct, "40133006", C::Site(Site::Pancreas)), // structure of body of pancreas
    (Sct, "73239005", C::Site(Site::Pancreas)), // structure of tail of pancreas
    (Sct, "10200004", C::Site(Site::Liver)),
    (Islet, "liver-lesion-count", C::Obs(ObsKind::LiverLesionCount)),
    (Islet, "liver-involvement", C::Obs(ObsKind::LiverInvolvement)),
    (Islet, "sstr-imaging", C::Obs(ObsKind::SstrImaging)),
    (Islet, "positive", C::Answer(A::Positive)),
    (Islet, "negative", C::Answer(A::Negative)),
    (Islet, "equivocal", C::Answer(A::Equivocal)),
    (Islet, "krenning-score", C::Obs(ObsKind::Krenning)),
    (Islet, "octreotide-test", C::Obs(ObsKind::OctreotideTest)),
    (Loinc, "97509-4", C::Obs(ObsKind::DiseaseStatus)),
    (Sct, "268910001", C::Answer(A::Improved)),
    (Sct, "359746009", C::Answer(A::Stable)),
    (Sct, "271299001", C::Answer(A::Worsened)),
    (Sct, "709137006", C::Answer(A::Undetermined)),
    // mCODE's remission answers (CancerDiseaseStatus): improved (contract.md v2).
    (Sct, "550991000124107", C::Answer(A::Improved)), // full remission
    (Sct, "551001000124108", C::Answer(A::Improved)), // partial remission
    (Islet, "recist-response", C::Obs(ObsKind::Recist)),
    (Islet, "CR", C::Answer(A::Cr)),
    (Islet, "PR", C::Answer(A::Pr)),
    (Islet, "SD", C::Answer(A::Sd)),
    (Islet, "PD", C::Answer(A::Pd)),
    (Loinc, "89247-1", C::Obs(ObsKind::Ecog)),
    (Loinc, "LA9622-7", C::Answer(A::Ecog(0))),
    (Loinc, "LA9623-5", C::Answer(A::Ecog(1))),
    (Loinc, "LA9624-3", C::Answer(A::Ecog(2))),
    (Loinc, "LA9625-0", C::Answer(A::Ecog(3))),
    (Loinc, "LA9626-8", C::Answer(A::Ecog(4))),
    (Loinc, "LA9627-6", C::Answer(A::Ecog(5))),
    (Islet, "resectability", C::Obs(ObsKind::Resectability)),
    (Islet, "complete", C::Answer(A::Complete)),
    (Islet, "ge-90", C::Answer(A::Ge90)),
    (Islet, "lt-90", C::Answer(A::Lt90)),
    (Islet, "unresectable-vascular", C::Answer(A::UnresectableVascular)),
    (Islet, "unresectable", C::Answer(A::Unresectable)),
    (Islet, "liver-resectability", C::Obs(ObsKind::LiverResectability)),
    (Islet, "resectable", C::Answer(A::Resectable)),
    (Islet, "discovery-mode", C::Obs(ObsKind::DiscoveryMode)),
    (Islet, "incidental", C::Answer(A::Incidental)),
    (Islet, "symptomatic", C::Answer(A::Symptomatic)),
    (Islet, "hormonal-symptoms", C::Obs(ObsKind::HormonalSymptoms)),
    (Islet, "controlled", C::Answer(A::Controlled)),
    (Islet, "uncontrolled", C::Answer(A::Uncontrolled)),
    (Islet, "crisis", C::Answer(A::Crisis)),
    // Conditions: pNET, NEC
    (Sct, "735735001", C::Pnet),
    (Sct, "254611009", C::Pnet),
    (Sct, "187794005", C::Pnet),
    (Sct, "254612002", C::Pnet),
    (Sct, "93843007", C::Pnet),
    (Icd10Cm, "C25.4", C::Pnet),
    (Icd10Cm, "C7A.8", C::PnetIfPancreatic),
    (Icd10Cm, "C7A.1", C::NecAndPnetIfPancreatic),
    (IcdO3, "8150/3", C::Morphology(8150)),
    (IcdO3, "8151/3", C::Morphology(8151)),
    (IcdO3, "8152/3", C::Morphology(8152)),
    (IcdO3, "8153/3", C::Morphology(8153)),
    (IcdO3, "8154/3", C::Morphology(8154)),
    (IcdO3, "8155/3", C::Morphology(8155)),
    (IcdO3, "8156/3", C::Morphology(8156)),
    (IcdO3, "8240/3", C::Morphology(8240)),
    (IcdO3, "8249/3", C::Morphology(8249)),
    (IcdO3, "8246/3", C::Morphology(8246)),
    (IcdO3, "8013/3", C::Morphology(8013)),
    (IcdO3, "8041/3", C::Morphology(8041)),
    (Sct, "253000007", C::Nec),
    // Functioning syndromes
    (Sct, "713189001", C::Syndrome(Syndrome::Insulinoma)),
    (Icd10Cm, "E16.1", C::Syndrome(Syndrome::Insulinoma)),
    (Icd10Cm, "E16.4", C::Syndrome(Syndrome::Gastrinoma)),
    (Icd10Cm, "E16.3", C::Syndrome(Syndrome::Glucagonoma)),
    (Islet, "vipoma", C::Syndrome(Syndrome::Vipoma)),
    (Islet, "somatostatinoma", C::Syndrome(Syndrome::Somatostatinoma)),
    (Sct, "703816006", C::Syndrome(Syndrome::NonFunctioning)),
    (Islet, "non-functioning", C::Syndrome(Syndrome::NonFunctioning)),
    // Hereditary syndromes
    (Icd10Cm, "E31.21", C::Hereditary(Hereditary::Men1)),
    (Icd10Cm, "Q85.83", C::Hereditary(Hereditary::VonHippelLindau)),
    (Icd10Cm, "Q85.1", C::Hereditary(Hereditary::TuberousSclerosis)),
    (Sct, "30664006", C::Hereditary(Hereditary::Men1)),
    (Sct, "46659004", C::Hereditary(Hereditary::VonHippelLindau)),
    (Sct, "7199000", C::Hereditary(Hereditary::TuberousSclerosis)),
    // Metastases
    (Sct, "94381002", C::Metastasis(MetastasisSite::Liver)),
    (Icd10Cm, "C78.7", C::Metastasis(MetastasisSite::Liver)),
    (Icd10Cm, "C7B.02", C::Metastasis(MetastasisSite::Liver)),
    (Sct, "128462008", C::SecondaryMalignancy),
    (Sct, "94222008", C::Metastasis(MetastasisSite::Bone)),
    (Icd10Cm, "C79.51", C::Metastasis(MetastasisSite::Bone)),
    (Icd10Cm, "C7B.03", C::Metastasis(MetastasisSite::Bone)),
    (Sct, "94391008", C::Metastasis(MetastasisSite::Lung)),
    (Icd10Cm, "C78.00", C::Metastasis(MetastasisSite::Lung)),
    (Icd10Cm, "C78.01", C::Metastasis(MetastasisSite::Lung)),
    (Icd10Cm, "C78.02", C::Metastasis(MetastasisSite::Lung)),
    (Sct, "94392001", C::Metastasis(MetastasisSite::DistantNodes)),
    (Sct, "94347008", C::Metastasis(MetastasisSite::Other)),
    (Icd10Cm, "C7B.01", C::Metastasis(MetastasisSite::DistantNodes)),
    (Icd10Cm, "C7B.8", C::Metastasis(MetastasisSite::Other)),
    (Sct, "17920008", C::PortalVeinOcclusion),
    (Icd10Cm, "I81", C::PortalVeinOcclusion),
    (Sct, "59927004", C::LiverFailure),
    (Islet, "biliary-reconstruction", C::BiliaryReconstruction),
    // Therapies
    (Atc, "H01CB02", C::Therapy(TherapyClass::Ssa)),
    (Atc, "H01CB03", C::Therapy(TherapyClass::Ssa)),
    (Atc, "H01CB05", C::Therapy(TherapyClass::Ssa)),
    (Islet, "ssa", C::Therapy(TherapyClass::Ssa)),
    (Islet, "ssa-escalated", C::SsaEscalated),
    (Atc, "L03AB04", C::Therapy(TherapyClass::Interferon)),
    (Atc, "L03AB05", C::Therapy(TherapyClass::Interferon)),
    (Islet, "interferon", C::Therapy(TherapyClass::Interferon)),
    (Atc, "L01AD04", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01AX03", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01BC06", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01BC02", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01DB01", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01AX04", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01XA01", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01XA02", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01XA03", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01CB01", C::Therapy(TherapyClass::Chemotherapy)),
    (Islet, "chemotherapy", C::Therapy(TherapyClass::Chemotherapy)),
    (Atc, "L01EG02", C::Therapy(TherapyClass::Everolimus)),
    (Atc, "L01XE10", C::Therapy(TherapyClass::Everolimus)),
    (Islet, "everolimus", C::Therapy(TherapyClass::Everolimus)),
    (Atc, "L01EX01", C::Therapy(TherapyClass::Sunitinib)),
    (Atc, "L01XE04", C::Therapy(TherapyClass::Sunitinib)),
    (Islet, "sunitinib", C::Therapy(TherapyClass::Sunitinib)),
    (Atc, "V10XX04", C::Therapy(TherapyClass::Prrt)),
    (Islet, "prrt", C::Therapy(TherapyClass::Prrt)),
    (Islet, "primary-resection", C::Therapy(TherapyClass::PrimaryResection)),
    (Islet, "curative", C::Outcome(ResectionOutcome::Curative)),
    (Islet, "debulking", C::Outcome(ResectionOutcome::Debulking)),
    (Islet, "liver-ablation", C::Therapy(TherapyClass::LiverAblation)),
    (Islet, "tae", C::Therapy(TherapyClass::Tae)),
    (Islet, "tace", C::Therapy(TherapyClass::Tace)),
    (Islet, "sirt", C::Therapy(TherapyClass::Sirt)),
    (Sct, "18027006", C::Therapy(TherapyClass::LiverTransplant)),
    (Islet, "liver-transplant", C::Therapy(TherapyClass::LiverTransplant)),
    (Atc, "V03AH01", C::Therapy(TherapyClass::Diazoxide)),
];

/// One map per system, built once from [`STANDARD`].
static EXACT: LazyLock<[HashMap<&'static str, Code>; 6]> = LazyLock::new(|| {
    let mut maps: [HashMap<&'static str, Code>; 6] = Default::default();
    for &(system, code, meaning) in STANDARD {
        maps[system.index()].insert(code, meaning);
    }
    maps
});

/// The meaning of a standard code, with the range rules.
pub(crate) fn lookup_standard(system: System, code: &str) -> Option<Code> {
    if let Some(c) = EXACT[system.index()].get(code) {
        return Some(*c);
    }
    match system {
        System::Icd10Cm => icd10cm_rule(code),
        System::IcdO3 => {
            // Topography C25.x (pancreas), with or without the dot.
            let t = code.strip_prefix("C25")?;
            let t = t.strip_prefix('.').unwrap_or(t);
            (t.len() == 1 && t.as_bytes()[0].is_ascii_digit()).then_some(C::Site(Site::Pancreas))
        }
        System::Atc => code.starts_with("A02BC").then_some(C::Therapy(TherapyClass::ProtonPumpInhibitor)),
        _ => None,
    }
}

/// ICD-10-CM codes matched by category, and exact codes written without the dot.
fn icd10cm_rule(code: &str) -> Option<Code> {
    let b = code.as_bytes();
    if b.len() < 3 || b.len() > 8 || !code.is_ascii() {
        return None;
    }
    let (category, rest) = code.split_at(3);
    let sub = rest.strip_prefix('.').unwrap_or(rest);
    if !sub.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    match category {
        // K72.x hepatic failure; C77.x secondary neoplasm of lymph nodes:
        // C77.2 intra-abdominal (regional for a pNET), the others distant.
        "K72" => return Some(C::LiverFailure),
        "C77" if sub == "2" => return Some(C::Metastasis(MetastasisSite::RegionalNodes)),
        "C77" => return Some(C::Metastasis(MetastasisSite::DistantNodes)),
        // C25.x other than C25.4: a malignant pancreatic neoplasm, i.e. a pancreatic site.
        "C25" if sub != "4" => return Some(C::Site(Site::Pancreas)),
        _ => {}
    }
    if !rest.is_empty() && !rest.starts_with('.') {
        // Written without the dot: try the dotted form.
        let mut dotted = [0u8; 9];
        dotted[..3].copy_from_slice(&b[..3]);
        dotted[3] = b'.';
        dotted[4..4 + rest.len()].copy_from_slice(rest.as_bytes());
        let dotted = std::str::from_utf8(&dotted[..4 + rest.len()]).ok()?;
        return EXACT[System::Icd10Cm.index()].get(dotted).copied();
    }
    None
}

/// Codes in systems Islet does not know, mapped by the site.
pub(crate) type LocalCodes = HashMap<String, HashMap<String, Code>>;

/// Standard lookup plus the site mapping; cheap when the mapping is empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct Terminology {
    /// Local system URI → local code → meaning.
    pub(crate) local: LocalCodes,
    /// Local system URI → the standard system it is another name for.
    pub(crate) aliases: HashMap<String, System>,
}

impl Terminology {
    /// What a coding means to Islet, if anything. The site mapping wins.
    pub(crate) fn lookup(&self, system: Option<&str>, code: Option<&str>) -> Option<Code> {
        let (system, code) = (system?, code?);
        if !self.local.is_empty() {
            if let Some(c) = self.local.get(system).and_then(|m| m.get(code)) {
                return Some(*c);
            }
        }
        let sys = match System::from_uri(system) {
            Some(s) => s,
            None => *self.aliases.get(system)?,
        };
        lookup_standard(sys, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_row_is_found() {
        let t = Terminology::default();
        for &(sys, code, meaning) in STANDARD {
            assert_eq!(t.lookup(Some(sys.uri()), Some(code)), Some(meaning), "{code}");
        }
    }

    #[test]
    fn ranges() {
        let icd = |c| lookup_standard(System::Icd10Cm, c);
        assert_eq!(icd("K72.90"), Some(C::LiverFailure));
        assert_eq!(icd("K72"), Some(C::LiverFailure));
        assert_eq!(icd("K7201"), Some(C::LiverFailure));
        assert_eq!(icd("C77.2"), Some(C::Metastasis(MetastasisSite::RegionalNodes)));
        assert_eq!(icd("C772"), Some(C::Metastasis(MetastasisSite::RegionalNodes)));
        assert_eq!(icd("C77.3"), Some(C::Metastasis(MetastasisSite::DistantNodes)));
        assert_eq!(icd("C77.9"), Some(C::Metastasis(MetastasisSite::DistantNodes)));
        assert_eq!(icd("C78.03"), None);
        assert_eq!(icd("C7800"), Some(C::Metastasis(MetastasisSite::Lung)));
        assert_eq!(icd("C254"), Some(C::Pnet));
        assert_eq!(icd("C25.0"), Some(C::Site(Site::Pancreas)));
        assert_eq!(icd("C7A8"), Some(C::PnetIfPancreatic));
        assert_eq!(icd("K7"), None);
        assert_eq!(icd("K71.0"), None);
        assert_eq!(icd("Ké72"), None, "not ASCII: no panic on a char boundary");
        assert_eq!(lookup_standard(System::Atc, "A02BC05"), Some(C::Therapy(TherapyClass::ProtonPumpInhibitor)));
        assert_eq!(lookup_standard(System::Atc, "A02BA01"), None);
        assert_eq!(lookup_standard(System::IcdO3, "C25.1"), Some(C::Site(Site::Pancreas)));
        assert_eq!(lookup_standard(System::IcdO3, "C251"), Some(C::Site(Site::Pancreas)));
        assert_eq!(lookup_standard(System::IcdO3, "C26.1"), None);
        assert_eq!(lookup_standard(System::IcdO3, "8240/1"), None);
    }

    #[test]
    fn ki67_is_not_her2() {
        assert_eq!(lookup_standard(System::Loinc, "85319-2"), None);
    }
}
