//! A borrowed, lazy view of FHIR JSON: one pass over an object keeps the raw
//! text of the elements Islet reads ([`Obj`]); each element is then parsed
//! into a small typed struct only when needed, so every error names its
//! element. Strings borrow from the input unless they contain escapes.
//!
//! Nothing here echoes input values in error texts: serde messages are
//! reduced to their shape ("invalid type: string, expected a number").

use crate::reject::RejectReason;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::ops::Deref;

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON number (FHIR `decimal`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decimal(pub(crate) f64);

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON number in `value`")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Ok(Decimal(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal(v as f64))
            }
        }
        d.deserialize_f64(V)
    }
}

/// `Quantity.comparator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum Comparator {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Coding<'a> {
    #[serde(borrow)]
    pub(crate) system: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) code: Option<Str<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CodeableConcept<'a> {
    #[serde(borrow, default)]
    pub(crate) coding: Vec<Coding<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Quantity<'a> {
    pub(crate) value: Option<Decimal>,
    pub(crate) comparator: Option<Comparator>,
    #[serde(borrow)]
    pub(crate) unit: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) system: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) code: Option<Str<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Reference<'a> {
    #[serde(borrow)]
    pub(crate) reference: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) display: Option<Str<'a>>,
    pub(crate) identifier: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Period<'a> {
    #[serde(borrow)]
    pub(crate) start: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) end: Option<Str<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta<'a> {
    #[serde(borrow)]
    pub(crate) version_id: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) last_updated: Option<Str<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extension<'a> {
    #[serde(borrow)]
    pub(crate) url: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) value_codeable_concept: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ReferenceRange<'a> {
    #[serde(borrow)]
    pub(crate) high: Option<Quantity<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Dosage<'a> {
    #[serde(borrow)]
    pub(crate) timing: Option<Timing<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Timing<'a> {
    #[serde(borrow)]
    pub(crate) repeat: Option<Repeat<'a>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Repeat<'a> {
    pub(crate) frequency: Option<u32>,
    pub(crate) period: Option<Decimal>,
    #[serde(borrow)]
    pub(crate) period_unit: Option<Str<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry<'a> {
    #[serde(borrow)]
    pub(crate) full_url: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) resource: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) request: Option<Request<'a>>,
    #[serde(borrow)]
    pub(crate) response: Option<Response<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Request<'a> {
    #[serde(borrow)]
    pub(crate) method: Option<Str<'a>>,
    #[serde(borrow)]
    pub(crate) url: Option<Str<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Response<'a> {
    #[serde(borrow)]
    pub(crate) etag: Option<Str<'a>>,
}

macro_rules! fields {
    ($($variant:ident = $key:literal),* $(,)?) => {
        /// The elements [`Obj`] keeps as raw text, parsed when read (a union
        /// over the supported resources).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum F { $($variant),* }
        impl F {
            const COUNT: usize = [$(F::$variant),*].len();
            fn from_key(key: &str) -> Option<F> {
                match key { $($key => Some(F::$variant),)* _ => None }
            }
            pub(crate) fn name(self) -> &'static str {
                match self { $(F::$variant => $key),* }
            }
        }
    };
}

fields! {
    Id = "id",
    Status = "status",
    Meta = "meta",
    Extension = "extension",
    Contained = "contained",
    Code = "code",
    Subject = "subject",
    Patient = "patient",
    Issued = "issued",
    Component = "component",
    ReferenceRange = "referenceRange",
    BodySite = "bodySite",
    Focus = "focus",
    Location = "location",
    ClinicalStatus = "clinicalStatus",
    VerificationStatus = "verificationStatus",
    RecordedDate = "recordedDate",
    BirthDate = "birthDate",
    Outcome = "outcome",
    Dosage = "dosage",
    DosageInstruction = "dosageInstruction",
    DateAsserted = "dateAsserted",
    AuthoredOn = "authoredOn",
    DoNotPerform = "doNotPerform",
    Intent = "intent",
    Type = "type",
    IncludedStructure = "includedStructure",
    Parameter = "parameter",
    PayloadVersion = "payloadVersion",
    ResourceId = "resourceId",
}

/// Prefixes of FHIR choice elements (`value[x]` …) Islet checks.
const CHOICE_PREFIXES: [&str; 8] =
    ["value", "effective", "onset", "abatement", "deceased", "performed", "medication", "occurrence"];

