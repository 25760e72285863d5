//! The content identity of a resource version (contract.md v2, "Content
//! identical to the stored copy … is a duplicate"; "the content with the
//! larger SHA-256 of its canonical JSON wins").
//!
//! Canonical JSON here: the resource without its top-level `meta` (transport
//! metadata: `versionId` and `lastUpdated` are compared on their own, and a
//! bulk export or a Synthea file resends the same content with other or no
//! `meta`), objects with their keys sorted by byte order, no insignificant
//! whitespace, strings with serde_json's minimal escaping, numbers as
//! serde_json prints an `f64` or integer. Two messages that differ only in key
//! order, whitespace or `meta` have the same hash.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// SHA-256 of the canonical JSON of `raw` (a resource). Text that is not
/// JSON hashes as its bytes (the decoder has rejected it already; a hash
/// is still a total order).
pub fn content_sha256(raw: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(mut map)) => {
            map.remove("meta");
            write_canonical(&Value::Object(map), &mut hasher);
        }
        Ok(other) => write_canonical(&other, &mut hasher),
        Err(_) => hasher.update(raw.as_bytes()),
    }
    hasher.finalize().into()
}

fn write_canonical(value: &Value, out: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.update(b"{");
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                write_string(key, out);
                out.update(b":");
                write_canonical(v, out);
            }
            out.update(b"}");
        }
        Value::Array(items) => {
            out.update(b"[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                write_canonical(v, out);
            }
            out.update(b"]");
        }
        Value::String(s) => write_string(s, out),
        other => out.update(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Sha256) {
    // serde_json's string serialisation is already minimal and deterministic.
    out.update(serde_json::to_string(s).unwrap_or_default().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::content_sha256;

    #[test]
    fn key_order_whitespace_and_meta_do_not_matter() {
        let a = r#"{"resourceType":"Observation","id":"x","status":"final","meta":{"versionId":"1"}}"#;
        let b = "{ \"status\": \"final\",\n \"id\": \"x\", \"resourceType\": \"Observation\" }";
        assert_eq!(content_sha256(a), content_sha256(b));
    }

    #[test]
    fn content_matters() {
        let a = r#"{"resourceType":"Observation","id":"x","status":"final"}"#;
        let b = r#"{"resourceType":"Observation","id":"x","status":"amended"}"#;
        assert_ne!(content_sha256(a), content_sha256(b));
        // Nested meta is content (only the resource's own meta is transport).
        let c = r#"{"resourceType":"Bundle","entry":[{"meta":{"versionId":"1"}}]}"#;
        let d = r#"{"resourceType":"Bundle","entry":[{"meta":{"versionId":"2"}}]}"#;
        assert_ne!(content_sha256(c), content_sha256(d));
    }
}
