//! Clinical facts: the guideline's only input.
//!
//! The FHIR decoder (`islet-fhir`) turns each resource into zero or more
//! [`Fact`]s. Every fact carries the resource it came from, its clinical time
//! and whether the source was preliminary, so every alert can name its
//! evidence. Values are validated newtypes: a [`Ki67Percent`] cannot be 150,
//! a [`Millimetres`] cannot be negative. A value outside its physical range
//! never becomes a fact; the decoder emits a [`FactKind::Problem`] instead.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// An instant on the clinical time line.
///
/// A clinical time keeps the UTC offset it was written with in the resource
/// (a time without an offset is taken as UTC). Instants compare by the
/// moment they denote, whatever their offsets, so ordering never depends on
/// them; calendar dates (due dates, windows, ages, the dates in evidence) are
/// taken with `at.date()`, in that own offset, never after converting to UTC
/// (`2024-01-31T20:00-05:00` is 31 January). See [`crate::calendar`].
pub type Instant = OffsetDateTime;

/// A FHIR reference to the resource a fact came from: `Type/id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceRef(pub String);

impl SourceRef {
    pub fn new(resource_type: &str, id: &str) -> Self {
        SourceRef(format!("{resource_type}/{id}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One clinical fact with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// The resource that states it.
    pub source: SourceRef,
    /// Clinical time (effective / onset / performed / authored), never arrival time.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Instant,
    /// The source Observation is `preliminary`: alerts resting on it say so.
    pub preliminary: bool,
    pub kind: FactKind,
}

/// Error for a value outside its physical range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what} {value} is outside its physical range {range}")]
pub struct OutOfRange {
    pub what: &'static str,
    pub value: f64,
    pub range: &'static str,
}

macro_rules! bounded_f64 {
    ($(#[$m:meta])* $name:ident, $what:literal, $lo:expr, $hi:expr, $range:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(f64);

        impl TryFrom<f64> for $name {
            type Error = OutOfRange;
            fn try_from(value: f64) -> Result<Self, OutOfRange> {
                Self::new(value)
            }
        }

        impl From<$name> for f64 {
            fn from(v: $name) -> f64 {
                v.0
            }
        }

        impl $name {
            pub fn new(value: f64) -> Result<Self, OutOfRange> {
                if value.is_finite() && ($lo..=$hi).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(OutOfRange { what: $what, value, range: $range })
                }
            }
            pub fn get(self) -> f64 {
                self.0
            }
        }
    };
}

bounded_f64!(
    /// Ki-67 proliferation index, 0–100 %.
    Ki67Percent, "Ki-67", 0.0, 100.0, "0–100 %"
);
bounded_f64!(
    /// Share of the liver volume replaced by tumour, 0–100 %.
    LiverInvolvementPercent, "liver involvement", 0.0, 100.0, "0–100 %"
);
bounded_f64!(
    /// Mitoses per 10 high-power fields (or per 2 mm²), ≥ 0.
    MitoticCount, "mitotic count", 0.0, f64::MAX, "≥ 0"
);
bounded_f64!(
    /// A length in millimetres, ≥ 0 (tumour diameters).
    Millimetres, "size", 0.0, f64::MAX, "≥ 0"
);
bounded_f64!(
    /// A non-negative laboratory concentration in its canonical unit.
    Concentration, "concentration", 0.0, f64::MAX, "≥ 0"
);

/// WHO 2010 grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    G1,
    G2,
    G3,
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grade::G1 => "G1",
            Grade::G2 => "G2",
            Grade::G3 => "G3",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Syndrome {
    Insulinoma,
    Gastrinoma,
    Glucagonoma,
    Vipoma,
    Somatostatinoma,
    /// Explicitly recorded as non-functioning.
    NonFunctioning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Hereditary {
    Men1,
    VonHippelLindau,
    TuberousSclerosis,
}

/// Where a metastasis sits (spec "metastasis sites").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MetastasisSite {
    Liver,
    /// Intra-abdominal (regional) lymph nodes, ICD-10-CM C77.2.
    RegionalNodes,
    Bone,
    Lung,
    /// Every other lymph-node station (C77.x but C77.2, C7B.01).
    DistantNodes,
    /// Any other site (peritoneum, C7B.8, SCT 94347008), and a
    /// secondary-malignancy Condition with no site recorded.
    Other,
}

impl MetastasisSite {
    /// Extra-abdominal disease: bone, lung, distant lymph nodes. Liver,
    /// regional nodes and other (incl. unknown) sites are not.
    pub fn is_extra_abdominal(self) -> bool {
        matches!(self, MetastasisSite::Bone | MetastasisSite::Lung | MetastasisSite::DistantNodes)
    }

    /// Extrahepatic disease (Milan criteria): any site but the liver.
    pub fn is_extrahepatic(self) -> bool {
        self != MetastasisSite::Liver
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TumourSite {
    /// The pancreatic primary (the default when a size has no site).
    Primary,
    /// A liver lesion (metastasis).
    Liver,
}

/// Chromogranin A, in the unit family its LOINC code implies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CgaValue {
    /// ng/mL (= µg/L), LOINC 9811-1.
    NgPerMl(Concentration),
    /// nmol/L, LOINC 25587-7.
    NmolPerL(Concentration),
    /// U/L, LOINC 30169-7.
    UPerL(Concentration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SstrImaging {
    Positive,
    Negative,
    Equivocal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiseaseStatus {
    Improved,
    Stable,
    Worsened,
    Undetermined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Recist {
    CompleteResponse,
    PartialResponse,
    StableDisease,
    ProgressiveDisease,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resectability {
    Complete,
    AtLeast90,
    Below90,
    UnresectableVascular,
    Unresectable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiscoveryMode {
    Incidental,
    Symptomatic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HormonalSymptoms {
    Controlled,
    Uncontrolled,
    Crisis,
}

/// A therapy, whatever resource carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TherapyClass {
    /// Somatostatin analogue (octreotide, lanreotide, pasireotide).
    Ssa,
    Interferon,
    Chemotherapy,
    Everolimus,
    Sunitinib,
    Prrt,
    PrimaryResection,
    LiverAblation,
    Tae,
    Tace,
    Sirt,
    LiverTransplant,
    ProtonPumpInhibitor,
    Diazoxide,
}

impl TherapyClass {
    pub fn is_targeted(self) -> bool {
        matches!(self, TherapyClass::Everolimus | TherapyClass::Sunitinib)
    }
    pub fn is_liver_directed(self) -> bool {
        matches!(self, TherapyClass::LiverAblation | TherapyClass::Tae | TherapyClass::Tace | TherapyClass::Sirt)
    }
    pub fn is_surgery(self) -> bool {
        matches!(self, TherapyClass::PrimaryResection | TherapyClass::LiverTransplant)
    }
    pub fn label(self) -> &'static str {
        match self {
            TherapyClass::Ssa => "somatostatin analogue",
            TherapyClass::Interferon => "α-interferon",
            TherapyClass::Chemotherapy => "chemotherapy",
            TherapyClass::Everolimus => "everolimus",
            TherapyClass::Sunitinib => "sunitinib",
            TherapyClass::Prrt => "PRRT",
            TherapyClass::PrimaryResection => "resection of the primary",
            TherapyClass::LiverAblation => "liver ablation",
            TherapyClass::Tae => "TAE",
            TherapyClass::Tace => "TACE",
            TherapyClass::Sirt => "SIRT",
            TherapyClass::LiverTransplant => "liver transplantation",
            TherapyClass::ProtonPumpInhibitor => "proton pump inhibitor",
            TherapyClass::Diazoxide => "diazoxide",
        }
    }
}

/// The tense of a therapy, decided by the resource status (contract: "Therapies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tense {
    Planned,
    Running,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResectionOutcome {
    Curative,
    Debulking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Therapy {
    pub class: TherapyClass,
    /// The tense the resource status gives. A done course whose period
    /// contains "now" counts as running at that instant (see `until`).
    pub tense: Tense,
    /// High-dose or shortened-interval (≤ 21 days) SSA.
    pub escalated: bool,
    /// Procedure.outcome of a resection, when recorded.
    pub outcome: Option<ResectionOutcome>,
    /// The end of the recorded period (`effectivePeriod.end`,
    /// `performedPeriod.end`) when the resource gives both a start (the
    /// fact's clinical time) and an end. The course runs up to this instant,
    /// exclusive: a date-only end includes that whole day (FHIR), so it is
    /// the start of the following day. A done course with `at ≤ now < until`
    /// is running at `now`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<Instant>,
}

/// A problem in the data itself, found while decoding; the value is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProblemKind {
    /// `data.implausible-value`
    ImplausibleValue,
    /// `data.unknown-unit`
    UnknownUnit,
    /// `data.implausible-value`: a date of something that has happened lies
    /// after the message reporting it was received.
    ImplausibleTime,
    /// `data.unusable-value`: a value Islet cannot interpret (an unknown coded
    /// answer, text or a range where a number belongs, a quantity without a
    /// value).
    UnusableValue,
    /// `data.version-conflict`: two different contents arrived with the same
    /// version key; the engine adds this fact to the resource it kept.
    VersionConflict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FactKind {
    /// An active pancreatic NET diagnosis.
    PnetDiagnosis,
    /// A poorly differentiated neuroendocrine carcinoma diagnosis (G3 unless Ki-67 says otherwise).
    NecDiagnosis,
    Syndrome(Syndrome),
    Hereditary(Hereditary),
    Metastasis(MetastasisSite),
    PortalVeinOcclusion,
    LiverFailure,
    BiliaryReconstruction,
    Ki67(Ki67Percent),
    Mitoses(MitoticCount),
    ReportedGrade(Grade),
    ChromograninA {
        value: CgaValue,
        /// `referenceRange.high`, in the same unit, when given.
        upper_limit: Option<Concentration>,
    },
    /// Pancreatic polypeptide in pg/mL.
    PancreaticPolypeptide(Concentration),
    TumourSize {
        site: TumourSite,
        largest: Millimetres,
    },
    LiverLesionCount(u32),
    LiverInvolvement(LiverInvolvementPercent),
    SstrImaging(SstrImaging),
    /// Krenning uptake score 0–4 (≥ 2: uptake at least that of normal liver).
    KrenningScore(u8),
    OctreotideTest {
        positive: bool,
    },
    DiseaseStatus(DiseaseStatus),
    Recist(Recist),
    /// ECOG performance status 0–5.
    Ecog(u8),
    Resectability(Resectability),
    LiverResectable(bool),
    DiscoveryMode(DiscoveryMode),
    HormonalSymptoms(HormonalSymptoms),
    Therapy(Therapy),
    BirthDate(time::Date),
    Deceased,
    /// The value could not be used; `detail` says why (no patient values in logs,
    /// but the alert for the clinician names the value).
    Problem {
        kind: ProblemKind,
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newtypes_refuse_impossible_values() {
        assert!(Ki67Percent::new(100.0).is_ok());
        assert!(Ki67Percent::new(150.0).is_err());
        assert!(Ki67Percent::new(-0.1).is_err());
        assert!(Ki67Percent::new(f64::NAN).is_err());
        assert!(Millimetres::new(-1.0).is_err());
        assert_eq!(Ki67Percent::new(150.0).unwrap_err().to_string(), "Ki-67 150 is outside its physical range 0–100 %");
    }

    #[test]
    fn facts_round_trip_through_json_and_stay_validated() {
        let fact = Fact {
            source: SourceRef::new("Observation", "k1"),
            at: time::macros::datetime!(2024-01-10 08:30 UTC),
            preliminary: true,
            kind: FactKind::Ki67(Ki67Percent::new(12.5).unwrap()),
        };
        let json = serde_json::to_string(&fact).unwrap();
        assert_eq!(serde_json::from_str::<Fact>(&json).unwrap(), fact);
        let tampered = json.replace("12.5", "150.0");
        assert!(serde_json::from_str::<Fact>(&tampered).is_err());
        let birth = Fact { kind: FactKind::BirthDate(time::macros::date!(1960 - 02 - 29)), ..fact };
        let json = serde_json::to_string(&birth).unwrap();
        assert_eq!(serde_json::from_str::<Fact>(&json).unwrap(), birth);
    }

    /// Stored records hold facts as JSON: facts written before v2 still read.
    #[test]
    fn facts_stored_before_v2_still_read() {
        let v1 = r#"{"source":"MedicationStatement/m1","at":"2024-01-10T00:00:00Z","preliminary":false,
            "kind":{"Therapy":{"class":"Ssa","tense":"Done","escalated":false,"outcome":null}}}"#;
        let fact: Fact = serde_json::from_str(v1).unwrap();
        let FactKind::Therapy(t) = fact.kind else { panic!("{fact:?}") };
        assert_eq!(t.until, None);

        let until = time::macros::datetime!(2024-07-01 00:00 -05:00);
        let new = Fact {
            source: SourceRef::new("MedicationStatement", "m2"),
            at: time::macros::datetime!(2024-01-31 20:00 -05:00),
            preliminary: false,
            kind: FactKind::Therapy(Therapy { until: Some(until), ..t }),
        };
        let json = serde_json::to_string(&new).unwrap();
        // The clinical time keeps its own offset through storage.
        assert!(json.contains(r#""at":"2024-01-31T20:00:00-05:00""#), "{json}");
        let back: Fact = serde_json::from_str(&json).unwrap();
        assert_eq!(back, new);
        assert_eq!(back.at.offset(), new.at.offset());
        for kind in [
            FactKind::Metastasis(MetastasisSite::RegionalNodes),
            FactKind::Problem { kind: ProblemKind::UnusableValue, detail: "d".into() },
            FactKind::Problem { kind: ProblemKind::VersionConflict, detail: "d".into() },
            FactKind::Problem { kind: ProblemKind::ImplausibleTime, detail: "d".into() },
        ] {
            let f = Fact { kind, ..new.clone() };
            assert_eq!(serde_json::from_str::<Fact>(&serde_json::to_string(&f).unwrap()).unwrap(), f);
        }
    }

    #[test]
    fn extra_abdominal_and_extrahepatic_sites() {
        use MetastasisSite::*;
        let extra_abdominal: Vec<_> = [Liver, RegionalNodes, Bone, Lung, DistantNodes, Other]
            .into_iter()
            .filter(|s| s.is_extra_abdominal())
            .collect();
        assert_eq!(extra_abdominal, [Bone, Lung, DistantNodes]);
        let extrahepatic: Vec<_> = [Liver, RegionalNodes, Bone, Lung, DistantNodes, Other]
            .into_iter()
            .filter(|s| s.is_extrahepatic())
            .collect();
        assert_eq!(extrahepatic, [RegionalNodes, Bone, Lung, DistantNodes, Other]);
    }
}
