//! BodyStructures: where a patient's tumour is, for the tumour sizes that
//! name their site by `focus` (`references`).

use crate::chart::Gen;
use crate::coding::{head_of_pancreas_structure, liver_structure, pancreas_structure};
use crate::json::{j, J};
use crate::references::{body_structure_id, SizeSite};
use time::OffsetDateTime;

impl Gen {
    /// The patient's BodyStructure for `site` (the primary in the whole
    /// pancreas or in its head), last updated at `last_updated_ms`.
    pub(crate) fn body_structure(&self, site: SizeSite, primary_in_head: bool, last_updated_ms: i64) -> J {
        let (location, description) = match site {
            SizeSite::Primary if primary_in_head => (head_of_pancreas_structure(), "Primary tumour, head of pancreas"),
            SizeSite::Primary => (pancreas_structure(), "Primary tumour"),
            SizeSite::Liver => (liver_structure(), "Liver metastases"),
        };
        let lu =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(last_updated_ms) * 1_000_000).expect("valid instant");
        j!({
            "resourceType": "BodyStructure",
            "id": (body_structure_id(&self.pid, site)),
            "meta": { "versionId": "1", "lastUpdated": (self.fmt_lu(lu)) },
            "active": true,
            "description": description,
            "location": location,
            "patient": { "reference": (&self.pref) },
        })
    }
}
