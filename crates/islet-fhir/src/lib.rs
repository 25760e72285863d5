//! FHIR R4 decoding for Islet: message bytes in, resource versions with
//! clinical facts (or rejections with a reason) out.
//!
//! One [`Decoder::decode`] call takes one message — a FHIR resource, a Bundle
//! (Bundles inside entries too, up to four deep; subscription notifications),
//! or a HAPI FHIR / Smile CDR `ResourceDeliveryMessage` or
//! `ResourceModifiedMessage` envelope (bare, or wrapped in
//! `{"headers": …, "payload": {…}}`) — and returns every [`Change`] it
//! carries plus a [`Rejection`] for every part that cannot be used. `shared/spec/contract.md` is the authority for what is accepted,
//! the status rules, clinical time and the code tables; the local code
//! mapping is [`SiteMapping`].
//!
//! ```
//! use islet_fhir::{Change, Decoder, SiteMapping};
//! use islet_guideline::FactKind;
//!
//! let decoder = Decoder::new(SiteMapping::empty());
//! let message = br#"{"resourceType":"Observation","id":"k1","status":"final",
//!   "code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},
//!   "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10",
//!   "valueQuantity":{"value":4.5,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}"#;
//! let decoded = decoder.decode(message);
//! let Change::Upsert(version) = &decoded.changes[0] else { unreachable!() };
//! assert_eq!(version.patient, "Patient/p1");
//! assert!(matches!(version.facts[0].kind, FactKind::Ki67(k) if k.get() == 4.5));
//!
//! let broken = br#"{"resourceType":"Observation","id":"k2","status":"final",
//!   "code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},
//!   "subject":{"reference":"Patient/p1"},"valueQuantity":{"value":"4.5"}}"#;
//! assert_eq!(decoder.decode(broken).rejections[0].reason.code(), "malformed-value");
//! ```
//!
//! **Invariants.**
//! - No I/O except [`SiteMapping::load`], no clock, no global state: the same
//!   bytes, mapping (and receipt time, for [`Decoder::decode_received`])
//!   always decode to the same result.
//! - `decode` never panics (property-tested on arbitrary bytes and JSON,
//!   deep nesting and control characters), and nothing in it recurses on
//!   the input's depth before the depth is checked.
//! - Relevance before validation (contract.md v2): a resource of a type Islet
//!   does not use, or whose code (drug) is not one Islet uses, is
//!   [`Change::Skipped`] whatever else is wrong with it — only its
//!   `resourceType` is read. What cannot be told (an unreadable code, a drug
//!   in another message) counts as used; a retraction whose code is gone
//!   too. Entries that change nothing (reads, `$operation` calls, response
//!   Bundles, a notification's status) are skipped quietly.
//! - In a resource Islet uses, a part that cannot be read is *rejected with a
//!   reason*, never dropped silently: a malformed `value[x]`, a
//!   `modifierExtension` at any depth, an unknown or mismatched
//!   `resourceType`, an unknown status, a time without a zone. A Bundle's bad
//!   entry rejects that entry only (inside a nested Bundle: the top-level
//!   entry it is under).
//! - What decodes can be stored (`storable.rs`): a message nested more than
//!   64 levels is rejected first (`too-deep`); a resource with an escaped
//!   control character in any string or element name is rejected
//!   (`control-character`); every id, `meta.versionId` and patient id is a
//!   FHIR id. So `islet check`, in-memory replay and PostgreSQL agree.
//! - A well-formed value Islet cannot use is not a rejection but a
//!   [`FactKind::Problem`](islet_guideline::FactKind::Problem) fact, so the
//!   clinician sees it: an unknown unit (`data.unknown-unit`), a value
//!   outside its physical range (`data.implausible-value`), a value Islet
//!   cannot interpret — an unknown coded answer, text, a range, a quantity
//!   without a value where a number belongs (`data.unusable-value`).
//! - A fact that rests on a resource sent in another message (a
//!   `medicationReference` Medication, a tumour size's `focus`
//!   BodyStructure) is a [`PendingFact`], never a rejection; the Medication
//!   arrives as a [`Change::Shared`], the BodyStructure as an Upsert whose
//!   [`Definition`] resolves it. An unplaced focus never defaults to the
//!   pancreas. With
//!   [`Decoder::decode_received`], so is a time of something that has
//!   happened lying more than a day after receipt (`ImplausibleTime`, dated
//!   at receipt); that version then has no clinical time.
//! - A retraction (`entered-in-error`, `refuted`) is honoured even when the
//!   rest of the body is broken, unless it cannot be stored (above).
//! - Rejection texts name elements and codes, never patient names or values,
//!   and carry no control characters.
//! - Every [`Fact`] carries its source reference and clinical time. A time
//!   keeps the UTC offset it was written with (its calendar date is the one
//!   written); a date without a time is midnight UTC. Instants compare by the
//!   moment they denote.
//! - Identity never needs `meta`: type and id name a resource, `meta` only
//!   orders its versions, and the content hash leaves `meta` out.
//! - Every code-system URI the decoder knows is defined once, in [`systems`].
//!
//! **How.** No FHIR model crate: each JSON object is read once into a
//! borrowed view (`json.rs`) that types the header elements (resourceType,
//! id, status, meta, Bundle entries, envelope fields) and keeps the raw text
//! of the other elements Islet reads; those are parsed into small strict
//! types only when read, so every error names its element. fhir-sdk was
//! measured and left out: it silently drops a malformed `value[x]` /
//! `effective[x]` (`#[serde(flatten)]` choice types), does not check
//! `resourceType`, ignores `modifierExtension`; a typed Observation cost
//! 4.2 µs (3.0 µs more after a 4.0 µs `serde_json::Value` parse) against
//! 1.3 µs for a borrowed struct; and its release build took 17 CPU-minutes.
//! Cost per message and where it goes: `benches/decode.rs`.
//!
//! Modules depend one way: `decode` (message framing: Bundles, envelopes)
//! → `resources` (one file per resource family; `mod.rs` decides relevance)
//! → `bundle_index`, `json`, `codes`, `types`, `storable`, `linked`.

