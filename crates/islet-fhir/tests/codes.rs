//! Every row of contract.md "Facts and the codes that carry them", units,
//! implausible values and the site mapping.

mod common;
use common::*;
use islet_fhir::{Decoder, SiteMapping};
use islet_guideline::facts::*;
use islet_guideline::FactKind;
use serde_json::{json, Value};
use std::path::Path;

fn c(v: f64) -> Concentration {
    Concentration::new(v).unwrap()
}

fn mm(v: f64) -> Millimetres {
    Millimetres::new(v).unwrap()
}

fn problem_kind(facts: &[FactKind]) -> Vec<ProblemKind> {
    facts
        .iter()
        .filter_map(|f| match f {
            FactKind::Problem { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect()
}

fn approx(facts: &[FactKind], expected: &FactKind) -> bool {
    // Floating-point conversions: compare through Debug with a tolerance on the numbers.
    match (facts, expected) {
        (
            [FactKind::ChromograninA { value: a, upper_limit: ua }],
            FactKind::ChromograninA { value: b, upper_limit: ub },
        ) => {
            let n = |v: &CgaValue| match v {
                CgaValue::NgPerMl(c) => (0, c.get()),
                CgaValue::NmolPerL(c) => (1, c.get()),
                CgaValue::UPerL(c) => (2, c.get()),
            };
            let (ka, va) = n(a);
            let (kb, vb) = n(b);
            ka == kb
                && (va - vb).abs() < 1e-9
                && ua.map(|u| u.get()).zip(ub.map(|u| u.get())).is_none_or(|(x, y)| (x - y).abs() < 1e-9)
                && ua.is_some() == ub.is_some()
        }
        ([FactKind::TumourSize { site: sa, largest: la }], FactKind::TumourSize { site: sb, largest: lb }) => {
            sa == sb && (la.get() - lb.get()).abs() < 1e-9
        }
        _ => facts == std::slice::from_ref(expected),
    }
}

/// (concept system, concept code), (value element, value), expected fact.
type ObservationRow = ((&'static str, &'static str), (&'static str, Value), FactKind);

#[test]
fn observation_rows() {
    let cc = |system: &str, code: &str| ("valueCodeableConcept", coding(system, code));
    let q = |v: f64, u: &str| ("valueQuantity", qty(v, u));
    let int = |n: i64| ("valueInteger", json!(n));
    let rows: Vec<ObservationRow> = vec![
        ((LOINC, "29593-1"), q(4.5, "%"), FactKind::Ki67(Ki67Percent::new(4.5).unwrap())),
        ((ISLET, "ki67-index"), q(25.0, "%"), FactKind::Ki67(Ki67Percent::new(25.0).unwrap())),
        ((ISLET, "mitotic-count"), q(3.0, "/10.[HPF]"), FactKind::Mitoses(MitoticCount::new(3.0).unwrap())),
        ((ISLET, "mitotic-count"), q(3.0, "{#}"), FactKind::Mitoses(MitoticCount::new(3.0).unwrap())),
        ((ISLET, "mitotic-count"), q(3.0, "/[HPF]"), FactKind::Mitoses(MitoticCount::new(3.0).unwrap())),
        ((ISLET, "mitotic-count"), q(3.0, "/2.mm2"), FactKind::Mitoses(MitoticCount::new(3.0).unwrap())),
        ((ISLET, "who-grade"), cc(ISLET, "G1"), FactKind::ReportedGrade(Grade::G1)),
        ((ISLET, "who-grade"), cc(ISLET, "G2"), FactKind::ReportedGrade(Grade::G2)),
        ((ISLET, "who-grade"), cc(ISLET, "G3"), FactKind::ReportedGrade(Grade::G3)),
        (
            (LOINC, "9811-1"),
            q(180.0, "ng/mL"),
            FactKind::ChromograninA { value: CgaValue::NgPerMl(c(180.0)), upper_limit: None },
        ),
        (
            (LOINC, "25587-7"),
            q(2.5, "nmol/L"),
            FactKind::ChromograninA { value: CgaValue::NmolPerL(c(2.5)), upper_limit: None },
        ),
        (
            (LOINC, "30169-7"),
            q(40.0, "U/L"),
            FactKind::ChromograninA { value: CgaValue::UPerL(c(40.0)), upper_limit: None },
        ),
        ((LOINC, "2721-9"), q(300.0, "pg/mL"), FactKind::PancreaticPolypeptide(c(300.0))),
        ((LOINC, "33728-7"), q(14.0, "mm"), FactKind::TumourSize { site: TumourSite::Primary, largest: mm(14.0) }),
        ((LOINC, "21889-1"), q(2.1, "cm"), FactKind::TumourSize { site: TumourSite::Primary, largest: mm(21.0) }),
        ((ISLET, "liver-lesion-count"), int(3), FactKind::LiverLesionCount(3)),
        (
            (ISLET, "liver-involvement"),
            q(30.0, "%"),
            FactKind::LiverInvolvement(LiverInvolvementPercent::new(30.0).unwrap()),
        ),
        ((ISLET, "sstr-imaging"), cc(ISLET, "positive"), FactKind::SstrImaging(SstrImaging::Positive)),
        ((ISLET, "sstr-imaging"), cc(ISLET, "negative"), FactKind::SstrImaging(SstrImaging::Negative)),
        ((ISLET, "sstr-imaging"), cc(ISLET, "equivocal"), FactKind::SstrImaging(SstrImaging::Equivocal)),
        ((ISLET, "krenning-score"), int(3), FactKind::KrenningScore(3)),
        ((ISLET, "octreotide-test"), cc(ISLET, "positive"), FactKind::OctreotideTest { positive: true }),
        ((ISLET, "octreotide-test"), cc(ISLET, "negative"), FactKind::OctreotideTest { positive: false }),
        ((LOINC, "97509-4"), cc(SNOMED, "268910001"), FactKind::DiseaseStatus(DiseaseStatus::Improved)),
        ((LOINC, "97509-4"), cc(SNOMED, "359746009"), FactKind::DiseaseStatus(DiseaseStatus::Stable)),
        ((LOINC, "97509-4"), cc(SNOMED, "271299001"), FactKind::DiseaseStatus(DiseaseStatus::Worsened)),
        ((LOINC, "97509-4"), cc(SNOMED, "709137006"), FactKind::DiseaseStatus(DiseaseStatus::Undetermined)),
        ((ISLET, "recist-response"), cc(ISLET, "CR"), FactKind::Recist(Recist::CompleteResponse)),
        ((ISLET, "recist-response"), cc(ISLET, "PR"), FactKind::Recist(Recist::PartialResponse)),
        ((ISLET, "recist-response"), cc(ISLET, "SD"), FactKind::Recist(Recist::StableDisease)),
        ((ISLET, "recist-response"), cc(ISLET, "PD"), FactKind::Recist(Recist::ProgressiveDisease)),
        ((LOINC, "89247-1"), int(2), FactKind::Ecog(2)),
        ((LOINC, "89247-1"), cc(LOINC, "LA9625-0"), FactKind::Ecog(3)),
        ((ISLET, "resectability"), cc(ISLET, "complete"), FactKind::Resectability(Resectability::Complete)),
        ((ISLET, "resectability"), cc(ISLET, "ge-90"), FactKind::Resectability(Resectability::AtLeast90)),
        ((ISLET, "resectability"), cc(ISLET, "lt-90"), FactKind::Resectability(Resectability::Below90)),
        (
            (ISLET, "resectability"),
            cc(ISLET, "unresectable-vascular"),
            FactKind::Resectability(Resectability::UnresectableVascular),
        ),
        ((ISLET, "resectability"), cc(ISLET, "unresectable"), FactKind::Resectability(Resectability::Unresectable)),
        ((ISLET, "liver-resectability"), cc(ISLET, "resectable"), FactKind::LiverResectable(true)),
        ((ISLET, "liver-resectability"), cc(ISLET, "unresectable"), FactKind::LiverResectable(false)),
        ((ISLET, "discovery-mode"), cc(ISLET, "incidental"), FactKind::DiscoveryMode(DiscoveryMode::Incidental)),
        ((ISLET, "discovery-mode"), cc(ISLET, "symptomatic"), FactKind::DiscoveryMode(DiscoveryMode::Symptomatic)),
        (
            (ISLET, "hormonal-symptoms"),
            cc(ISLET, "controlled"),
            FactKind::HormonalSymptoms(HormonalSymptoms::Controlled),
        ),
        (
            (ISLET, "hormonal-symptoms"),
            cc(ISLET, "uncontrolled"),
            FactKind::HormonalSymptoms(HormonalSymptoms::Uncontrolled),
        ),
        ((ISLET, "hormonal-symptoms"), cc(ISLET, "crisis"), FactKind::HormonalSymptoms(HormonalSymptoms::Crisis)),
    ];
    for ((system, code), (key, value), expected) in rows {
        let facts = kinds(&obs(system, code, key, value));
        assert!(approx(&facts, &expected), "{system}|{code}: {facts:?} ≠ {expected:?}");
    }
}

#[test]
fn her2_is_not_ki67() {
    assert!(kinds(&obs(LOINC, "85319-2", "valueQuantity", qty(3.0, "%"))).is_empty());
}

#[test]
fn tumour_size_panel_and_sites() {
    let panel = |site: Option<Value>, focus: Option<Value>, contained: Option<Value>| {
        let mut o = json!({
            "resourceType": "Observation", "id": "s1", "status": "final",
            "code": coding(LOINC, "21889-1"),
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-10",
            "component": [
                {"code": coding(LOINC, "33729-5"), "valueQuantity": qty(9.0, "mm")},
                {"code": coding(LOINC, "33728-7"), "valueQuantity": qty(3.4, "cm")}
            ]
        });
        if let Some(s) = site {
            o["bodySite"] = s;
        }
        if let Some(f) = focus {
            o["focus"] = f;
        }
        if let Some(c) = contained {
            o["contained"] = c;
        }
        kinds(&o)
    };
    let size = |site| vec![FactKind::TumourSize { site, largest: mm(34.0) }];
    let primary = size(TumourSite::Primary);
    let liver = size(TumourSite::Liver);
    assert!(approx(&panel(None, None, None), &primary[0]));
    assert!(approx(&panel(Some(coding(SNOMED, "15776009")), None, None), &primary[0]));
    assert!(approx(&panel(Some(coding(SNOMED, "10200004")), None, None), &liver[0]));
    // Focus on a contained BodyStructure with a location.
    let body = json!([{"resourceType": "BodyStructure", "id": "les1", "location": coding(SNOMED, "10200004"), "patient": {"reference": "Patient/p1"}}]);
    assert!(approx(&panel(None, Some(json!([{"reference": "#les1"}])), Some(body)), &liver[0]));
    // Focus given by display only.
    assert!(approx(&panel(None, Some(json!([{"display": "Liver lesion segment VII"}])), None), &liver[0]));
    assert!(approx(&panel(None, Some(json!([{"display": "pancreatic head mass"}])), None), &primary[0]));
    // A site Islet does not track (a lymph node): no size fact.
    assert!(panel(Some(coding(SNOMED, "59441001")), None, None).is_empty());
}

#[test]
fn condition_rows() {
    use FactKind::*;
    let pancreas = json!([{"coding": [{"system": SNOMED, "code": "15776009"}]}]);
    let liver = json!([{"coding": [{"system": SNOMED, "code": "10200004"}]}]);
    let head_of_pancreas = json!([{"coding": [{"system": SNOMED, "code": "64163001"}]}]);
    let breast = json!([{"coding": [{"system": SNOMED, "code": "76752008"}]}]);
    let rows: Vec<(&str, &str, Option<&Value>, Vec<FactKind>)> = vec![
        (SNOMED, "735735001", None, vec![PnetDiagnosis]),
        (SNOMED, "254611009", None, vec![PnetDiagnosis]),
        (SNOMED, "187794005", None, vec![PnetDiagnosis]),
        (SNOMED, "254612002", None, vec![PnetDiagnosis]),
        (SNOMED, "93843007", None, vec![PnetDiagnosis]),
        (ICD10CM, "C25.4", None, vec![PnetDiagnosis]),
        (ICD10CM, "C7A.8", Some(&pancreas), vec![PnetDiagnosis]),
        (ICD10CM, "C7A.8", None, vec![]),
        (ICD10CM, "C7A.1", Some(&pancreas), vec![NecDiagnosis, PnetDiagnosis]),
        (ICD10CM, "C7A.1", None, vec![NecDiagnosis]),
        (ICDO3, "8150/3", Some(&pancreas), vec![PnetDiagnosis]),
        (ICDO3, "8154/3", Some(&pancreas), vec![PnetDiagnosis]),
        (ICDO3, "8240/3", Some(&pancreas), vec![PnetDiagnosis]),
        (ICDO3, "8249/3", Some(&pancreas), vec![PnetDiagnosis]),
        (ICDO3, "8240/3", None, vec![]),
        (ICDO3, "8246/3", Some(&pancreas), vec![PnetDiagnosis, NecDiagnosis]),
        (ICDO3, "8246/3", None, vec![NecDiagnosis]),
        (ICDO3, "8013/3", None, vec![NecDiagnosis]),
        (ICDO3, "8041/3", None, vec![NecDiagnosis]),
        (SNOMED, "253000007", None, vec![NecDiagnosis]),
        // A pancreatic NEC is an active pNET diagnosis, which the NEC makes G3 (contract.md v2).
        (SNOMED, "253000007", Some(&pancreas), vec![NecDiagnosis, PnetDiagnosis]),
        (ICDO3, "8013/3", Some(&pancreas), vec![NecDiagnosis, PnetDiagnosis]),
        (ICDO3, "8041/3", Some(&head_of_pancreas), vec![NecDiagnosis, PnetDiagnosis]),
        (SNOMED, "713189001", None, vec![Syndrome(islet_guideline::facts::Syndrome::Insulinoma)]),
        (ICD10CM, "E16.1", None, vec![Syndrome(islet_guideline::facts::Syndrome::Insulinoma)]),
        (ICDO3, "8151/3", Some(&pancreas), vec![PnetDiagnosis, Syndrome(islet_guideline::facts::Syndrome::Insulinoma)]),
        (ICD10CM, "E16.4", None, vec![Syndrome(islet_guideline::facts::Syndrome::Gastrinoma)]),
        (ICDO3, "8153/3", None, vec![Syndrome(islet_guideline::facts::Syndrome::Gastrinoma)]),
        (ICD10CM, "E16.3", None, vec![Syndrome(islet_guideline::facts::Syndrome::Glucagonoma)]),
        (ICDO3, "8152/3", None, vec![Syndrome(islet_guideline::facts::Syndrome::Glucagonoma)]),
        (ICDO3, "8155/3", None, vec![Syndrome(islet_guideline::facts::Syndrome::Vipoma)]),
        (ISLET, "vipoma", None, vec![Syndrome(islet_guideline::facts::Syndrome::Vipoma)]),
        (ICD10CM, "E16.8", None, vec![]),
        (ICDO3, "8156/3", None, vec![Syndrome(islet_guideline::facts::Syndrome::Somatostatinoma)]),
        (ISLET, "somatostatinoma", None, vec![Syndrome(islet_guideline::facts::Syndrome::Somatostatinoma)]),
        (SNOMED, "703816006", None, vec![Syndrome(islet_guideline::facts::Syndrome::NonFunctioning)]),
        (ISLET, "non-functioning", None, vec![Syndrome(islet_guideline::facts::Syndrome::NonFunctioning)]),
        (ICD10CM, "E31.21", None, vec![Hereditary(islet_guideline::facts::Hereditary::Men1)]),
        (ICD10CM, "Q85.83", None, vec![Hereditary(islet_guideline::facts::Hereditary::VonHippelLindau)]),
        (ICD10CM, "Q85.1", None, vec![Hereditary(islet_guideline::facts::Hereditary::TuberousSclerosis)]),
        (SNOMED, "30664006", None, vec![Hereditary(islet_guideline::facts::Hereditary::Men1)]),
        (SNOMED, "46659004", None, vec![Hereditary(islet_guideline::facts::Hereditary::VonHippelLindau)]),
        (SNOMED, "7199000", None, vec![Hereditary(islet_guideline::facts::Hereditary::TuberousSclerosis)]),
        (SNOMED, "94381002", None, vec![Metastasis(MetastasisSite::Liver)]),
        (ICD10CM, "C78.7", None, vec![Metastasis(MetastasisSite::Liver)]),
        (ICD10CM, "C7B.02", None, vec![Metastasis(MetastasisSite::Liver)]),
        (SNOMED, "128462008", Some(&liver), vec![Metastasis(MetastasisSite::Liver)]),
        // Without a site, or with one not listed: metastatic all the same (contract.md v2).
        (SNOMED, "128462008", None, vec![Metastasis(MetastasisSite::Other)]),
        (SNOMED, "128462008", Some(&breast), vec![Metastasis(MetastasisSite::Other)]),
        (SNOMED, "94222008", None, vec![Metastasis(MetastasisSite::Bone)]),
        (ICD10CM, "C79.51", None, vec![Metastasis(MetastasisSite::Bone)]),
        (ICD10CM, "C7B.03", None, vec![Metastasis(MetastasisSite::Bone)]),
        (SNOMED, "94391008", None, vec![Metastasis(MetastasisSite::Lung)]),
        (ICD10CM, "C78.00", None, vec![Metastasis(MetastasisSite::Lung)]),
        (ICD10CM, "C78.01", None, vec![Metastasis(MetastasisSite::Lung)]),
        (ICD10CM, "C78.02", None, vec![Metastasis(MetastasisSite::Lung)]),
        (ICD10CM, "C78.1", None, vec![]),
        (SNOMED, "94392001", None, vec![Metastasis(MetastasisSite::DistantNodes)]),
        (SNOMED, "94347008", None, vec![Metastasis(MetastasisSite::Other)]),
        (ICD10CM, "C77.2", None, vec![Metastasis(MetastasisSite::RegionalNodes)]),
        (ICD10CM, "C772", None, vec![Metastasis(MetastasisSite::RegionalNodes)]),
        (ICD10CM, "C77.0", None, vec![Metastasis(MetastasisSite::DistantNodes)]),
        (ICD10CM, "C77.3", None, vec![Metastasis(MetastasisSite::DistantNodes)]),
        (ICD10CM, "C77.9", None, vec![Metastasis(MetastasisSite::DistantNodes)]),
        (ICD10CM, "C7B.01", None, vec![Metastasis(MetastasisSite::DistantNodes)]),
        (ICD10CM, "C7B.8", None, vec![Metastasis(MetastasisSite::Other)]),
        (SNOMED, "17920008", None, vec![PortalVeinOcclusion]),
        (ICD10CM, "I81", None, vec![PortalVeinOcclusion]),
        (SNOMED, "59927004", None, vec![LiverFailure]),
        (ICD10CM, "K72.00", None, vec![LiverFailure]),
        (ICD10CM, "K72.91", None, vec![LiverFailure]),
        (ISLET, "biliary-reconstruction", None, vec![BiliaryReconstruction]),
    ];
    for (system, code, site, expected) in rows {
        let mut cond = condition(json!([{"system": system, "code": code}]));
        if let Some(s) = site {
            cond["bodySite"] = s.clone();
        }
        assert_eq!(kinds(&cond), expected, "{system}|{code} site {site:?}");
    }
}

#[test]
fn icdo3_morphology_with_icdo3_topography_and_mcode_extension() {
    let mut cond = condition(json!([{"system": ICDO3, "code": "8240/3"}]));
    cond["bodySite"] = json!([{"coding": [{"system": ICDO3, "code": "C25.2"}]}]);
    assert_eq!(kinds(&cond), [FactKind::PnetDiagnosis]);
    // Morphology in the mCODE histology extension, site by ICD-10-CM C25.x in the code.
    let mut cond = condition(json!([{"system": ICD10CM, "code": "C25.0"}]));
    cond["extension"] = json!([{
        "url": MCODE_HISTOLOGY_MORPHOLOGY_BEHAVIOR,
        "valueCodeableConcept": coding(ICDO3, "8246/3")
    }]);
    assert_eq!(kinds(&cond), [FactKind::PnetDiagnosis, FactKind::NecDiagnosis]);
}

#[test]
fn therapy_rows() {
    use TherapyClass::*;
    let rows: Vec<(&str, &str, TherapyClass)> = vec![
        (ATC, "H01CB02", Ssa),
        (ATC, "H01CB03", Ssa),
        (ATC, "H01CB05", Ssa),
        (ISLET, "ssa", Ssa),
        (ATC, "L03AB04", Interferon),
        (ATC, "L03AB05", Interferon),
        (ISLET, "interferon", Interferon),
        (ATC, "L01AD04", Chemotherapy),
        (ATC, "L01AX03", Chemotherapy),
        (ATC, "L01BC06", Chemotherapy),
        (ATC, "L01BC02", Chemotherapy),
        (ATC, "L01DB01", Chemotherapy),
        (ATC, "L01AX04", Chemotherapy),
        (ATC, "L01XA01", Chemotherapy),
        (ATC, "L01XA02", Chemotherapy),
        (ATC, "L01XA03", Chemotherapy),
        (ATC, "L01CB01", Chemotherapy),
        (ISLET, "chemotherapy", Chemotherapy),
        (ATC, "L01EG02", Everolimus),
        (ATC, "L01XE10", Everolimus),
        (ISLET, "everolimus", Everolimus),
        (ATC, "L01EX01", Sunitinib),
        (ATC, "L01XE04", Sunitinib),
        (ISLET, "sunitinib", Sunitinib),
        (ATC, "V10XX04", Prrt),
        (ISLET, "prrt", Prrt),
        (ISLET, "primary-resection", PrimaryResection),
        (ISLET, "liver-ablation", LiverAblation),
        (ISLET, "tae", Tae),
        (ISLET, "tace", Tace),
        (ISLET, "sirt", Sirt),
        (SNOMED, "18027006", LiverTransplant),
        (ISLET, "liver-transplant", LiverTransplant),
        (ATC, "A02BC01", ProtonPumpInhibitor),
        (ATC, "A02BC05", ProtonPumpInhibitor),
        (ATC, "V03AH01", Diazoxide),
    ];
    for (system, code, class) in rows {
        let expected =
            |tense| vec![FactKind::Therapy(Therapy { class, tense, escalated: false, outcome: None, until: None })];
        // Both a medication and a procedure resource carry any therapy code.
        assert_eq!(kinds(&med_statement("active", system, code)), expected(Tense::Running), "{code}");
        assert_eq!(kinds(&procedure("completed", system, code)), expected(Tense::Done), "{code}");
    }
    assert!(kinds(&med_statement("active", ATC, "A02BA02")).is_empty()); // ranitidine: not a PPI
}

#[test]
fn resection_outcome_and_biliary_reconstruction_procedure() {
    let mut p = procedure("completed", ISLET, "primary-resection");
    p["outcome"] = coding(ISLET, "curative");
    assert_eq!(
        kinds(&p),
        [FactKind::Therapy(Therapy {
            class: TherapyClass::PrimaryResection,
            tense: Tense::Done,
            escalated: false,
            outcome: Some(ResectionOutcome::Curative),
            until: None
        })]
    );
    p["outcome"] = coding(ISLET, "debulking");
    assert!(matches!(&kinds(&p)[..], [FactKind::Therapy(t)] if t.outcome == Some(ResectionOutcome::Debulking)));
    assert_eq!(kinds(&procedure("completed", ISLET, "biliary-reconstruction")), [FactKind::BiliaryReconstruction]);
    assert!(kinds(&procedure("preparation", ISLET, "biliary-reconstruction")).is_empty());
}

#[test]
fn unit_conversions() {
    let cga = |v: f64, unit: &str| kinds(&obs(LOINC, "9811-1", "valueQuantity", qty(v, unit)));
    let ng = |v| FactKind::ChromograninA { value: CgaValue::NgPerMl(c(v)), upper_limit: None };
    assert!(approx(&cga(95.0, "ug/L"), &ng(95.0)));
    assert!(approx(&cga(0.2, "mg/L"), &ng(200.0)));
    assert!(approx(&cga(95000.0, "pg/mL"), &ng(95.0)));
    // The micro sign in Quantity.unit (no UCUM code).
    let micro = obs(LOINC, "9811-1", "valueQuantity", json!({"value": 95.0, "unit": "µg/L"}));
    assert!(approx(&kinds(&micro), &ng(95.0)));
    // Sizes in cm become mm.
    let size = kinds(&obs(LOINC, "33728-7", "valueQuantity", qty(1.4, "cm")));
    assert!(approx(&size, &FactKind::TumourSize { site: TumourSite::Primary, largest: mm(14.0) }));
    // referenceRange.high gives the upper limit, converted like the value.
    let mut o = obs(LOINC, "9811-1", "valueQuantity", qty(0.3, "mg/L"));
    o["referenceRange"] = json!([{"low": qty(0.0, "ug/L"), "high": qty(100.0, "ug/L")}]);
    let expected = FactKind::ChromograninA { value: CgaValue::NgPerMl(c(300.0)), upper_limit: Some(c(100.0)) };
    assert!(approx(&kinds(&o), &expected));
}

#[test]
fn unknown_units_are_problem_facts() {
    for (code, value) in [
        ("9811-1", qty(95.0, "mmol/h")),
        ("9811-1", json!({"value": 95.0})),
        ("29593-1", qty(4.0, "mg")),
        ("33728-7", qty(14.0, "[in_i]")),
        ("25587-7", qty(2.0, "ng/mL")),
    ] {
        let facts = kinds(&obs(LOINC, code, "valueQuantity", value.clone()));
        assert_eq!(problem_kind(&facts), [ProblemKind::UnknownUnit], "{code} {value}");
        assert_eq!(facts.len(), 1, "the value itself is not used");
    }
    // A non-UCUM code system: the unit text is tried.
    let local = json!({"value": 95.0, "unit": "ng/mL", "system": "http://lab.example/units", "code": "NGML"});
    assert_eq!(kinds(&obs(LOINC, "9811-1", "valueQuantity", local)).len(), 1);
    let facts = kinds(&obs(LOINC, "9811-1", "valueQuantity", qty(95.0, "mmol/h")));
    let FactKind::Problem { detail, .. } = &facts[0] else { panic!() };
    assert!(detail.contains("mmol/h") && detail.contains("ng/mL"), "{detail}");
}

#[test]
fn implausible_values_are_problem_facts() {
    let cases: Vec<Value> = vec![
        obs(LOINC, "29593-1", "valueQuantity", qty(150.0, "%")),
        obs(LOINC, "29593-1", "valueQuantity", qty(-1.0, "%")),
        obs(LOINC, "33728-7", "valueQuantity", qty(-3.0, "mm")),
        obs(LOINC, "9811-1", "valueQuantity", qty(-5.0, "ng/mL")),
        obs(ISLET, "krenning-score", "valueInteger", json!(5)),
        obs(ISLET, "krenning-score", "valueInteger", json!(-1)),
        obs(LOINC, "89247-1", "valueInteger", json!(6)),
        obs(ISLET, "liver-involvement", "valueQuantity", qty(120.0, "%")),
        obs(ISLET, "liver-lesion-count", "valueInteger", json!(-2)),
        obs(ISLET, "mitotic-count", "valueQuantity", qty(-1.0, "{#}")),
    ];
    for o in cases {
        let facts = kinds(&o);
        assert_eq!(problem_kind(&facts), [ProblemKind::ImplausibleValue], "{o}");
        assert_eq!(facts.len(), 1, "{o}");
    }
    let facts = kinds(&obs(LOINC, "29593-1", "valueQuantity", qty(150.0, "%")));
    let FactKind::Problem { detail, .. } = &facts[0] else { panic!() };
    assert!(detail.contains("Ki-67") && detail.contains("150"), "{detail}");
}

/// contract.md v2: a value Islet cannot interpret is `data.unusable-value`,
/// never "implausible" (which says the value is outside its physical range)
/// and never a rejection.
#[test]
fn values_islet_cannot_interpret_are_unusable_not_implausible() {
    let text_only = json!({"text": "stable disease"});
    let cases: Vec<Value> = vec![
        // A coded answer Islet does not know for the observation …
        obs(ISLET, "who-grade", "valueCodeableConcept", coding(ISLET, "G4")),
        obs(ISLET, "octreotide-test", "valueCodeableConcept", coding(ISLET, "equivocal")),
        obs(LOINC, "97509-4", "valueCodeableConcept", coding(SNOMED, "260413007")),
        obs(LOINC, "89247-1", "valueCodeableConcept", coding(LOINC, "LA6115-7")),
        // … or only text …
        obs(LOINC, "97509-4", "valueCodeableConcept", text_only),
        obs(LOINC, "29593-1", "valueString", json!("4.5 %")),
        // … a range, a boolean, an integer where a quantity belongs …
        obs(LOINC, "29593-1", "valueRange", json!({"low": {"value": 2}, "high": {"value": 5}})),
        obs(LOINC, "21889-1", "valueBoolean", json!(true)),
        obs(ISLET, "liver-lesion-count", "valueString", json!("many")),
        // … and a quantity without a value (a data-absent-reason on it).
        obs(
            LOINC,
            "29593-1",
            "valueQuantity",
            json!({"unit": "%", "system": UCUM, "code": "%",
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}),
        ),
        obs(LOINC, "9811-1", "valueQuantity", json!({"unit": "ng/mL"})),
    ];
    for o in cases {
        let d = decode(&o);
        assert!(d.rejections.is_empty(), "never a rejection: {o}\n{:?}", d.rejections);
        let facts = kinds(&o);
        assert_eq!(problem_kind(&facts), [ProblemKind::UnusableValue], "{o}");
        assert_eq!(facts.len(), 1, "the value itself is not used: {o}");
    }
}

/// mCODE's CancerDiseaseStatus answers full and partial remission: improved.
#[test]
fn mcode_remission_is_improved_disease_status() {
    for code in ["550991000124107", "551001000124108"] {
        let facts = kinds(&obs(LOINC, "97509-4", "valueCodeableConcept", coding(SNOMED, code)));
        assert_eq!(facts, [FactKind::DiseaseStatus(DiseaseStatus::Improved)], "{code}");
    }
}

/// contract.md v2: a tumour in any part of the pancreas is the primary. The
/// SNOMED CT codes were looked up in public sources: 64163001 structure of
/// head of pancreas (tx.fhir.org's SNOMED CT browser), 40133006 … of body of
/// pancreas and 73239005 … of tail of pancreas (AAPM TG-263 and DICOM
/// ICD-O-3 → SNOMED CT site maps: C25.1, C25.2). Neck and uncinate process
/// are not listed: their codes could not be confirmed (a site mapping can add
/// them as `sct|15776009`).
#[test]
fn a_size_in_any_part_of_the_pancreas_is_the_primary() {
    for part in ["15776009", "64163001", "40133006", "73239005"] {
        let mut o = obs(LOINC, "33728-7", "valueQuantity", qty(14.0, "mm"));
        o["bodySite"] = coding(SNOMED, part);
        assert_eq!(kinds(&o), [FactKind::TumourSize { site: TumourSite::Primary, largest: mm(14.0) }], "{part}");
    }
    // A pancreatic NEC of the head: pancreatic.
    let c = json!([{"system": SNOMED, "code": "253000007"}]);
    let mut nec = condition(c);
    nec["bodySite"] = json!([coding(SNOMED, "64163001")]);
    assert_eq!(kinds(&nec), [FactKind::NecDiagnosis, FactKind::PnetDiagnosis]);
}

#[test]
fn comparators_give_the_nearest_satisfying_value() {
    let ki = |cmp: &str, v: f64| {
        let f = kinds(&obs(LOINC, "29593-1", "valueQuantity", json!({"value": v, "comparator": cmp, "unit": "%"})));
        match &f[..] {
            [FactKind::Ki67(k)] => k.get(),
            other => panic!("{other:?}"),
        }
    };
    assert!(ki(">", 20.0) > 20.0); // "> 20 %" is G3
    assert!(ki("<", 2.0) < 2.0);
    assert_eq!(ki("<=", 2.0), 2.0);
    assert_eq!(ki(">=", 3.0), 3.0);
    let over = kinds(&obs(LOINC, "29593-1", "valueQuantity", json!({"value": 100.0, "comparator": ">", "unit": "%"})));
    assert_eq!(problem_kind(&over), [ProblemKind::ImplausibleValue]);
}

#[test]
fn absent_values_say_nothing() {
    let mut o = obs(LOINC, "29593-1", "", json!(null));
    o["dataAbsentReason"] = coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed");
    assert!(kinds(&o).is_empty());
}

fn example_mapping() -> SiteMapping {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/site-mapping.example.toml");
    SiteMapping::load(&path).expect("the shipped example loads")
}

#[test]
fn the_example_site_mapping_yields_facts_for_local_codes() {
    let decoder = Decoder::new(example_mapping());
    let facts = |v: &Value| {
        let d = decoder.decode(v.to_string().as_bytes());
        assert!(d.rejections.is_empty(), "{:?}", d.rejections);
        match &d.changes[..] {
            [islet_fhir::Change::Upsert(r)] => r.facts.iter().map(|f| f.kind.clone()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        }
    };
    let lab = "http://hospital.example/fhir/CodeSystem/lab";
    // A local concept code.
    let local_ki67 = obs(lab, "KI67", "valueQuantity", qty(7.0, "%"));
    assert_eq!(facts(&local_ki67), [FactKind::Ki67(Ki67Percent::new(7.0).unwrap())]);
    // Without the mapping the same Observation carries no fact.
    assert!(kinds(&local_ki67).is_empty());
    // A local concept with a local coded answer.
    let nm = "http://hospital.example/fhir/CodeSystem/nuclear-medicine";
    let srs = obs(nm, "SRS", "valueCodeableConcept", coding(nm, "POS"));
    assert_eq!(facts(&srs), [FactKind::SstrImaging(SstrImaging::Positive)]);
    // A system alias (the LOINC OID).
    let oid = obs("urn:oid:2.16.840.1.113883.6.1", "29593-1", "valueQuantity", qty(2.0, "%"));
    assert_eq!(facts(&oid), [FactKind::Ki67(Ki67Percent::new(2.0).unwrap())]);
    // Local diagnosis and drug codes.
    let dx = condition(json!([{"system": "http://hospital.example/fhir/CodeSystem/diagnoses", "code": "PNET-01"}]));
    assert_eq!(facts(&dx), [FactKind::PnetDiagnosis]);
    let drug = med_statement("active", "http://hospital.example/fhir/CodeSystem/pharmacy", "SOMATULINE");
    assert_eq!(
        facts(&drug),
        [FactKind::Therapy(Therapy {
            class: TherapyClass::Ssa,
            tense: Tense::Running,
            escalated: false,
            outcome: None,
            until: None
        })]
    );
}

#[test]
fn the_system_uris_are_the_ones_the_contract_and_fhir_name() {
    // Written out once more here, from contract.md and the FHIR / mCODE
    // specifications, so a typo in `systems` cannot pass unnoticed.
    use islet_fhir::systems;
    for (constant, uri) in [
        (systems::ISLET, "https://islet.dev/fhir/CodeSystem/pnet"),
        (systems::LOINC, "http://loinc.org"),
        (systems::SNOMED, "http://snomed.info/sct"),
        (systems::ICD10CM, "http://hl7.org/fhir/sid/icd-10-cm"),
        (systems::ICDO3, "http://terminology.hl7.org/CodeSystem/icd-o-3"),
        (systems::ATC, "http://www.whocc.no/atc"),
        (systems::UCUM, "http://unitsofmeasure.org"),
        (systems::CONDITION_CLINICAL, "http://terminology.hl7.org/CodeSystem/condition-clinical"),
        (systems::CONDITION_VER_STATUS, "http://terminology.hl7.org/CodeSystem/condition-ver-status"),
        (
            systems::MCODE_HISTOLOGY_MORPHOLOGY_BEHAVIOR,
            "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior",
        ),
    ] {
        assert_eq!(constant, uri);
    }
    assert_eq!(islet_fhir::ISLET_SYSTEM, systems::ISLET);
}