/// One JSON object, read in a single pass: the elements every message needs
/// to be framed (`resourceType`, Bundle entries, envelope fields) already
/// typed; the raw text of the other elements Islet may read (`id`, `status`
/// and `meta` too: a resource Islet does not use is skipped whatever their
/// shape, so they are read only when the resource is used); and every key
/// that looks like a choice element (`valueQuantity`, `valueQuantitiy`, …).
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    pub(crate) resource_type: Option<Str<'a>>,
    /// Bundle.entry.
    pub(crate) entry: Option<Vec<Entry<'a>>>,
    /// Delivery envelope fields.
    pub(crate) operation_type: Option<Str<'a>>,
    pub(crate) payload_id: Option<Str<'a>>,
    pub(crate) payload: Option<Payload<'a>>,
    slots: [Option<&'a RawValue>; F::COUNT],
    pub(crate) choices: Vec<(Str<'a>, &'a RawValue)>,
}

/// An envelope `payload`: the resource as a JSON string (HAPI), or an object
/// (the delivery message of the wrapped form).
#[derive(Debug, Clone)]
pub(crate) enum Payload<'a> {
    Text(Str<'a>),
    Object(Box<Obj<'a>>),
    /// Neither: the JSON type found.
    Other(&'static str),
}

/// Why a JSON object could not be read.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// Not JSON, or not an object.
    Json(serde_json::Error),
    /// A typed element has the wrong shape.
    Element(Bad),
}

/// Where the first-pass visitor notes which element failed.
type Note = Cell<Option<Bad>>;

fn note<E: fmt::Display>(bad: &Note, field: &str, e: &E) {
    let inner = bad.take();
    bad.set(Some(match inner {
        // A nested object already said which of its elements failed.
        Some(b) => Bad { field: format!("{field}.{}", b.field), problem: b.problem },
        None => Bad { field: field.to_owned(), problem: shape_of_message(&e.to_string()) },
    }));
}

/// `slot = map.next_value()`, noting the element's name on failure.
fn typed<'de, M: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut M,
    bad: &Note,
    name: &'static str,
    slot: &mut Option<T>,
) -> Result<(), M::Error> {
    if slot.is_some() {
        return Err(de::Error::custom(format_args!("duplicate key `{name}`")));
    }
    match map.next_value::<Option<T>>() {
        Ok(v) => {
            *slot = v;
            Ok(())
        }
        Err(e) => {
            note(bad, name, &e);
            Err(e)
        }
    }
}

fn visit_obj<'de, M: MapAccess<'de>>(mut map: M, bad: &Note) -> Result<Obj<'de>, M::Error> {
    let mut obj = Obj {
        resource_type: None,
        entry: None,
        operation_type: None,
        payload_id: None,
        payload: None,
        slots: [None; F::COUNT],
        choices: Vec::new(),
    };
    while let Some(key) = map.next_key::<Str<'de>>()? {
        match &*key {
            "resourceType" => typed(&mut map, bad, "resourceType", &mut obj.resource_type)?,
            "entry" => typed(&mut map, bad, "entry", &mut obj.entry)?,
            "operationType" => typed(&mut map, bad, "operationType", &mut obj.operation_type)?,
            "payloadId" => typed(&mut map, bad, "payloadId", &mut obj.payload_id)?,
            "payload" => {
                if obj.payload.is_some() {
                    return Err(de::Error::custom("duplicate key `payload`"));
                }
                match map.next_value_seed(PayloadSeed(bad)) {
                    Ok(p) => obj.payload = Some(p),
                    Err(e) => {
                        note(bad, "payload", &e);
                        return Err(e);
                    }
                }
            }
            _ => {
                if let Some(f) = F::from_key(&key) {
                    let slot = &mut obj.slots[f as usize];
                    if slot.is_some() {
                        return Err(de::Error::custom(format_args!("duplicate key `{}`", f.name())));
                    }
                    *slot = Some(map.next_value::<&'de RawValue>()?);
                } else if is_choice_key(&key) {
                    if obj.choices.iter().any(|(k, _)| **k == *key) {
                        return Err(de::Error::custom("duplicate key in a choice element"));
                    }
                    let raw = map.next_value::<&'de RawValue>()?;
                    obj.choices.push((key, raw));
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }
    Ok(obj)
}

struct ObjSeed<'x>(&'x Note);

impl<'de> DeserializeSeed<'de> for ObjSeed<'_> {
    type Value = Obj<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Obj<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjSeed<'_> {
    type Value = Obj<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Obj<'de>, M::Error> {
        visit_obj(map, self.0)
    }
}

