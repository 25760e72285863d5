//! Surgery (spec "Surgery").

use super::Finding;
use crate::alert::{Kind, RuleSpec, Severity};
use crate::derived::Picture;
use crate::facts::{DiscoveryMode, Hereditary, Tense, TherapyClass};

/// "Primary < 20 mm": the size below which a sporadic non-functioning pNET may be watched. [8,30]
pub const SMALL_PRIMARY_MM: f64 = 20.0;

pub const SURVEILLANCE_SMALL_NONFUNCTIONING: RuleSpec = RuleSpec {
    id: "surveillance.small-nonfunctioning",
    kind: Kind::Recommendation,
    severity: Severity::Info,
    summary: "Small sporadic non-functioning pNET (< 2 cm): a non-operative approach may be advocated",
    detail: "For sporadic non-functioning pNETs smaller than 2 cm, found incidentally, a non-operative \
             approach may be advocated (only 6 % of NF-pNETs < 2 cm were malignant). Start the \
             surveillance schedule (imaging and chromogranin A).",
    citation: "Rossi et al. 2014, refs 8, 30",
};

pub const RULES: &[&RuleSpec] = &[&SURVEILLANCE_SMALL_NONFUNCTIONING];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    out.extend(surveillance_small_nonfunctioning(p));
}

/// "Sporadic (no MEN1), non-functioning, primary < 20 mm, not metastatic, not
/// resected, discovered incidentally or discovery mode not recorded (not when
/// recorded as symptomatic)" [8,30]. "Sporadic" also excludes von
/// Hippel-Lindau and tuberous sclerosis: the paper sets all three inherited
/// syndromes apart from sporadic tumours (ref 6).
pub fn surveillance_small_nonfunctioning(p: &Picture) -> Option<Finding> {
    let pnet = p.pnet?;
    if [Hereditary::Men1, Hereditary::VonHippelLindau, Hereditary::TuberousSclerosis]
        .iter()
        .any(|h| p.hereditary(*h).is_some())
    {
        return None;
    }
    if !p.non_functioning() || p.metastatic() {
        return None;
    }
    if p.therapy(|c| c == TherapyClass::PrimaryResection, &[Tense::Done]).is_some() {
        return None;
    }
    let (size, mm) = p.primary_size()?;
    if mm.get() >= SMALL_PRIMARY_MM {
        return None;
    }
    let discovery = p.discovery_mode();
    if matches!(discovery, Some((_, DiscoveryMode::Symptomatic))) {
        return None;
    }
    let mut f = Finding::new(&SURVEILLANCE_SMALL_NONFUNCTIONING).fact(pnet).fact(size);
    f = match p.syndrome(crate::facts::Syndrome::NonFunctioning) {
        Some(nf) => f.fact(nf),
        None => f.note("No functioning syndrome recorded: counted as non-functioning."),
    };
    Some(match discovery {
        Some((d, _)) => f.fact(d),
        None => f.note("Discovery mode not recorded."),
    })
}
