//! `modifierExtension` search: Islet cannot interpret a modifier extension,
//! and one may change the meaning of the resource, so its presence anywhere
//! rejects the resource.

use crate::reject::echo;
use crate::walk;
use serde_json::Value;

/// The path and url of the first non-empty `modifierExtension` anywhere in
/// the resource (slow path, taken only when the text contains the key).
pub(super) fn find_modifier_extension(raw: &str) -> Option<(String, String)> {
    walk::find(raw, |name, value| match (name, value) {
        (Some("modifierExtension"), Value::Array(extensions)) => extensions
            .first()
            .map(|first| first.get("url").and_then(Value::as_str).map_or_else(|| "(without url)".to_owned(), echo)),
        (Some("modifierExtension"), _) => Some("(malformed: not an array)".to_owned()),
        _ => None,
    })
}