struct PayloadSeed<'x>(&'x Note);

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = Payload<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Payload<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = Payload<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an object")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Payload<'de>, E> {
        Ok(Payload::Text(Str(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload<'de>, E> {
        Ok(Payload::Text(Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Payload<'de>, E> {
        Ok(Payload::Text(Str(Cow::Owned(v))))
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Payload<'de>, M::Error> {
        Ok(Payload::Object(Box::new(visit_obj(map, self.0)?)))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Payload<'de>, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Payload::Other("an array"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Payload<'de>, E> {
        Ok(Payload::Other("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Payload<'de>, E> {
        Ok(Payload::Other("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Payload<'de>, E> {
        Ok(Payload::Other("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Payload<'de>, E> {
        Ok(Payload::Other("a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Payload<'de>, E> {
        Ok(Payload::Other("null"))
    }
}

fn is_choice_key(key: &str) -> bool {
    CHOICE_PREFIXES
        .iter()
        .any(|p| key.strip_prefix(p).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase())))
}

/// Why an element could not be read: its (relative) name and the shape problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bad {
    pub(crate) field: String,
    pub(crate) problem: String,
}

impl<'a> Obj<'a> {
    /// Read one object in a single pass (the text must be a JSON object).
    pub(crate) fn parse(text: &'a str) -> Result<Obj<'a>, ParseError> {
        let bad = Note::default();
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = ObjSeed(&bad).deserialize(&mut de).and_then(|o| de.end().map(|()| o));
        parsed.map_err(|e| match (e.classify(), bad.take()) {
            // A type error inside a typed element; syntax errors stay JSON errors.
            (serde_json::error::Category::Data, Some(b)) => ParseError::Element(b),
            _ => ParseError::Json(e),
        })
    }

    pub(crate) fn raw(&self, f: F) -> Option<&'a RawValue> {
        self.slots[f as usize]
    }

    pub(crate) fn has(&self, f: F) -> bool {
        self.slots[f as usize].is_some()
    }

    /// The element parsed as `T`, `None` when absent or `null`.
    pub(crate) fn get<T: Deserialize<'a>>(&self, f: F) -> Result<Option<T>, Bad> {
        match self.raw(f) {
            None => Ok(None),
            Some(raw) => parse_raw::<Option<T>>(raw, f.name()),
        }
    }

    /// A string element.
    pub(crate) fn str(&self, f: F) -> Result<Option<Str<'a>>, Bad> {
        self.get::<Str<'a>>(f)
    }

    /// A repeated element (absent = empty).
    pub(crate) fn list<T: Deserialize<'a>>(&self, f: F) -> Result<Vec<T>, Bad> {
        Ok(self.get::<Vec<T>>(f)?.unwrap_or_default())
    }

    /// `id` when it is a string; `None` when absent or of another JSON type
    /// (for identity only: a resource Islet uses reads it with [`Obj::str`]).
    pub(crate) fn id(&self) -> Option<Str<'a>> {
        self.str(F::Id).ok().flatten()
    }

    /// `meta`, when present and well-formed.
    pub(crate) fn meta(&self) -> Result<Option<Meta<'a>>, Bad> {
        self.get(F::Meta)
    }

    /// Is this an envelope rather than a resource?
    pub(crate) fn is_envelope(&self) -> bool {
        self.operation_type.is_some() || self.payload.is_some() || self.payload_id.is_some()
    }
}

/// Parse a JSON object (a message, a Bundle entry's resource, a payload),
/// with a precise reason when it is not one.
pub(crate) fn parse_object(text: &str) -> Result<Obj<'_>, RejectReason> {
    let first = text.trim_start_matches([' ', '\t', '\n', '\r']).as_bytes().first();
    let found = match first {
        Some(b'{') => None,
        None => Some("nothing"),
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b'<') => Some("XML"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'n') => Some("null"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        Some(_) => Some("text that is not JSON"),
    };
    if let Some(found) = found {
        return Err(RejectReason::NotAnObject { found });
    }
    Obj::parse(text).map_err(|e| match e {
        ParseError::Element(b) => RejectReason::MalformedField { field: b.field, problem: b.problem },
        ParseError::Json(e) => RejectReason::InvalidJson {
            detail: match e.classify() {
                serde_json::error::Category::Data => shape_of(&e),
                _ => e.to_string(),
            },
        },
    })
}

/// Parse a raw element as `T`, naming `field` in the error.
pub(crate) fn parse_raw<'a, T: Deserialize<'a>>(raw: &'a RawValue, field: &str) -> Result<T, Bad> {
    parse_named(raw, || field.to_owned())
}

/// [`parse_raw`] with the element's name built only on error.
pub(crate) fn parse_named<'a, T: Deserialize<'a>>(raw: &'a RawValue, field: impl FnOnce() -> String) -> Result<T, Bad> {
    serde_json::from_str(raw.get()).map_err(|e| Bad { field: field(), problem: shape_of(&e) })
}

/// A serde_json error reduced to its shape, without the input's values or position.
pub(crate) fn shape_of(e: &serde_json::Error) -> String {
    shape_of_message(&e.to_string())
}

/// [`shape_of`] on an error message.
fn shape_of_message(full: &str) -> String {
    // Drop the position serde_json appends (" at line 1 column 5").
    let msg = match full.rfind(" at line ") {
        Some(i) if full[i + 9..].split(" column ").all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) => {
            &full[..i]
        }
        _ => full,
    };
    for head in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(head) {
            // "invalid type: string \"4.5\", expected f64" → "invalid type: string, expected f64"
            let what = rest.split([' ', ',']).next().unwrap_or("");
            let expected = rest.rfind(", expected ").map_or("", |i| &rest[i..]);
            let what = match what {
                "floating" => "number",
                "integer" => "integer",
                other => other,
            };
            return format!("{head}{what}{expected}");
        }
    }
    // Other messages (unknown variant, missing field, syntax) name codes and keys only;
    // cap their length all the same.
    let mut s: String = msg.chars().take(160).collect();
    if s.len() < msg.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_known_elements_and_choices() {
        let text = r#"{"resourceType":"Observation","text":{"div":"<div>x</div>"},"valueQuantity":{"value":1},"valueQuantitiy":{},"effective":"x","status":"final"}"#;
        let o = Obj::parse(text).unwrap();
        assert_eq!(o.resource_type.as_deref(), Some("Observation"));
        assert_eq!(o.str(F::Status).unwrap().unwrap().0, "final");
        let keys: Vec<&str> = o.choices.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["valueQuantity", "valueQuantitiy"]);
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let o = Obj::parse(r#"{"id":"a","status":"fi\u006eal"}"#).unwrap();
        assert!(matches!(o.id().unwrap().0, Cow::Borrowed("a")));
        assert!(matches!(o.str(F::Status).unwrap().unwrap().0, Cow::Owned(ref s) if s == "final"));
    }

    #[test]
    fn typed_elements_are_named_in_errors() {
        let named = |text: &str| match Obj::parse(text) {
            Err(ParseError::Element(b)) => b.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(named(r#"{"resourceType":5}"#), "resourceType");
        assert_eq!(named(r#"{"entry":[{"fullUrl":1}]}"#), "entry");
        // Read when used, not when framed: a malformed `meta` or `status` is no parse error.
        let o = Obj::parse(r#"{"resourceType":"Observation","meta":{"lastUpdated":5},"status":["final"]}"#).unwrap();
        assert_eq!(o.meta().unwrap_err().field, "meta");
        assert_eq!(o.str(F::Status).unwrap_err().field, "status");
        assert_eq!(named(r#"{"headers":{},"payload":{"operationType":1}}"#), "payload.operationType");
        assert!(matches!(Obj::parse(r#"{"resourceType": "#), Err(ParseError::Json(_))));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert!(Obj::parse(r#"{"id":"a","id":"b"}"#).is_err());
        assert!(Obj::parse(r#"{"valueInteger":1,"valueInteger":2}"#).is_err());
    }

    #[test]
    fn errors_do_not_echo_values() {
        let raw: &RawValue = serde_json::from_str(r#"{"value":"Jane Doe"}"#).unwrap();
        let bad = parse_raw::<Quantity>(raw, "valueQuantity").unwrap_err();
        assert_eq!(bad.field, "valueQuantity");
        assert!(!bad.problem.contains("Jane"), "{}", bad.problem);
        assert!(bad.problem.contains("expected a JSON number in `value`"), "{}", bad.problem);
        let raw: &RawValue = serde_json::from_str(r#"{"value":1,"unit":12.5}"#).unwrap();
        let bad = parse_raw::<Quantity>(raw, "valueQuantity").unwrap_err();
        assert!(!bad.problem.contains("12.5"), "{}", bad.problem);
        let raw: &RawValue = serde_json::from_str(r#"{"value":1,"comparator":"~"}"#).unwrap();
        let bad = parse_raw::<Quantity>(raw, "valueQuantity").unwrap_err();
        assert!(bad.problem.starts_with("unknown variant `~`"), "{}", bad.problem);
    }
}