mod bundle_index;
pub mod canonical;
mod codes;
mod datetime;
mod decode;
mod json;
pub mod linked;
mod mapping;
mod reject;
mod resources;
mod storable;
pub mod systems;
mod types;
mod units;
mod walk;

pub use linked::{Definition, PendingFact, PendingKind};
pub use mapping::{MappingError, SiteMapping};
pub use reject::RejectReason;
pub use types::ResourceType;

/// Islet's own code system: [`systems::ISLET`] under its older name.
pub use systems::ISLET as ISLET_SYSTEM;

use islet_guideline::{Fact, Instant};

/// Decodes messages with one site's code mapping. Cheap to share (`&self`).
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    mapping: SiteMapping,
}

impl Decoder {
    pub fn new(mapping: SiteMapping) -> Self {
        Decoder { mapping }
    }

    /// One message: a resource, a Bundle or a delivery envelope.
    pub fn decode(&self, bytes: &[u8]) -> Decoded {
        self.read(bytes, None)
    }

    /// One message received at `received_at`: as [`decode`](Self::decode),
    /// and a clinical time of something that has happened — Observation
    /// `effective[x]` / `issued`, Condition onset / `recordedDate`, a
    /// completed or in-progress Procedure, an active, completed or stopped
    /// MedicationStatement, MedicationRequest `authoredOn`, Patient
    /// `birthDate` / `deceasedDateTime`, and `meta.lastUpdated` where it
    /// stands in for them — that lies more than a day after `received_at` is
    /// implausible. The facts resting on it are replaced by one
    /// [`ProblemKind::ImplausibleTime`](islet_guideline::facts::ProblemKind::ImplausibleTime)
    /// fact dated `received_at`, and the version's `clinical_time` is `None`.
    /// Planned times (a ServiceRequest occurrence, an intended medication, a
    /// Procedure in preparation) may lie in the future.
    pub fn decode_received(&self, bytes: &[u8], received_at: Instant) -> Decoded {
        self.read(bytes, Some(received_at))
    }

