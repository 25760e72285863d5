//! The patient record: the current version of each of a patient's resources.
//!
//! Versions follow contract.md v2, and the outcome never depends on arrival
//! order: a resource version is (type, id, `meta.versionId`); the same
//! version again is a duplicate, a lower one is stale. Without
//! `meta.versionId` the newest `meta.lastUpdated` wins. When the version key
//! ties (same versionId, or the same or no lastUpdated), identical content
//! (same canonical JSON) is a duplicate, and different content is a conflict:
//! the larger content hash wins, whichever came first, and the resource is
//! flagged (`data.version-conflict`).
//!
//! A retraction (entered-in-error, refuted) or a DELETE keeps a tombstone, so
//! a stale copy delivered later cannot bring the resource back. A DELETE that
//! names its version (an envelope's `payloadId`, a history Bundle's etag)
//! beats that version and older ones; a newer version recreates the
//! resource. A DELETE without a version beats every version: which version
//! it meant cannot be known when copies arrive out of order, and "deleted"
//! is the only answer that does not depend on the order.

use islet_fhir::{Definition, PendingFact, ResourceVersion};
use islet_guideline::facts::ProblemKind;
use islet_guideline::{Fact, FactKind, Instant};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A content hash (SHA-256 of the canonical JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Tombstones sort above every content: a copy of the version a DELETE
    /// named never wins against it.
    pub const TOMBSTONE: ContentHash = ContentHash([0xff; 32]);
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut hex = String::with_capacity(64);
        for b in self.0 {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let hex = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(serde::de::Error::custom("a content hash is 64 hex digits"));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(serde::de::Error::custom("a content hash is lower-case hex")),
        };
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(ContentHash(out))
    }
}

/// How a version compares with what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionStamp {
    pub version_id: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<Instant>,
    /// The content's hash; [`ContentHash::TOMBSTONE`] for a deletion.
    pub content: ContentHash,
}

/// The result of comparing a version with the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versus {
    /// Supersedes the stored version.
    Newer,
    /// The same version with the same content: a duplicate.
    Same,
    /// Older than the stored version.
    Older,
    /// Same version key, different content: the larger hash wins.
    Conflict { wins: bool },
}

impl VersionStamp {
    pub fn of(v: &ResourceVersion) -> VersionStamp {
        VersionStamp {
            version_id: v.version_id.clone(),
            last_updated: v.last_updated,
            content: ContentHash(v.content_hash),
        }
    }

    /// A DELETE's tombstone: of `version_id` when the DELETE named one.
    pub fn deletion(version_id: Option<String>) -> VersionStamp {
        VersionStamp { version_id, last_updated: None, content: ContentHash::TOMBSTONE }
    }

    fn is_unversioned_deletion(&self) -> bool {
        self.content == ContentHash::TOMBSTONE && self.version_id.is_none() && self.last_updated.is_none()
    }

    /// How `self` compares with `stored` (module doc: the order is the same
    /// whichever arrives first).
    pub fn versus(&self, stored: &VersionStamp) -> Versus {
        match (self.is_unversioned_deletion(), stored.is_unversioned_deletion()) {
            (true, true) => return Versus::Same,
            (true, false) => return Versus::Newer,
            (false, true) => return Versus::Older,
            (false, false) => {}
        }
        // The version key: versionId when both have one, else lastUpdated;
        // a copy with the element beats one without (it says more), and only
        // equal (or equally absent) keys leave the decision to the content.
        let by_key = match (&self.version_id, &stored.version_id) {
            (Some(a), Some(b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.cmp(b),
            },
            (a, b) => match (self.last_updated, stored.last_updated) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => a.is_some().cmp(&b.is_some()),
            },
        };
        match by_key {
            Ordering::Greater => Versus::Newer,
            Ordering::Less => Versus::Older,
            Ordering::Equal => match self.content.cmp(&stored.content) {
                Ordering::Equal => Versus::Same,
                _ if self.content == ContentHash::TOMBSTONE => Versus::Newer,
                _ if stored.content == ContentHash::TOMBSTONE => Versus::Older,
                order => Versus::Conflict { wins: order == Ordering::Greater },
            },
        }
    }
}

/// One resource as currently known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResource {
    pub stamp: VersionStamp,
    /// Retracted (entered-in-error / refuted), deleted or moved: contributes no facts.
    pub gone: bool,
    /// A newer version of this resource names another patient (a
    /// wrong-patient correction): this tombstone only keeps the version order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moved: bool,
    /// Another content with this version key was seen (contract.md v2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conflict: bool,
    pub facts: Vec<Fact>,
    /// Facts waiting for a resource sent in another message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingFact>,
    /// What this resource says for other resources' pending facts (a BodyStructure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
}

