//! Desired alert set vs. stored alert set → the change log.

use crate::alert::{AlertChange, AlertRecord, Cause, ChangeKind};
use islet_guideline::Instant;
use std::collections::BTreeMap;

/// Replaces `current` with `desired` and returns what changed, in alert-id
/// order: `raised` (new id), `updated` (same id, different content),
/// `resolved` (id no longer desired).
pub fn reconcile(
    current: &mut BTreeMap<String, AlertRecord>,
    desired: Vec<AlertRecord>,
    at: Instant,
    cause: &Cause,
) -> Vec<AlertChange> {
    let mut desired: BTreeMap<String, AlertRecord> = desired.into_iter().map(|a| (a.id.clone(), a)).collect();
    let mut changes = Vec::new();
    let old = std::mem::take(current);
    for (id, before) in old {
        match desired.remove(&id) {
            Some(now) => {
                if now != before {
                    changes.push(AlertChange {
                        at,
                        change: ChangeKind::Updated,
                        cause: cause.clone(),
                        alert: now.clone(),
                    });
                }
                current.insert(id, now);
            }
            None => changes.push(AlertChange { at, change: ChangeKind::Resolved, cause: cause.clone(), alert: before }),
        }
    }
    for (id, new) in desired {
        changes.push(AlertChange { at, change: ChangeKind::Raised, cause: cause.clone(), alert: new.clone() });
        current.insert(id, new);
    }
    changes.sort_by(|a, b| a.alert.id.cmp(&b.alert.id));
    changes
}
