//! The patient record: the current version of each of a patient's resources.
//!
//! Versions follow the contract: a resource version is (type, id,
//! `meta.versionId`); the same version again is a duplicate, a lower one is
//! stale. Without `meta.versionId` the newest `meta.lastUpdated` wins, then
//! arrival order. A retraction (entered-in-error, refuted) or a DELETE keeps a
//! tombstone, so a stale copy delivered later cannot bring the resource back.

use islet_fhir::ResourceVersion;
use islet_guideline::{Fact, Instant};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How a version compares with what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionStamp {
    pub version_id: Option<String>,
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
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub stamp: VersionStamp,
    /// Retracted (entered-in-error / refuted) or deleted: contributes no facts.
    pub gone: bool,
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientRecord {
    /// Keyed by `Type/id`; a BTreeMap so iteration never depends on arrival.
    pub resources: BTreeMap<String, StoredResource>,
}

impl PatientRecord {
    pub fn apply_version(&mut self, v: &ResourceVersion, arrival: u64) -> Applied {
        let stamp = VersionStamp { version_id: v.version_id.clone(), last_updated: v.last_updated, arrival };
        let facts = if v.retracted { Vec::new() } else { v.facts.clone() };
        self.put(v.reference(), StoredResource { stamp, gone: v.retracted, facts })
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
        let tombstone = StoredResource { stamp: VersionStamp { version_id, last_updated, arrival }, gone: true, facts: Vec::new() };
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
            Some(current)
                if current.gone
                    && (current.stamp.version_id.is_some() || current.stamp.last_updated.is_some())
                    && current.stamp.version_id == new.stamp.version_id
                    && current.stamp.last_updated == new.stamp.last_updated =>
            {
                Applied::Stale
            }
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
