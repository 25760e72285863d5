//! `modifierExtension` search: Islet cannot interpret a modifier extension,
//! and one may change the meaning of the resource, so its presence anywhere
//! rejects the resource.

use crate::reject::echo;

/// The first non-empty `modifierExtension` anywhere in the resource (slow
/// path, taken only when the text contains the key).
pub(super) fn find_modifier_extension(raw: &str) -> Option<(String, String)> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Option<(String, String)> {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    if k == "modifierExtension" {
                        let url = match child {
                            serde_json::Value::Array(a) if a.is_empty() => continue,
                            serde_json::Value::Array(a) => a[0]
                                .get("url")
                                .and_then(|u| u.as_str())
                                .map_or_else(|| "(without url)".to_owned(), echo),
                            _ => "(malformed: not an array)".to_owned(),
                        };
                        return Some((format!("{path}modifierExtension"), url));
                    }
                    let len = path.len();
                    path.push_str(k);
                    path.push('.');
                    let hit = walk(child, path);
                    path.truncate(len);
                    if hit.is_some() {
                        return hit;
                    }
                }
                None
            }
            serde_json::Value::Array(items) => {
                let base = path.pop().map(|_| path.len());
                let mut found = None;
                for (i, child) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]."));
                    found = walk(child, path);
                    path.truncate(len);
                    if found.is_some() {
                        break;
                    }
                }
                if base.is_some() {
                    path.push('.');
                }
                found
            }
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    walk(&value, &mut String::new())
}