impl StoredResource {
    fn tombstone(stamp: VersionStamp, moved: bool) -> StoredResource {
        StoredResource {
            stamp,
            gone: true,
            moved,
            conflict: false,
            facts: Vec::new(),
            pending: Vec::new(),
            definition: None,
        }
    }
}

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A new current version (or a retraction / deletion took effect).
    Stored,
    /// That version is already stored: nothing changes.
    Duplicate,
    /// Older than the stored version: ignored.
    Stale,
    /// Another content with the stored version key: the larger hash is kept
    /// (`replaced` when that is the new one) and the resource is flagged.
    Conflict { replaced: bool },
}

impl Applied {
    /// Did the record change (so the patient must be re-evaluated)?
    pub fn changed(self) -> bool {
        matches!(self, Applied::Stored | Applied::Conflict { .. })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientRecord {
    /// Keyed by `Type/id`; a BTreeMap so iteration never depends on arrival.
    pub resources: BTreeMap<String, StoredResource>,
}

impl PatientRecord {
    pub fn apply_version(&mut self, v: &ResourceVersion) -> Applied {
        let new = if v.retracted {
            StoredResource::tombstone(VersionStamp::of(v), false)
        } else {
            StoredResource {
                stamp: VersionStamp::of(v),
                gone: false,
                moved: false,
                conflict: false,
                facts: v.facts.clone(),
                pending: v.pending.clone(),
                definition: v.definition.clone(),
            }
        };
        self.put(v.reference(), new)
    }

    /// How `v` compares with this record's copy of `reference`: `Newer` when
    /// `v` supersedes it (also when there is none).
    pub fn versus(&self, reference: &str, v: &ResourceVersion) -> Versus {
        match self.resources.get(reference) {
            None => Versus::Newer,
            Some(current) => VersionStamp::of(v).versus(&current.stamp),
        }
    }

    /// `v`, a newer version of `reference`, names another patient: leave a
    /// tombstone with its version so older copies stay out of this record.
    pub fn move_away(&mut self, reference: &str, v: &ResourceVersion) {
        self.resources.insert(reference.to_string(), StoredResource::tombstone(VersionStamp::of(v), true));
    }

    /// Flags the stored copy of `reference` as conflicted (a losing content
    /// with its version key arrived). True when the flag is new.
    pub fn flag_conflict(&mut self, reference: &str) -> bool {
        match self.resources.get_mut(reference) {
            Some(r) if !r.conflict => {
                r.conflict = true;
                true
            }
            _ => false,
        }
    }

    /// A version seen while no patient held the resource (a DELETE, or a
    /// version Islet does not use), as a tombstone the next version is
    /// compared with.
    pub fn apply_tombstone(&mut self, reference: String, stamp: VersionStamp) -> Applied {
        self.put(reference, StoredResource::tombstone(stamp, false))
    }

    /// A DELETE: a tombstone (module doc for which versions it beats).
    pub fn apply_delete(&mut self, reference: String, version_id: Option<String>) -> Applied {
        self.put(reference, StoredResource::tombstone(VersionStamp::deletion(version_id), false))
    }

    fn put(&mut self, reference: String, new: StoredResource) -> Applied {
        let Some(current) = self.resources.get_mut(&reference) else {
            self.resources.insert(reference, new);
            return Applied::Stored;
        };
        match new.stamp.versus(&current.stamp) {
            Versus::Newer => {
                *current = new;
                Applied::Stored
            }
            Versus::Same => Applied::Duplicate,
            Versus::Older => Applied::Stale,
            Versus::Conflict { wins: true } => {
                *current = StoredResource { conflict: true, ..new };
                Applied::Conflict { replaced: true }
            }
            Versus::Conflict { wins: false } => {
                if current.conflict {
                    Applied::Duplicate
                } else {
                    current.conflict = true;
                    Applied::Conflict { replaced: false }
                }
            }
        }
    }

    /// A problem found at receipt (a clinical time in the future) is dated
    /// when the decoder saw it; it is known from the instant it is processed
    /// (replay processes at its replay instant, earlier than the wall clock).
    pub fn date_receipt_problems(&mut self, reference: &str, processed_at: Instant) {
        let Some(r) = self.resources.get_mut(reference) else { return };
        for f in &mut r.facts {
            if matches!(f.kind, FactKind::Problem { kind: ProblemKind::ImplausibleTime, .. }) && f.at > processed_at {
                f.at = processed_at;
            }
        }
    }

    /// Makes a conflicted resource say so: a `VersionConflict` problem on
    /// the kept copy (`data.version-conflict` names the resource), dated at
    /// its own clinical time when it has one, else when it was processed.
    pub fn note_conflict(&mut self, reference: &str, processed_at: Instant) {
        let Some(r) = self.resources.get_mut(reference).filter(|r| r.conflict && !r.moved) else { return };
        if r.facts.iter().any(|f| matches!(f.kind, FactKind::Problem { kind: ProblemKind::VersionConflict, .. })) {
            return;
        }
        let version = match (&r.stamp.version_id, r.stamp.last_updated) {
            (Some(v), _) => format!("versionId {v}"),
            (None, Some(t)) => format!("lastUpdated {t} (no versionId)"),
            (None, None) => "A version without versionId or lastUpdated".to_owned(),
        };
        let at = r.facts.iter().map(|f| f.at).min().unwrap_or(processed_at);
        let detail = format!(
            "{version} was sent with two different contents; Islet uses the one with the larger content hash{}. \
             Resource dated",
            if r.gone { ", which retracts the resource" } else { "" }
        );
        let source = islet_guideline::SourceRef(reference.to_owned());
        r.facts.push(Fact {
            source,
            at,
            preliminary: false,
            kind: FactKind::Problem { kind: ProblemKind::VersionConflict, detail },
        });
    }

    /// Every fact of every current, non-retracted resource (a conflicted
    /// retraction still shows its conflict).
    pub fn facts(&self) -> impl Iterator<Item = &Fact> {
        self.resources.values().filter(|r| !r.gone || r.conflict).flat_map(|r| {
            let problems_only = r.gone;
            r.facts.iter().filter(move |f| !problems_only || matches!(f.kind, FactKind::Problem { .. }))
        })
    }

    /// The shared resources (`Medication/x`) this record's pending facts need.
    pub fn needs(&self) -> impl Iterator<Item = &str> {
        self.resources
            .values()
            .filter(|r| !r.gone)
            .flat_map(|r| r.pending.iter())
            .map(|p| p.needs.as_str())
            .filter(|n| !n.starts_with("BodyStructure/"))
    }

    /// The pending facts that resolve now: a BodyStructure from this record,
    /// a Medication from `shared`. Those still waiting are not facts yet.
    /// Also returns the pending facts still waiting for their resource.
    pub fn resolved_facts(&self, shared: &dyn Fn(&str) -> Option<Definition>) -> (Vec<Fact>, Vec<&PendingFact>) {
        let mut out = Vec::new();
        let mut waiting = Vec::new();
        for pending in self.resources.values().filter(|r| !r.gone).flat_map(|r| r.pending.iter()) {
            let definition = match self.resources.get(&pending.needs) {
                Some(r) if !r.gone => r.definition.clone(),
                Some(_) => None,
                None => shared(&pending.needs),
            };
            match definition {
                Some(d) => out.extend(pending.resolve(&d)),
                None => waiting.push(pending),
            }
        }
        (out, waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_guideline::facts::Ki67Percent;
    use islet_guideline::SourceRef;

    fn version(
        id: &str,
        version: Option<&str>,
        last_updated: Option<&str>,
        ki67: f64,
        retracted: bool,
    ) -> ResourceVersion {
        let at = time::macros::datetime!(2024-01-10 00:00 UTC);
        let parse = |s: &str| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        // The content is what the hash sees: the value and the retraction.
        let raw = format!(r#"{{"id":"{id}","ki67":{ki67},"retracted":{retracted}}}"#);
        ResourceVersion {
            resource_type: islet_fhir::ResourceType::Observation,
            id: id.into(),
            patient: "Patient/p1".into(),
            version_id: version.map(String::from),
            last_updated: last_updated.map(parse),
            clinical_time: Some(at),
            retracted,
            facts: vec![Fact {
                source: SourceRef::new("Observation", id),
                at,
                preliminary: false,
                kind: FactKind::Ki67(Ki67Percent::new(ki67).unwrap()),
            }],
            content_hash: islet_fhir::canonical::content_sha256(&raw),
            pending: Vec::new(),
            definition: None,
            raw,
        }
    }

    fn ki67s(r: &PatientRecord) -> Vec<f64> {
        r.facts()
            .filter_map(|f| match f.kind {
                FactKind::Ki67(k) => Some(k.get()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn same_version_is_a_duplicate_and_lower_is_stale() {
        let mut r = PatientRecord::default();
        assert_eq!(r.apply_version(&version("k", Some("2"), None, 5.0, false)), Applied::Stored);
        assert_eq!(r.apply_version(&version("k", Some("2"), None, 5.0, false)), Applied::Duplicate);
        assert_eq!(r.apply_version(&version("k", Some("1"), None, 9.0, false)), Applied::Stale);
        assert_eq!(ki67s(&r), vec![5.0]);
        // Version ids compare as numbers, not strings: 10 > 9.
        assert_eq!(r.apply_version(&version("k", Some("10"), None, 7.0, false)), Applied::Stored);
        assert_eq!(r.apply_version(&version("k", Some("9"), None, 9.0, false)), Applied::Stale);
        assert_eq!(ki67s(&r), vec![7.0]);
    }

    #[test]
    fn without_version_id_newest_last_updated_wins() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", None, Some("2024-02-01T00:00:00Z"), 5.0, false));
        assert_eq!(r.apply_version(&version("k", None, Some("2024-01-01T00:00:00Z"), 9.0, false)), Applied::Stale);
        assert_eq!(ki67s(&r), vec![5.0]);
        assert_eq!(r.apply_version(&version("k", None, Some("2024-03-01T00:00:00Z"), 6.0, false)), Applied::Stored);
        assert_eq!(ki67s(&r), vec![6.0]);
    }

    #[test]
    fn identical_content_without_meta_is_a_duplicate() {
        let mut r = PatientRecord::default();
        assert_eq!(r.apply_version(&version("k", None, None, 5.0, false)), Applied::Stored);
        assert_eq!(r.apply_version(&version("k", None, None, 5.0, false)), Applied::Duplicate);
        assert!(!r.resources["Observation/k"].conflict);
    }

    /// Contract v2: two contents with one version key → the larger content
    /// hash wins in either arrival order, and the resource is flagged.
    #[test]
    fn a_version_conflict_is_decided_by_content_not_arrival() {
        for key in [(Some("3"), None), (None, Some("2024-02-01T00:00:00Z")), (None, None)] {
            let a = version("k", key.0, key.1, 5.0, false);
            let b = version("k", key.0, key.1, 9.0, false);
            let winner = if a.content_hash > b.content_hash { 5.0 } else { 9.0 };
            let mut ab = PatientRecord::default();
            ab.apply_version(&a);
            assert!(matches!(ab.apply_version(&b), Applied::Conflict { .. }));
            let mut ba = PatientRecord::default();
            ba.apply_version(&b);
            assert!(matches!(ba.apply_version(&a), Applied::Conflict { .. }));
            assert_eq!(ab, ba, "{key:?}");
            assert_eq!(ki67s(&ab), vec![winner]);
            assert!(ab.resources["Observation/k"].conflict);
            // A redelivery of either changes nothing more.
            assert_eq!(ab.apply_version(&a), Applied::Duplicate);
            assert_eq!(ab.apply_version(&b), Applied::Duplicate);
            // A newer version ends the conflict.
            let newer = version("k", Some("4"), Some("2024-03-01T00:00:00Z"), 7.0, false);
            assert_eq!(ab.apply_version(&newer), Applied::Stored);
            assert!(!ab.resources["Observation/k"].conflict);
        }
    }

    #[test]
    fn entered_in_error_retracts_and_stale_copies_stay_out() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", Some("1"), None, 5.0, false));
        assert_eq!(r.apply_version(&version("k", Some("2"), None, 5.0, true)), Applied::Stored);
        assert!(ki67s(&r).is_empty());
        assert_eq!(r.apply_version(&version("k", Some("1"), None, 5.0, false)), Applied::Stale);
        assert!(ki67s(&r).is_empty());
    }

    #[test]
    fn a_versioned_delete_beats_its_version_and_a_newer_one_recreates() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", Some("3"), None, 5.0, false));
        assert_eq!(r.apply_delete("Observation/k".into(), Some("3".into())), Applied::Stored);
        assert!(ki67s(&r).is_empty());
        // A redelivered copy of the deleted version stays deleted…
        assert_eq!(r.apply_version(&version("k", Some("3"), None, 5.0, false)), Applied::Stale);
        // …a second delete changes nothing, and a newer version recreates it.
        assert_eq!(r.apply_delete("Observation/k".into(), Some("3".into())), Applied::Duplicate);
        assert_eq!(r.apply_version(&version("k", Some("4"), None, 6.0, false)), Applied::Stored);
        assert_eq!(ki67s(&r), vec![6.0]);
    }

    #[test]
    fn an_unversioned_delete_beats_every_version_in_any_order() {
        let v1 = version("k", Some("1"), None, 5.0, false);
        let v2 = version("k", Some("2"), None, 6.0, false);
        let orders: [&[Option<&ResourceVersion>]; 3] =
            [&[Some(&v1), Some(&v2), None], &[Some(&v1), None, Some(&v2)], &[None, Some(&v2), Some(&v1)]];
        let records: Vec<PatientRecord> = orders
            .iter()
            .map(|order| {
                let mut r = PatientRecord::default();
                for step in *order {
                    match step {
                        Some(v) => r.apply_version(v),
                        None => r.apply_delete("Observation/k".into(), None),
                    };
                }
                r
            })
            .collect();
        assert!(records.iter().all(|r| ki67s(r).is_empty()));
        assert!(records.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn stamps_round_trip_through_json() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", Some("1"), Some("2024-02-01T00:00:00Z"), 5.0, false));
        r.apply_delete("Observation/d".into(), None);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<PatientRecord>(&json).unwrap(), r);
    }
}
