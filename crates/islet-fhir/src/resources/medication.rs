//! Medication: a shared resource (no patient) that MedicationStatements and
//! MedicationRequests point to (contract.md v2, "References across
//! messages"). Decoded into a [`SharedVersion`] whose [`Definition`] says
//! which therapy its code names, so the engine can resolve the pending
//! therapies that name it, whenever it arrives.

use super::{field, identity, version_keys};
use crate::codes::{Code, Terminology};
use crate::json::{CodeableConcept, Obj, F};
use crate::linked::Definition;
use crate::reject::RejectReason;
use crate::SharedVersion;
use islet_guideline::facts::TherapyClass;

/// One Medication resource. On error, also returns the id when it was read.
pub(crate) fn medication(
    term: &Terminology,
    obj: &Obj<'_>,
    raw: &str,
) -> Result<SharedVersion, (Option<String>, RejectReason)> {
    let id = identity(obj, "Medication", raw)?;
    let with_id = |r| (Some(id.to_string()), r);
    let (version_id, last_updated) = version_keys(obj).map_err(with_id)?;
    let code: Option<CodeableConcept<'_>> = obj.get(F::Code).map_err(|b| with_id(field(b)))?;
    let codes: Vec<Code> = code
        .iter()
        .flat_map(|cc| cc.coding.iter())
        .filter_map(|c| term.lookup(c.system.as_deref(), c.code.as_deref()))
        .collect();
    let escalated = codes.contains(&Code::SsaEscalated);
    let class = codes.iter().find_map(|c| match c {
        Code::Therapy(class) => Some(*class),
        Code::SsaEscalated => Some(TherapyClass::Ssa),
        _ => None,
    });
    Ok(SharedVersion {
        reference: format!("Medication/{}", &*id),
        version_id: version_id.map(|v| v.to_string()),
        last_updated,
        content_hash: crate::canonical::content_sha256(raw),
        definition: Definition::Medication { class, escalated },
        raw: raw.to_owned(),
    })
}
