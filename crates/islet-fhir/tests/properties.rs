//! `decode` never panics, and every message either decodes or is rejected
//! with a reason: on arbitrary bytes, arbitrary JSON, valid messages with one
//! element replaced or removed, nested very deeply, or carrying control
//! characters. Whatever decodes is storable: ids are FHIR ids, no string
//! holds a control character, no rejection text does either.

mod common;
use common::*;
use islet_fhir::{Change, Decoded, Decoder, SiteMapping};
use islet_guideline::facts::Tense;
use islet_guideline::FactKind;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use time::macros::datetime;

/// Element names and values that steer generated JSON into the decoder's paths.
const KEYS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "versionId",
    "lastUpdated",
    "status",
    "code",
    "coding",
    "system",
    "subject",
    "reference",
    "valueQuantity",
    "valueCodeableConcept",
    "valueInteger",
    "value",
    "unit",
    "comparator",
    "effectiveDateTime",
    "effectivePeriod",
    "start",
    "issued",
    "component",
    "bodySite",
    "focus",
    "contained",
    "modifierExtension",
    "url",
    "extension",
    "clinicalStatus",
    "verificationStatus",
    "onsetDateTime",
    "birthDate",
    "deceasedBoolean",
    "medicationCodeableConcept",
    "medicationReference",
    "dosage",
    "timing",
    "repeat",
    "period",
    "periodUnit",
    "type",
    "entry",
    "resource",
    "fullUrl",
    "request",
    "method",
    "payload",
    "payloadId",
    "operationType",
    "headers",
    "referenceRange",
    "high",
];

