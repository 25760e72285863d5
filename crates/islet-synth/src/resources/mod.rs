//! Builders of FHIR resources, one file per family. Each builder draws the
//! source system's choices (coding style, units, delays) from the patient's
//! stream and records the resource on the chart with [`Gen::emit`](crate::chart::Gen::emit),
//! returning its index there so a caller can revise it.

pub(crate) mod body_structures;
pub(crate) mod conditions;
pub(crate) mod medications;
pub(crate) mod observations;
pub(crate) mod patient;
pub(crate) mod procedures;
