//! The rule ids are a public contract (spec/guideline.md): exactly these, once each.

use islet_guideline::rules::catalogue;
use std::collections::BTreeSet;

/// Copied from `spec/guideline.md` (v2: 51 rules), in its order.
const SPEC_IDS: &[&str] = &[
    "workup.grading-missing",
    "workup.ssr-imaging-missing",
    "workup.cga-missing",
    "workup.performance-status-missing",
    "surgery.resection-indicated",
    "surgery.vascular-exploration",
    "surgery.debulking-not-advised",
    "surgery.primary-with-unresectable-liver",
    "surgery.bone-metastases",
    "surveillance.small-nonfunctioning",
    "men1.resection-indicated",
    "men1.small-tumour",
    "ssa.antiproliferative",
    "ssa.g2-limited-evidence",
    "ssa.not-in-g3",
    "ssa.needs-receptor-status",
    "ssa.receptor-negative",
    "ssa.syndrome-control",
    "syndrome.gastrinoma-ppi",
    "syndrome.insulinoma-glucose",
    "ssa.escalate-on-progression",
    "ssa.rescue-octreotide",
    "ifn.consider",
    "chemo.well-differentiated",
    "chemo.nec-platinum",
    "targeted.after-chemo",
    "targeted.first-line",
    "targeted.first-line-selected",
    "targeted.not-in-g3",
    "prrt.candidate",
    "prrt.needs-uptake",
    "liver.ablation",
    "liver.ablation-too-large",
    "liver.embolization",
    "liver.embolization-contraindicated",
    "liver.sirt",
    "liver.sirt-contraindicated",
    "olt.candidate",
    "olt.not-eligible",
    "monitoring.ssa",
    "monitoring.everolimus",
    "monitoring.sunitinib",
    "monitoring.prrt",
    "monitoring.interferon",
    "followup.surveillance-imaging",
    "followup.cga-surveillance",
    "data.grade-discordant",
    "data.implausible-value",
    "data.unknown-unit",
    "data.unusable-value",
    "data.version-conflict",
];

#[test]
fn catalogue_is_exactly_the_spec() {
    let ids: Vec<&str> = catalogue().iter().map(|r| r.id).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a rule id appears twice");
    assert_eq!(unique, SPEC_IDS.iter().copied().collect::<BTreeSet<_>>());
    // Also in the spec's order, so the catalogue reads like the spec.
    assert_eq!(ids, SPEC_IDS);
    assert_eq!(ids.len(), 51);
}

#[test]
fn the_copy_above_matches_the_spec_file_when_it_is_beside_the_repo() {
    // CI and developer machines lay `shared/` beside the clone.
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/guideline.md");
    let Ok(text) = std::fs::read_to_string(&spec) else {
        return;
    };
    let from_file: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|id| id.contains('.'))
        .map(String::from)
        .collect();
    assert_eq!(from_file, SPEC_IDS);
}

#[test]
fn every_rule_is_cited_and_summarised() {
    for r in catalogue() {
        assert!(r.summary.chars().count() < 140, "{}: summary is {} chars", r.id, r.summary.chars().count());
        assert!(
            r.citation.starts_with("Rossi et al. 2014, ref") || r.id.starts_with("data."),
            "{}: {}",
            r.id,
            r.citation
        );
        assert!(!r.detail.is_empty(), "{}", r.id);
    }
}
