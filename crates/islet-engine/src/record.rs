//! The patient record: the current version of each of a patient's resources.
//!
//! Versions follow the contract: a resource version is (type, id,
//! `meta.versionId`); the same version again is a duplicate, a lower one is
//! stale. Without `meta.versionId` the newest `meta.lastUpdated` wins, then
//! arrival order. A retraction (entered-in-error, refuted) or a DELETE keeps a
//! tombstone, so a stale copy delivered later cannot bring the resource back.

use islet_fhir::ResourceVersion;
use islet_guideline::{Fact, Instant};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How a version compares with what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionStamp {
    pub version_id: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<Instant>,
    /// Arrival sequence: the last resort, as the contract says.
    pub arrival: u64,
}

impl VersionStamp {
    /// `Greater`: `self` supersedes `stored`. `Equal`: the same version (a duplicate).
    pub fn compare(&self, stored: &VersionStamp) -> Ordering {
        if let (Some(a), Some(b)) = (&self.version_id, &stored.version_id) {
            return match (a.parse::<u64>(), b.parse::<u64>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.cmp(b),
            };
        }
        if let (Some(a), Some(b)) = (self.last_updated, stored.last_updated) {
            if a != b {
                return a.cmp(&b);
            }
        }
        self.arrival.cmp(&stored.arrival)
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
    pub facts: Vec<Fact>,
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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatientRecord {
    /// Keyed by `Type/id`; a BTreeMap so iteration never depends on arrival.
    pub resources: BTreeMap<String, StoredResource>,
}

impl PatientRecord {
    pub fn apply_version(&mut self, v: &ResourceVersion, arrival: u64) -> Applied {
        let stamp = VersionStamp { version_id: v.version_id.clone(), last_updated: v.last_updated, arrival };
        let facts = if v.retracted { Vec::new() } else { v.facts.clone() };
        self.put(v.reference(), StoredResource { stamp, gone: v.retracted, moved: false, facts })
    }

    /// How `v` compares with this record's copy of `reference` (which must
    /// exist): `Greater` when `v` supersedes it.
    pub fn compare_version(&self, reference: &str, v: &ResourceVersion, arrival: u64) -> Ordering {
        let stamp = VersionStamp { version_id: v.version_id.clone(), last_updated: v.last_updated, arrival };
        match self.resources.get(reference) {
            None => Ordering::Greater,
            Some(current) if is_tombstoned_copy(current, &stamp) => Ordering::Less,
            Some(current) => stamp.compare(&current.stamp),
        }
    }

    /// `v`, a newer version of `reference`, names another patient: leave a
    /// tombstone with its version so older copies stay out of this record.
    pub fn move_away(&mut self, reference: &str, v: &ResourceVersion, arrival: u64) {
        let stamp = VersionStamp { version_id: v.version_id.clone(), last_updated: v.last_updated, arrival };
        self.resources
            .insert(reference.to_string(), StoredResource { stamp, gone: true, moved: true, facts: Vec::new() });
    }

    /// A DELETE: a tombstone that supersedes the stored version. A versioned
    /// delete (envelope) carries the deleted version; a Bundle DELETE entry
    /// has none and inherits the stored version's id, so only a strictly
    /// newer version can recreate the resource.
    pub fn apply_delete(&mut self, reference: String, version_id: Option<String>, arrival: u64) -> Applied {
        let existing = self.resources.get(&reference);
        if existing.is_some_and(|r| r.gone) && version_id.is_none() {
            return Applied::Duplicate;
        }
        let version_id = version_id.or_else(|| existing.and_then(|r| r.stamp.version_id.clone()));
        let last_updated = existing.and_then(|r| r.stamp.last_updated);
        let tombstone = StoredResource {
            stamp: VersionStamp { version_id, last_updated, arrival },
            gone: true,
            moved: false,
            facts: Vec::new(),
        };
        match self.resources.get_mut(&reference) {
            Some(current) => {
                // Same version id: the delete still wins over the live copy.
                *current = tombstone;
                Applied::Stored
            }
            None => {
                self.resources.insert(reference, tombstone);
                Applied::Stored
            }
        }
    }

    fn put(&mut self, reference: String, new: StoredResource) -> Applied {
        match self.resources.get_mut(&reference) {
            None => {
                self.resources.insert(reference, new);
                Applied::Stored
            }
            // A copy of the very version a tombstone replaced stays deleted.
            Some(current) if is_tombstoned_copy(current, &new.stamp) => Applied::Stale,
            Some(current) => match new.stamp.compare(&current.stamp) {
                Ordering::Greater => {
                    *current = new;
                    Applied::Stored
                }
                Ordering::Equal => Applied::Duplicate,
                Ordering::Less => Applied::Stale,
            },
        }
    }

    /// Every fact of every current, non-retracted resource.
    pub fn facts(&self) -> impl Iterator<Item = &Fact> {
        self.resources.values().filter(|r| !r.gone).flat_map(|r| r.facts.iter())
    }
}

/// `stamp` is the very version a deletion tombstone replaced (same version
/// id and lastUpdated): it stays deleted.
fn is_tombstoned_copy(current: &StoredResource, stamp: &VersionStamp) -> bool {
    current.gone
        && !current.moved
        && (current.stamp.version_id.is_some() || current.stamp.last_updated.is_some())
        && current.stamp.version_id == stamp.version_id
        && current.stamp.last_updated == stamp.last_updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_guideline::facts::{FactKind, Ki67Percent};
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
            raw: String::new(),
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
        assert_eq!(r.apply_version(&version("k", Some("2"), None, 5.0, false), 1), Applied::Stored);
        assert_eq!(r.apply_version(&version("k", Some("2"), None, 9.0, false), 2), Applied::Duplicate);
        assert_eq!(r.apply_version(&version("k", Some("1"), None, 9.0, false), 3), Applied::Stale);
        assert_eq!(ki67s(&r), vec![5.0]);
        // Version ids compare as numbers, not strings: 10 > 9.
        assert_eq!(r.apply_version(&version("k", Some("10"), None, 7.0, false), 4), Applied::Stored);
        assert_eq!(r.apply_version(&version("k", Some("9"), None, 9.0, false), 5), Applied::Stale);
        assert_eq!(ki67s(&r), vec![7.0]);
    }

    #[test]
    fn without_version_id_newest_last_updated_wins_then_arrival() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", None, Some("2024-02-01T00:00:00Z"), 5.0, false), 1);
        assert_eq!(r.apply_version(&version("k", None, Some("2024-01-01T00:00:00Z"), 9.0, false), 2), Applied::Stale);
        assert_eq!(ki67s(&r), vec![5.0]);
        assert_eq!(r.apply_version(&version("k", None, Some("2024-02-01T00:00:00Z"), 6.0, false), 3), Applied::Stored);
        assert_eq!(ki67s(&r), vec![6.0]);
    }

