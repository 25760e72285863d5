//! Site mapping: a hospital's local codes → the codes Islet interprets.
//!
//! # File format (TOML)
//!
//! ```toml
//! # Other names for the standard code systems (for example an OID).
//! [systems]
//! "urn:oid:2.16.840.1.113883.6.1" = "loinc"
//!
//! # Local codes, grouped by their code system:
//! #   local code = "target system|target code"
//! [codes."http://hospital.example/fhir/CodeSystem/lab"]
//! KI67 = "islet|ki67-index"
//! CGA  = "loinc|9811-1"
//! ```
//!
//! A target system is one of the short names `islet`, `loinc`, `sct`,
//! `icd-10-cm`, `icd-o-3`, `atc`, or the full system URI. Every target must be
//! a code Islet interprets (a concept such as `loinc|29593-1`, a coded answer
//! such as `islet|positive`, a body site such as `sct|10200004`), so a typo is
//! an error at start-up rather than a silently ignored code.
//!
//! The mapping is applied to every coding Islet reads — Observation,
//! Condition and therapy codes, coded values, body sites, outcomes — before
//! interpretation; a mapped coding means exactly what its target means. A
//! local entry wins over the standard meaning of the same system and code.
//! Unknown keys anywhere in the file are errors.

use crate::codes::{lookup_standard, LocalCodes, System, Terminology};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Local codes of one site, resolved to Islet meanings once, at load time.
#[derive(Debug, Clone, Default)]
pub struct SiteMapping {
    pub(crate) terminology: Terminology,
}

/// Why a site-mapping file was refused.
#[derive(thiserror::Error, Debug)]
pub enum MappingError {
    #[error("cannot read the site mapping {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("site mapping: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("site mapping [systems] \"{local}\": `{target}` is not a standard system (use islet, loinc, sct, icd-10-cm, icd-o-3, atc or their URIs)")]
    UnknownSystem { local: String, target: String },
    #[error("site mapping [systems] \"{local}\" is already a standard system; only other names can be mapped")]
    SystemIsStandard { local: String },
    #[error("site mapping [codes.\"{system}\"] {code}: target `{target}` must be written `system|code`, with system one of islet, loinc, sct, icd-10-cm, icd-o-3, atc or their URIs")]
    BadTarget { system: String, code: String, target: String },
    #[error("site mapping [codes.\"{system}\"] {code}: Islet does not interpret the target `{target}`")]
    UninterpretedTarget { system: String, code: String, target: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    systems: BTreeMap<String, String>,
    #[serde(default)]
    codes: BTreeMap<String, BTreeMap<String, String>>,
}

impl SiteMapping {
    /// No local codes: only the standard tables apply.
    pub fn empty() -> Self {
        SiteMapping::default()
    }

    /// Parse and check a mapping (see the module documentation for the format).
    pub fn from_toml_str(s: &str) -> Result<Self, MappingError> {
        let file: File = toml::from_str(s)?;
        let mut aliases = HashMap::new();
        for (local, target) in file.systems {
            if System::from_uri(&local).is_some() {
                return Err(MappingError::SystemIsStandard { local });
            }
            let Some(sys) = System::from_alias_or_uri(&target) else {
                return Err(MappingError::UnknownSystem { local, target });
            };
            aliases.insert(local, sys);
        }
        let mut local = LocalCodes::new();
        for (system, codes) in file.codes {
            let mut resolved = HashMap::with_capacity(codes.len());
            for (code, target) in codes {
                let parsed = target.split_once('|').and_then(|(s, c)| Some((System::from_alias_or_uri(s)?, c)));
                let Some((target_system, target_code)) = parsed else {
                    return Err(MappingError::BadTarget { system, code, target });
                };
                let Some(meaning) = lookup_standard(target_system, target_code) else {
                    return Err(MappingError::UninterpretedTarget { system, code, target });
                };
                resolved.insert(code, meaning);
            }
            local.insert(system, resolved);
        }
        Ok(SiteMapping { terminology: Terminology { local, aliases } })
    }

    /// Read a mapping file (the only I/O in this crate).
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| MappingError::Io { path: path.to_owned(), source })?;
        Self::from_toml_str(&text)
    }

    /// Number of local codes mapped.
    pub fn len(&self) -> usize {
        self.terminology.local.values().map(HashMap::len).sum()
    }

    /// No local codes and no system aliases.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.terminology.aliases.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{Code, ObsKind};

    #[test]
    fn resolves_targets_at_load_time() {
        let m = SiteMapping::from_toml_str(
            r#"
            [systems]
            "urn:oid:2.16.840.1.113883.6.1" = "loinc"
            [codes."http://h.example/lab"]
            KI67 = "islet|ki67-index"
            CGA = "http://loinc.org|9811-1"
            "#,
        )
        .unwrap();
        let t = &m.terminology;
        assert_eq!(t.lookup(Some("http://h.example/lab"), Some("KI67")), Some(Code::Obs(ObsKind::Ki67)));
        assert_eq!(t.lookup(Some("http://h.example/lab"), Some("CGA")), Some(Code::Obs(ObsKind::CgaMass)));
        assert_eq!(t.lookup(Some("urn:oid:2.16.840.1.113883.6.1"), Some("29593-1")), Some(Code::Obs(ObsKind::Ki67)));
        assert_eq!(t.lookup(Some("http://h.example/lab"), Some("OTHER")), None);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn refuses_unknown_keys_and_bad_targets() {
        let e = SiteMapping::from_toml_str("[code]\nx = \"y\"").unwrap_err();
        assert!(e.to_string().contains("unknown field `code`"), "{e}");
        let e = SiteMapping::from_toml_str("[codes.\"s\"]\nX = \"loinc-29593-1\"").unwrap_err();
        assert!(matches!(e, MappingError::BadTarget { .. }), "{e}");
        let e = SiteMapping::from_toml_str("[codes.\"s\"]\nX = \"loinc|85319-2\"").unwrap_err();
        assert!(matches!(e, MappingError::UninterpretedTarget { .. }), "{e}");
        let e = SiteMapping::from_toml_str("[codes.\"s\"]\nX = \"islet|ki67index\"").unwrap_err();
        assert!(matches!(e, MappingError::UninterpretedTarget { .. }), "{e}");
        let e = SiteMapping::from_toml_str("[codes.\"s\"]\nX = { a = 1 }").unwrap_err();
        assert!(matches!(e, MappingError::Toml(_)), "{e}");
        let e = SiteMapping::from_toml_str("[systems]\n\"urn:x\" = \"snomed\"").unwrap_err();
        assert!(matches!(e, MappingError::UnknownSystem { .. }), "{e}");
        let e = SiteMapping::from_toml_str("[systems]\n\"http://loinc.org\" = \"sct\"").unwrap_err();
        assert!(matches!(e, MappingError::SystemIsStandard { .. }), "{e}");
    }

    #[test]
    fn the_shipped_example_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/site-mapping.example.toml");
        let m = SiteMapping::load(&path).unwrap();
        assert!(!m.is_empty());
        let e = SiteMapping::load(Path::new("/nonexistent/islet.toml")).unwrap_err();
        assert!(matches!(e, MappingError::Io { .. }), "{e}");
    }
}
