//! Facts in words, for evidence a clinician reads.

use crate::facts::*;

/// At most two decimals, without trailing zeros ("12.5", "30").
fn trim(v: f64) -> String {
    // Most clinical values are whole numbers: skip float formatting then.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn fact_in_words(k: &FactKind) -> String {
    match k {
        FactKind::PnetDiagnosis => "pancreatic NET diagnosis".into(),
        FactKind::NecDiagnosis => "poorly differentiated neuroendocrine carcinoma diagnosis".into(),
        FactKind::Syndrome(s) => match s {
            Syndrome::Insulinoma => "insulinoma".into(),
            Syndrome::Gastrinoma => "gastrinoma / Zollinger-Ellison syndrome".into(),
            Syndrome::Glucagonoma => "glucagonoma".into(),
            Syndrome::Vipoma => "VIPoma".into(),
            Syndrome::Somatostatinoma => "somatostatinoma".into(),
            Syndrome::NonFunctioning => "non-functioning tumour".into(),
        },
        FactKind::Hereditary(h) => match h {
            Hereditary::Men1 => "MEN1".into(),
            Hereditary::VonHippelLindau => "von Hippel-Lindau disease".into(),
            Hereditary::TuberousSclerosis => "tuberous sclerosis".into(),
        },
        FactKind::Metastasis(site) => match site {
            MetastasisSite::Liver => "liver metastases",
            MetastasisSite::RegionalNodes => "regional (intra-abdominal) lymph-node metastases",
            MetastasisSite::Bone => "bone metastases",
            MetastasisSite::Lung => "lung metastases",
            MetastasisSite::DistantNodes => "distant lymph-node metastases",
            MetastasisSite::Other => "metastases at another site or with no site recorded",
        }
        .into(),
        FactKind::PortalVeinOcclusion => "portal vein occlusion".into(),
        FactKind::LiverFailure => "liver failure".into(),
        FactKind::BiliaryReconstruction => "biliary reconstruction".into(),
        FactKind::Ki67(v) => format!("Ki-67 {} %", trim(v.get())),
        FactKind::Mitoses(v) => format!("{} mitoses/10 HPF", trim(v.get())),
        FactKind::ReportedGrade(g) => format!("reported WHO grade {g}"),
        FactKind::ChromograninA { value, upper_limit } => {
            let (v, unit) = match value {
                CgaValue::NgPerMl(c) => (c.get(), "ng/mL"),
                CgaValue::NmolPerL(c) => (c.get(), "nmol/L"),
                CgaValue::UPerL(c) => (c.get(), "U/L"),
            };
            match upper_limit {
                Some(u) if u.get() > 0.0 => {
                    format!("chromogranin A {} {unit} ({}× upper limit)", trim(v), trim(v / u.get()))
                }
                _ => format!("chromogranin A {} {unit}", trim(v)),
            }
        }
        FactKind::PancreaticPolypeptide(v) => {
            format!("pancreatic polypeptide {} pg/mL", trim(v.get()))
        }
        FactKind::TumourSize { site, largest } => format!(
            "{} {} mm",
            match site {
                TumourSite::Primary => "primary",
                TumourSite::Liver => "liver lesion",
            },
            trim(largest.get())
        ),
        FactKind::LiverLesionCount(n) => format!("{n} liver lesion(s)"),
        FactKind::LiverInvolvement(p) => format!("liver involvement {} %", trim(p.get())),
        FactKind::SstrImaging(r) => format!(
            "SSTR imaging {}",
            match r {
                SstrImaging::Positive => "positive",
                SstrImaging::Negative => "negative",
                SstrImaging::Equivocal => "equivocal",
            }
        ),
        FactKind::KrenningScore(s) => format!("Krenning score {s}"),
        FactKind::OctreotideTest { positive } => {
            format!("octreotide test {}", if *positive { "positive" } else { "negative" })
        }
        FactKind::DiseaseStatus(s) => format!(
            "disease {}",
            match s {
                DiseaseStatus::Improved => "improved",
                DiseaseStatus::Stable => "stable",
                DiseaseStatus::Worsened => "worsened",
                DiseaseStatus::Undetermined => "status undetermined",
            }
        ),
        FactKind::Recist(r) => format!(
            "RECIST {}",
            match r {
                Recist::CompleteResponse => "complete response",
                Recist::PartialResponse => "partial response",
                Recist::StableDisease => "stable disease",
                Recist::ProgressiveDisease => "progressive disease",
            }
        ),
        FactKind::Ecog(s) => format!("ECOG {s}"),
        FactKind::Resectability(r) => format!(
            "resectability: {}",
            match r {
                Resectability::Complete => "complete resection possible",
                Resectability::AtLeast90 => "≥ 90 % resectable",
                Resectability::Below90 => "< 90 % resectable",
                Resectability::UnresectableVascular => "unresectable because of vascular involvement",
                Resectability::Unresectable => "unresectable",
            }
        ),
        FactKind::LiverResectable(r) => {
            format!("liver metastases {}", if *r { "resectable" } else { "unresectable" })
        }
        FactKind::DiscoveryMode(m) => match m {
            DiscoveryMode::Incidental => "discovered incidentally".into(),
            DiscoveryMode::Symptomatic => "discovered because of symptoms".into(),
        },
        FactKind::HormonalSymptoms(s) => format!(
            "hormonal symptoms {}",
            match s {
                HormonalSymptoms::Controlled => "controlled",
                HormonalSymptoms::Uncontrolled => "uncontrolled",
                HormonalSymptoms::Crisis => "crisis",
            }
        ),
        FactKind::Therapy(t) => {
            let tense = match t.tense {
                Tense::Planned => "planned",
                Tense::Running => "running",
                Tense::Done => "done",
            };
            let mut s = format!("{} {tense}", t.class.label());
            if t.escalated {
                s.push_str(" (high dose / shortened interval)");
            }
            match t.outcome {
                Some(ResectionOutcome::Curative) => s.push_str(", curative"),
                Some(ResectionOutcome::Debulking) => s.push_str(", debulking"),
                None => {}
            }
            if let Some(until) = t.until {
                // `until` is exclusive: an end at midnight (a date-only end,
                // read as the start of the next day) is shown as the day the
                // record names, in its own offset, as every date in the evidence.
                let last = if until.time() == time::Time::MIDNIGHT { until - time::Duration::DAY } else { until };
                // The evidence line goes on " on <start date>".
                s.push_str(&format!(" (until {}), started", last.date()));
            }
            s
        }
        FactKind::BirthDate(d) => format!("born {d}"),
        FactKind::Deceased => "deceased".into(),
        FactKind::Problem { detail, .. } => detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::trim;

    #[test]
    fn trim_keeps_two_decimals_at_most() {
        assert_eq!(trim(30.0), "30");
        assert_eq!(trim(-3.0), "-3");
        assert_eq!(trim(12.5), "12.5");
        assert_eq!(trim(2.004), "2");
        assert_eq!(trim(0.25), "0.25");
        assert_eq!(trim(1e20), "100000000000000000000");
    }
}
