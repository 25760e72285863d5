//! Depth-first search of a whole resource's JSON for the first element a
//! test picks, with that element's path (`dosage[0].modifierExtension`).
//! Slow paths only: callers first look for a hint in the raw text.
//!
//! The recursion is bounded: a message nested deeper than
//! [`MAX_DEPTH`](crate::storable::MAX_DEPTH) is rejected before any resource
//! is read, and serde_json's own limit (128) is above it.

use crate::reject::echo;
use serde_json::Value;
use std::fmt::Write;

const _: () = assert!(crate::storable::MAX_DEPTH < 128, "serde_json refuses to build a Value nested deeper than 128");

/// The first element of `raw` (a JSON object) for which `hit(name, value)`
/// answers, depth first (members in the order of serde_json's map); `name`
/// is the member name, `None` for an array item. The path names elements
/// with [`echo`], so it can go into a rejection.
pub(crate) fn find<T>(raw: &str, mut hit: impl FnMut(Option<&str>, &Value) -> Option<T>) -> Option<(String, T)> {
    let value: Value = serde_json::from_str(raw).ok()?;
    visit(None, &value, &mut String::new(), &mut hit)
}

fn visit<T>(
    name: Option<&str>,
    value: &Value,
    path: &mut String,
    hit: &mut impl FnMut(Option<&str>, &Value) -> Option<T>,
) -> Option<(String, T)> {
    if let Some(found) = hit(name, value) {
        return Some((path.clone(), found));
    }
    let len = path.len();
    match value {
        Value::Object(members) => {
            for (member, child) in members {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&echo(member));
                let found = visit(Some(member), child, path, hit);
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let _ = write!(path, "[{i}]");
                let found = visit(None, child, path, hit);
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_members_and_items() {
        let raw = r#"{"a":{"b":[1,{"c":"x"}]},"d":"x"}"#;
        let hit = |_: Option<&str>, v: &Value| (v == "x").then_some(());
        assert_eq!(find(raw, hit), Some(("a.b[1].c".to_owned(), ())));
        let by_name = |name: Option<&str>, _: &Value| (name == Some("d")).then_some(());
        assert_eq!(find(raw, by_name), Some(("d".to_owned(), ())));
        assert_eq!(find(raw, |_, _| None::<()>), None);
    }
}
