//! What PostgreSQL cannot store is rejected by the decoder, with a specific
//! reason, so `islet check`, in-memory replay and the PostgreSQL load agree
//! (issue "A poison line stops a PostgreSQL load for good").

mod common;
use common::*;
use islet_fhir::Change;
use serde_json::json;

/// The compact JSON of `v` with the first `from` replaced by `to`, written raw (escapes kept).
fn edit(v: &serde_json::Value, from: &str, to: &str) -> String {
    let text = v.to_string();
    assert!(text.contains(from), "{from} is in {text}");
    text.replacen(from, to, 1)
}

fn single_rejection(text: &str) -> (&'static str, String) {
    let d = decode_str(text);
    assert!(d.changes.is_empty(), "unexpected changes: {:#?}", d.changes);
    assert_eq!(d.rejections.len(), 1, "{:#?}", d.rejections);
    (d.rejections[0].reason.code(), d.rejections[0].reason.to_string())
}

#[test]
fn a_nul_in_a_string_islet_uses_is_rejected_naming_the_element() {
    let cases = [
        (edit(&ki67(4.5), r#""unit":"%""#, r#""unit":"%\u0000""#), "valueQuantity.unit"),
        (edit(&ki67(4.5), r#""versionId":"2""#, r#""versionId":"2\u0000""#), "meta.versionId"),
        (
            edit(&ki67(4.5), r#""http://loinc.org""#, r#""http://loinc.org","display":"Ki\u0000""#),
            "code.coding[0].display",
        ),
        (edit(&ki67(4.5), "Jane Doe", r"Jane\u0000Doe"), "subject.display"),
        (edit(&ki67(4.5), r#""id":"o1""#, r#""id":"o\u00001""#), "id"),
    ];
    for (text, path) in cases {
        let (code, reason) = single_rejection(&text);
        assert_eq!(code, "control-character", "{text}");
        assert!(reason.contains(&format!("`{path}`")), "{path}: {reason}");
        assert!(!reason.contains('\0'), "{reason:?}");
    }
    // A code spoilt by one is not a code Islet uses: skipped, so nothing is stored.
    let spoilt = edit(&ki67(4.5), r#""29593-1""#, r#""29593-1\u0000""#);
    let d = decode_str(&spoilt);
    assert!(d.rejections.is_empty() && matches!(&d.changes[..], [c] if c.is_unused()), "{d:?}");
}

#[test]
fn every_control_character_but_tab_cr_lf_is_rejected() {
    for escape in ["\\u0001", "\\u001f", "\\u001F", "\\u000b", "\\b", "\\f"] {
        let text = edit(&ki67(4.5), "Jane Doe", &format!("Jane{escape}Doe"));
        assert_eq!(single_rejection(&text).0, "control-character", "{escape}");
    }
    for escape in ["\\t", "\\n", "\\r", "\\u0009", "\\u000A", "\\u000d", "\\u007f", "\\u0020", "\\u00e9"] {
        let text = edit(&ki67(4.5), "Jane Doe", &format!("Jane{escape}Doe"));
        assert!(decode_str(&text).rejections.is_empty(), "{escape}");
    }
}

#[test]
fn an_escaped_backslash_before_u0000_is_not_a_nul() {
    // JSON `"a\\u0000"` is the six characters `a\u0000`: a backslash, not a NUL.
    let text = edit(&ki67(4.5), "Jane Doe", r"Jane\\u0000Doe");
    let d = decode_str(&text);
    assert_eq!(upsert(&d).facts.len(), 1);
    let text = edit(&ki67(4.5), "Jane Doe", r"Jane\\\u0000Doe"); // `\\` then `\u0000`
    assert_eq!(single_rejection(&text).0, "control-character");
}

#[test]
fn a_control_character_in_an_element_name_is_rejected() {
    let text = ki67(4.5).to_string().replacen("\"status\"", "\"x\\u0000\":1,\"status\"", 1);
    let (code, reason) = single_rejection(&text);
    assert_eq!(code, "control-character");
    assert!(!reason.contains('\0'), "{reason:?}");
}

#[test]
fn a_nul_inside_an_envelope_payload_is_found_after_unescaping() {
    let resource = edit(&ki67(4.5), r#""unit":"%""#, r#""unit":"%\u0000""#);
    let env = json!({"operationType": "UPDATE", "payloadId": "Observation/o1", "payload": resource});
    let (code, reason) = single_rejection(&env.to_string());
    assert_eq!(code, "control-character");
    assert!(reason.contains("valueQuantity.unit"), "{reason}");
}

#[test]
fn a_nul_in_a_bundle_entry_rejects_that_entry_only() {
    let bad = edit(&ki67(4.5), r#""unit":"%""#, r#""unit":"%\u0000""#).replacen("\"o1\"", "\"o2\"", 1);
    let text = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{}}},{{"resource":{bad}}}]}}"#,
        ki67(3.0)
    );
    let d = decode_str(&text);
    assert_eq!(d.changes.len(), 1);
    assert_eq!(d.rejections.len(), 1);
    assert_eq!((d.rejections[0].entry, d.rejections[0].reason.code()), (Some(1), "control-character"));
}

#[test]
fn rejection_texts_never_carry_control_characters() {
    let text = ki67(4.5).to_string().replacen("\"final\"", "\"fin\\u0000al\"", 1);
    let d = decode_str(&text);
    for r in &d.rejections {
        assert!(!r.to_string().chars().any(char::is_control), "{r}");
    }
    let unknown_type = r#"{"resourceType":"Obs\u0000ervation","id":"x"}"#;
    let d = decode_str(unknown_type);
    assert_eq!(d.rejections[0].reason.code(), "unknown-resource-type");
    assert!(!d.rejections[0].to_string().chars().any(char::is_control), "{}", d.rejections[0]);
}

#[test]
fn a_version_id_must_be_a_fhir_id() {
    let mut o = ki67(4.5);
    o["meta"]["versionId"] = json!("7".repeat(10_000));
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-field");
    assert!(text.contains("meta.versionId"), "{text}");
    assert!(text.len() < 300, "the reason does not echo the value: {text}");
    for bad in ["", "1 2", "v/1", "é"] {
        o["meta"]["versionId"] = json!(bad);
        assert_eq!(rejected(&o).0, "malformed-field", "{bad:?}");
    }
    o["meta"]["versionId"] = json!("W3.a-1");
    assert_eq!(upsert(&decode(&o)).version_id.as_deref(), Some("W3.a-1"));
}

#[test]
fn the_patient_reference_id_must_be_a_fhir_id() {
    let mut o = ki67(4.5);
    o["subject"]["reference"] = json!(format!("Patient/{}", "p".repeat(10_000)));
    let (code, text) = rejected(&o);
    assert_eq!(code, "malformed-field");
    assert!(text.contains("subject.reference") && text.len() < 300, "{text}");
    // The same through a Bundle entry the subject points to.
    let patient = json!({"resourceType": "Patient", "id": "p".repeat(65)});
    let mut obs = ki67(4.5);
    obs["subject"]["reference"] = json!("urn:uuid:u1");
    let b = json!({"resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:u1", "resource": patient}, {"resource": obs}]});
    let d = decode(&b);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.rejections.len(), 2, "{:?}", d.rejections);
    assert_eq!(d.rejections[1].entry, Some(1));
}

#[test]
fn an_envelope_delete_takes_only_fhir_ids_from_its_payload() {
    let mut long_id = ki67(4.5);
    long_id["id"] = json!("o".repeat(10_000));
    let mut long_version = ki67(4.5);
    long_version["meta"]["versionId"] = json!("9".repeat(10_000));
    for payload in [long_id, long_version] {
        let env = json!({"operationType": "DELETE", "payload": payload.to_string()});
        let d = decode(&env);
        assert!(d.changes.is_empty(), "{:?}", d.changes);
        assert_eq!(d.rejections.len(), 1);
        assert_eq!(d.rejections[0].reason.code(), "malformed-field");
        assert!(d.rejections[0].to_string().len() < 300, "{}", d.rejections[0]);
    }
    // A well-formed payload still names the deleted resource and its version.
    let env = json!({"operationType": "DELETE", "payload": ki67(4.5).to_string()});
    let d = decode(&env);
    assert!(d.rejections.is_empty(), "{:?}", d.rejections);
    assert!(matches!(&d.changes[..], [Change::Delete { id, version_id: Some(v), .. }] if id == "o1" && v == "2"));
}

/// `levels` nested arrays around `1`.
fn nested(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn a_message_nested_too_deep_is_rejected_before_anything_else() {
    // An unknown element 100,000 levels deep: skipped by serde_json without a
    // limit, it made every PostgreSQL transaction fail ("stack depth limit exceeded").
    let deep = ki67(4.5).to_string().replacen("\"status\"", &format!("\"deep\":{},\"status\"", nested(100_000)), 1);
    let (code, text) = single_rejection(&deep);
    assert_eq!(code, "too-deep");
    assert!(text.contains("64"), "the reason names the limit: {text}");
    // Deep objects, not only arrays; and even in a message that is broken anyway.
    let objects = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    assert_eq!(single_rejection(&objects).0, "too-deep");
    assert_eq!(single_rejection(&"[".repeat(1_000_000)).0, "too-deep");
    // Brackets inside strings do not count.
    let mut quoted = ki67(4.5);
    quoted["note"] = json!([{"text": "[".repeat(10_000)}]);
    assert_eq!(upsert(&decode(&quoted)).facts.len(), 1);
}

#[test]
fn the_depth_limit_is_exact() {
    // ki67(): the message object holds `valueQuantity` at depth 2; `deep` adds its own levels.
    let at = |levels: usize| {
        ki67(4.5).to_string().replacen("\"status\"", &format!("\"deep\":{},\"status\"", nested(levels)), 1)
    };
    assert_eq!(upsert(&decode_str(&at(63))).facts.len(), 1, "64 levels in all are accepted");
    assert_eq!(single_rejection(&at(64)).0, "too-deep", "65 levels are not");
}

#[test]
fn an_envelope_payload_is_checked_for_depth_after_unescaping() {
    let deep = ki67(4.5).to_string().replacen("\"status\"", &format!("\"deep\":{},\"status\"", nested(1_000)), 1);
    let env = json!({"operationType": "UPDATE", "payloadId": "Observation/o1", "payload": deep});
    assert_eq!(single_rejection(&env.to_string()).0, "too-deep");
}

#[test]
fn an_unescaped_control_character_is_not_json() {
    // JSON itself forbids them in strings, also in elements Islet skips.
    let mut o = ki67(4.5);
    o["note"] = json!([{"text": "placeholder"}]);
    let text = o.to_string().replacen("placeholder", "a\u{0}b", 1);
    assert_eq!(single_rejection(&text).0, "invalid-json");
}
