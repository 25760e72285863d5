//! BodyStructure: where a tumour is, for the sizes whose `focus` names it
//! (contract.md v2, "References across messages"). It carries no facts; its
//! [`Definition`] gives the site.

use super::{Ctx, Result, Said};
use crate::json::{parse_named, Bad, CodeableConcept, Obj, F};
use crate::linked::Definition;
use islet_guideline::facts::TumourSite;
use serde::Deserialize;

/// One R5 `includedStructure` (R4 has `location` instead).
#[derive(Deserialize)]
struct IncludedStructure<'a> {
    #[serde(borrow)]
    structure: Option<CodeableConcept<'a>>,
}

impl<'c, 'a> Ctx<'c, 'a> {
    pub(super) fn body_structure(&self) -> Result<Said> {
        let site = self.body_structure_site(self.obj).map_err(super::field)?;
        Ok(Said { definition: Some(Definition::BodyStructure { site }), ..Said::default() })
    }

    /// The tumour site a BodyStructure names in `location` (R4) or
    /// `includedStructure.structure` (R5): the pancreas or any part of it is
    /// the primary, the liver a liver lesion; any other site `None`.
    pub(super) fn body_structure_site(&self, body: &Obj<'a>) -> Result<Option<TumourSite>, Bad> {
        if let Some(location) = body.get::<CodeableConcept<'a>>(F::Location)? {
            if let Some(site) = self.site_of(&location) {
                return Ok(Some(site));
            }
        }
        let Some(raw) = body.raw(F::IncludedStructure) else {
            return Ok(None);
        };
        let included: Vec<IncludedStructure<'a>> = parse_named(raw, || "includedStructure".to_owned())?;
        Ok(included.iter().filter_map(|i| i.structure.as_ref()).find_map(|cc| self.site_of(cc)))
    }
}