const STRINGS: &[&str] = &[
    "Observation",
    "Condition",
    "Patient",
    "Bundle",
    "MedicationStatement",
    "Encounter",
    "final",
    "preliminary",
    "entered-in-error",
    "active",
    "completed",
    "http://loinc.org",
    "29593-1",
    "9811-1",
    "21889-1",
    "33728-7",
    "http://snomed.info/sct",
    "735735001",
    "Patient/p1",
    "urn:uuid:u1",
    "#m1",
    "%",
    "cm",
    "ng/mL",
    "2024-01-10",
    "2024-01-10T09:00:00Z",
    "2024-01-10T09:00:00",
    "DELETE",
    "CREATE",
    "UPDATE",
    "collection",
    "transaction",
    "Observation/o1",
    "<",
    "~",
    "d",
    "https://islet.dev/fhir/CodeSystem/pnet",
    "ssa",
    "\"modifierExtension\"",
    "{\"resourceType\":\"Observation\"}",
    "\u{0}",
    "a\u{1f}b",
    "\\u0000",
    "tab\there",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9 /:.#|%é€ü-]{0,10}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z_é]{1,8}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..7)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The FHIR id rule, written out independently of the decoder.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// A character FHIR forbids in strings and PostgreSQL cannot always store.
fn forbidden(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// No string or element name of `v` holds a forbidden character.
fn clean(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.chars().any(forbidden),
        Value::Array(items) => items.iter().all(clean),
        Value::Object(m) => m.iter().all(|(k, v)| !k.chars().any(forbidden) && clean(v)),
        _ => true,
    }
}

/// How deeply `v` nests arrays and objects (a scalar is 0).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check(bytes: &[u8]) -> Decoded {
    let decoder = Decoder::new(SiteMapping::empty());
    let d = decoder.decode(bytes);
    for r in &d.rejections {
        let code = r.reason.code();
        assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{code}");
        let text = r.to_string();
        assert!(!text.is_empty());
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
    for c in &d.changes {
        match c {
            Change::Upsert(v) => {
                assert!(v.patient.strip_prefix("Patient/").is_some_and(is_fhir_id), "{}", v.patient);
                assert!(is_fhir_id(&v.id) && v.version_id.as_deref().is_none_or(is_fhir_id), "{v:?}");
                let raw: Value = serde_json::from_str(&v.raw).expect("raw is the resource's JSON");
                assert!(clean(&raw), "{}", v.raw);
                assert!(depth(&raw) <= 64);
                assert!(!v.retracted || v.facts.is_empty());
                for f in &v.facts {
                    assert_eq!(f.source.as_str(), v.reference());
                }
            }
            Change::Delete { id, patient, version_id, .. } => {
                assert!(is_fhir_id(id) && version_id.as_deref().is_none_or(is_fhir_id), "{c:?}");
                assert!(patient.as_deref().is_none_or(|p| p.strip_prefix("Patient/").is_some_and(is_fhir_id)));
            }
            Change::Skipped { .. } => {}
            Change::Unused(v) => {
                assert!(v.facts.is_empty() && v.pending.is_empty() && !v.retracted, "{v:?}");
                assert!(v.patient.strip_prefix("Patient/").is_some_and(is_fhir_id), "{}", v.patient);
                assert!(is_fhir_id(&v.id) && v.version_id.as_deref().is_none_or(is_fhir_id), "{v:?}");
            }
            Change::Shared(sv) => {
                let (_, id) = sv.reference.split_once('/').expect("Type/id");
                assert!(is_fhir_id(id) && sv.version_id.as_deref().is_none_or(is_fhir_id), "{sv:?}");
                let raw: Value = serde_json::from_str(&sv.raw).expect("raw is the resource's JSON");
                assert!(clean(&raw) && depth(&raw) <= 64, "{}", sv.raw);
            }
        }
    }
    assert_eq!(decoder.decode(bytes), d, "decoding is deterministic");
    check_received(&decoder, bytes, &d);
    d
}

/// Received long before the fixtures' dates: what decodes is the same, but
/// only a plan or a deceased flag may be dated after receipt (+ a day).
fn check_received(decoder: &Decoder, bytes: &[u8], plain: &Decoded) {
    let received = datetime!(2000-01-01 0:00 UTC);
    let latest = received + time::Duration::DAY;
    let d = decoder.decode_received(bytes, received);
    assert_eq!(d.rejections, plain.rejections);
    assert_eq!(d.changes.len(), plain.changes.len());
    for c in &d.changes {
        if let Change::Upsert(v) = c {
            for f in v.facts.iter().filter(|f| f.at > latest) {
                let plan = matches!(f.kind, FactKind::Therapy(t) if t.tense == Tense::Planned);
                assert!(plan || f.kind == FactKind::Deceased, "{f:?}");
            }
        }
    }
}

/// Something came out, unless the message is a Bundle without usable entries.
fn answered(d: &Decoded, v: &Value) -> bool {
    !d.changes.is_empty()
        || !d.rejections.is_empty()
        || v["resourceType"] == "Bundle"
        || v["payload"].is_string()
        || v["payload"].is_object()
}

/// Valid messages to mutate.
fn fixtures() -> Vec<Value> {
    let mut size = obs(LOINC, "21889-1", "", json!(null));
    size["component"] = json!([{"code": coding(LOINC, "33728-7"), "valueQuantity": qty(2.0, "cm")}]);
    size["focus"] = json!([{"reference": "#b"}]);
    size["contained"] = json!([{"resourceType": "BodyStructure", "id": "b", "location": coding(SNOMED, "10200004")}]);
    let mut cga = obs(LOINC, "9811-1", "valueQuantity", qty(120.0, "ug/L"));
    cga["referenceRange"] = json!([{"high": qty(100.0, "ug/L")}]);
    let mut ms = med_statement("active", ATC, "H01CB02");
    ms["dosage"] = json!([{"timing": {"repeat": {"frequency": 1, "period": 14, "periodUnit": "d"}}}]);
    let mut ms_ref = med_statement("active", ATC, "x");
    ms_ref.as_object_mut().unwrap().remove("medicationCodeableConcept");
    ms_ref["medicationReference"] = json!({"reference": "#m1"});
    ms_ref["contained"] = json!([{"resourceType": "Medication", "id": "m1", "code": coding(ATC, "L01XE10")}]);
    let patient =
        json!({"resourceType": "Patient", "id": "p1", "birthDate": "1960-02-03", "deceasedDateTime": "2024-01-01"});
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:u1", "resource": patient.clone()},
        {"resource": {"resourceType": "Observation", "id": "o5", "status": "final", "code": coding(LOINC, "29593-1"),
            "subject": {"reference": "urn:uuid:u1"}, "issued": "2024-01-10T09:00:00Z", "valueQuantity": qty(3.0, "%")}},
        {"request": {"method": "DELETE", "url": "Condition/c1"}},
    ]});
    let envelope = json!({"headers": {}, "payload": {"operationType": "UPDATE", "payloadId": "Observation/o1",
        "payload": ki67(4.5).to_string()}});
    vec![
        ki67(4.5),
        size,
        cga,
        obs(ISLET, "sstr-imaging", "valueCodeableConcept", coding(ISLET, "positive")),
        condition(json!([{"system": ICD10CM, "code": "C7A.1"}])),
        ms,
        ms_ref,
        procedure("completed", ISLET, "primary-resection"),
        patient,
        bundle,
        envelope,
    ]
}

/// Every JSON pointer inside `v` (not the root).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

/// 512 cases per property, or `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
}