    #[test]
    fn entered_in_error_retracts_and_stale_copies_stay_out() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", Some("1"), None, 5.0, false), 1);
        assert_eq!(r.apply_version(&version("k", Some("2"), None, 5.0, true), 2), Applied::Stored);
        assert!(ki67s(&r).is_empty());
        assert_eq!(r.apply_version(&version("k", Some("1"), None, 5.0, false), 3), Applied::Stale);
        assert!(ki67s(&r).is_empty());
    }

    #[test]
    fn delete_keeps_a_tombstone() {
        let mut r = PatientRecord::default();
        r.apply_version(&version("k", Some("3"), None, 5.0, false), 1);
        assert_eq!(r.apply_delete("Observation/k".into(), None, 2), Applied::Stored);
        assert!(ki67s(&r).is_empty());
        // A redelivered copy of the deleted version stays deleted…
        assert_eq!(r.apply_version(&version("k", Some("3"), None, 5.0, false), 3), Applied::Stale);
        assert!(ki67s(&r).is_empty());
        // …a second delete changes nothing, and a newer version recreates it.
        assert_eq!(r.apply_delete("Observation/k".into(), None, 4), Applied::Duplicate);
        assert_eq!(r.apply_version(&version("k", Some("4"), None, 6.0, false), 5), Applied::Stored);
        assert_eq!(ki67s(&r), vec![6.0]);
    }
}