    fn read(&self, bytes: &[u8], received_at: Option<Instant>) -> Decoded {
        let mut out = Decoded::default();
        let reading = decode::Reading { term: &self.mapping.terminology, received_at };
        decode::message(&reading, bytes, &mut out);
        out
    }
}

/// Everything one message carries, in message order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    pub changes: Vec<Change>,
    pub rejections: Vec<Rejection>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A version of a supported resource (Observation, Condition, Patient, Procedure,
    /// MedicationStatement, MedicationRequest, ServiceRequest, BodyStructure), with its facts.
    Upsert(ResourceVersion),
    /// Bundle entry DELETE (request.url = Type/id) or envelope operationType DELETE.
    Delete { resource_type: ResourceType, id: String, patient: Option<String>, version_id: Option<String> },
    /// A resource of a type Islet does not use (e.g. Encounter), or one whose
    /// code Islet does not use, whatever else is wrong with it; a response
    /// Bundle; a notification without events: skipped, counted. `id` only
    /// when it is a FHIR id.
    Skipped { resource_type: String, id: Option<String> },
    /// A version of a supported resource whose code Islet does not use: no
    /// facts. The engine applies it only where a patient holds an earlier
    /// version (a diagnosis re-coded to something else stops counting);
    /// otherwise it is counted as skipped and not kept.
    Unused(ResourceVersion),
    /// A version of a resource that belongs to no patient but that patients'
    /// resources point to (a Medication): the engine keeps it and re-evaluates
    /// the patients that point to it.
    Shared(SharedVersion),
}

impl Change {
    /// Nothing Islet uses: skipped, or a version of a resource whose code it does not use.
    pub fn is_unused(&self) -> bool {
        matches!(self, Change::Skipped { .. } | Change::Unused(_))
    }
}

/// One version of a shared (not patient-scoped) resource Islet reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedVersion {
    /// `"Medication/m1"`.
    pub reference: String,
    pub version_id: Option<String>,
    pub last_updated: Option<Instant>,
    pub content_hash: [u8; 32],
    /// What the facts pointing to it need from it.
    pub definition: Definition,
    /// The resource JSON exactly as received.
    pub raw: String,
}

/// One version of a supported resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceVersion {
    pub resource_type: ResourceType,
    pub id: String,
    /// `"Patient/123"` (the Patient itself for Patient resources).
    pub patient: String,
    /// `meta.versionId`.
    pub version_id: Option<String>,
    /// `meta.lastUpdated`.
    pub last_updated: Option<Instant>,
    /// Clinical time (contract.md "Clinical time"); `None` for a Patient and a
    /// BodyStructure, and possibly for a version without facts.
    pub clinical_time: Option<Instant>,
    /// Entered-in-error / refuted: this version retracts the resource (facts empty).
    pub retracted: bool,
    /// Empty for irrelevant codes or unusable statuses.
    pub facts: Vec<Fact>,
    /// The resource JSON exactly as received (for audit storage).
    pub raw: String,
    /// SHA-256 of the canonical JSON ([`canonical::content_sha256`]): identical
    /// content is a duplicate, and a conflict is decided by it.
    pub content_hash: [u8; 32],
    /// Facts that rest on a resource sent in another message (a Medication,
    /// a BodyStructure): resolved by the engine when it evaluates.
    pub pending: Vec<PendingFact>,
    /// What this resource says for other resources' pending facts (a
    /// patient's BodyStructure).
    pub definition: Option<Definition>,
}

impl ResourceVersion {
    /// `"Observation/x"`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}

/// A message, or one Bundle entry, that cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Index of the Bundle entry, `None` for the message as a whole.
    pub entry: Option<usize>,
    /// `"Observation/x"` when known.
    pub resource: Option<String>,
    pub reason: RejectReason,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(i) = self.entry {
            write!(f, "entry {i}: ")?;
        }
        if let Some(r) = &self.resource {
            write!(f, "{r}: ")?;
        }
        write!(f, "{} ({})", self.reason, self.reason.code())
    }
}