#[test]
fn fixtures_are_valid() {
    for f in fixtures() {
        let d = check(f.to_string().as_bytes());
        assert!(d.rejections.is_empty(), "{f}: {:?}", d.rejections);
        assert!(!d.changes.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let d = check(&bytes);
        prop_assert!(!d.rejections.is_empty() || !d.changes.is_empty());
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let d = check(v.to_string().as_bytes());
        prop_assert!(answered(&d, &v), "{v}");
    }

    #[test]
    fn arbitrary_resources_never_panic(rt in prop::sample::select(&["Observation", "Condition", "Patient",
            "Procedure", "MedicationStatement", "MedicationRequest", "ServiceRequest", "Bundle"][..]),
        v in prop::collection::vec((key(), json_value()), 0..10)) {
        let mut m: Map<String, Value> = v.into_iter().collect();
        m.insert("resourceType".into(), json!(rt));
        let v = Value::Object(m);
        let d = check(v.to_string().as_bytes());
        prop_assert!(answered(&d, &v), "{v}");
    }

    #[test]
    fn arbitrary_codes_never_panic(system in prop::sample::select(&[LOINC, SNOMED, ICD10CM, ICDO3, ATC, ISLET, UCUM][..]),
        code in prop_oneof![any::<String>(), "[A-Za-z0-9./é€ü#|-]{0,8}"], unit in prop_oneof![any::<String>(), "[a-zA-Z/%.{}#µ\\[\\]0-9]{0,6}"]) {
        let codings = json!([{"system": system, "code": code}]);
        for v in [
            condition(codings.clone()),
            obs(system, &code, "valueQuantity", json!({"value": 1.5, "unit": unit, "code": unit})),
            obs(LOINC, "97509-4", "valueCodeableConcept", json!({"coding": codings})),
            med_statement("active", system, &code),
            procedure("completed", system, &code),
        ] {
            let d = check(v.to_string().as_bytes());
            prop_assert!(answered(&d, &v), "{v}");
        }
    }

    #[test]
    fn bracket_soup_never_panics(bytes in prop::collection::vec(prop::sample::select(
            &[b'[', b'{', b']', b'}', b'"', b'\\', b':', b',', b'a', b'1'][..]), 0..2000)) {
        let d = check(&bytes);
        prop_assert!(!d.rejections.is_empty() || !d.changes.is_empty());
    }

    #[test]
    fn deeply_nested_messages_are_rejected_or_decoded(which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(), levels in prop_oneof![0usize..80, 80usize..5000],
        objects in any::<bool>()) {
        let all = fixtures();
        let mut v = which.get(&all).clone();
        // Wrapping one element in `levels` more adds at most `levels` to the depth.
        let at_most = depth(&v) + levels;
        let mut ps = Vec::new();
        pointers(&v, String::new(), &mut ps);
        let p = at.get(&ps).clone();
        let target = v.pointer_mut(&p).unwrap();
        // Built from the inside out: a recursive drop of a deep Value could overflow, so
        // the wrapper is written as text.
        let inner = target.take().to_string();
        let (open, close) = if objects { ("{\"x\":", "}") } else { ("[", "]") };
        *target = json!("@placeholder@");
        let text = v.to_string().replacen("\"@placeholder@\"",
            &format!("{}{inner}{}", open.repeat(levels), close.repeat(levels)), 1);
        let d = check(text.as_bytes());
        if at_most <= 64 {
            prop_assert!(!d.rejections.iter().any(|r| r.reason.code() == "too-deep"), "{text}");
        }
        if levels > 64 {
            prop_assert_eq!(d.rejections.len(), 1);
            prop_assert_eq!(d.rejections[0].reason.code(), "too-deep");
            prop_assert!(d.changes.is_empty());
        }
    }

    #[test]
    fn control_characters_never_reach_a_change(which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(), c in (0u32..0x20).prop_map(|n| char::from_u32(n).unwrap()),
        in_name in any::<bool>()) {
        let all = fixtures();
        let mut v = which.get(&all).clone();
        let mut ps = Vec::new();
        pointers(&v, String::new(), &mut ps);
        let p = at.get(&ps).clone();
        if in_name {
            let (parent, last) = p.rsplit_once('/').unwrap();
            if let Value::Object(m) = v.pointer_mut(parent).unwrap() {
                let key = last.replace("~1", "/").replace("~0", "~");
                let child = m.remove(&key).unwrap();
                m.insert(format!("{key}{c}"), child);
            }
        } else if let Some(Value::String(s)) = v.pointer_mut(&p) {
            s.push(c);
        }
        // check() asserts that nothing decoded holds the character.
        let d = check(v.to_string().as_bytes());
        prop_assert!(answered(&d, &v), "{v}");
    }

    #[test]
    fn mutated_valid_messages_never_panic(which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(),
        remove in any::<bool>(), replacement in json_value()) {
        let all = fixtures();
        let mut v = which.get(&all).clone();
        let mut ps = Vec::new();
        pointers(&v, String::new(), &mut ps);
        let p = at.get(&ps).clone();
        let (parent, last) = p.rsplit_once('/').unwrap();
        if remove {
            match v.pointer_mut(parent).unwrap() {
                Value::Object(m) => { m.remove(&last.replace("~1", "/").replace("~0", "~")); }
                Value::Array(a) => { a.remove(last.parse::<usize>().unwrap()); }
                _ => unreachable!(),
            }
        } else {
            *v.pointer_mut(&p).unwrap() = replacement;
        }
        let d = check(v.to_string().as_bytes());
        prop_assert!(answered(&d, &v), "{v}");
    }
}
