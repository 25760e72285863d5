//! `modifierExtension` search: Islet cannot interpret a modifier extension,
//! and one may change the meaning of the resource, so its presence anywhere
//! rejects the resource.

use crate::reject::echo;
use crate::walk;
use serde_json::Value;

/// The path and url of the first non-empty `modifierExtension` anywhere in
/// the resource, at any depth (contained resources, components, extensions
/// of extensions …). The walk parses the whole resource, so it is taken only
/// when the text contains the key, or a `\u` escape that could spell it.
pub(super) fn find_modifier_extension(raw: &str) -> Option<(String, String)> {
    if !raw.contains("modifierExtension") && !raw.contains("\\u") {
        return None;
    }
    walk::find(raw, |name, value| match (name, value) {
        (Some("modifierExtension"), Value::Array(extensions)) => extensions
            .first()
            .map(|first| first.get("url").and_then(Value::as_str).map_or_else(|| "(without url)".to_owned(), echo)),
        (Some("modifierExtension"), _) => Some("(malformed: not an array)".to_owned()),
        _ => None,
    })
}
