//! Message framing: plain resource, Bundle (entries in order, DELETE entries,
//! `urn:uuid:` resolution) and HAPI FHIR `ResourceDeliveryMessage` envelopes.

use crate::bundle_index::BundleIndex;
use crate::codes::Terminology;
use crate::json::{parse_object, Entry, Obj, Payload, F};
use crate::reject::{echo, RejectReason};
use crate::resources;
use crate::storable;
use crate::types::{is_resource_type, is_valid_id, type_and_id_suffix, ResourceType, ID_SHAPE};
use crate::{Change, Decoded, Rejection};
use islet_guideline::Instant;

/// How a message is read: the terminology with the site mapping, and when
/// the message was received (to tell an implausible future time), if known.
pub(crate) struct Reading<'t> {
    pub(crate) term: &'t Terminology,
    pub(crate) received_at: Option<Instant>,
}

/// Decode one message into `out`.
pub(crate) fn message(reading: &Reading<'_>, bytes: &[u8], out: &mut Decoded) {
    if let Err(r) = storable::check_depth(bytes) {
        return reject(out, None, None, r);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => top(reading, text, out),
        Err(e) => reject(
            out,
            None,
            None,
            RejectReason::InvalidJson { detail: format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()) },
        ),
    }
}

fn reject(out: &mut Decoded, entry: Option<usize>, resource: Option<String>, reason: RejectReason) {
    out.rejections.push(Rejection { entry, resource, reason });
}

fn top(reading: &Reading<'_>, text: &str, out: &mut Decoded) {
    let obj = match parse_object(text) {
        Ok(o) => o,
        Err(r) => return reject(out, None, None, r),
    };
    if obj.resource_type.is_some() {
        resource_or_bundle(reading, &obj, text, out);
    } else if obj.is_envelope() {
        envelope(reading, &obj, text, out);
    } else {
        reject(out, None, None, RejectReason::NoResourceType);
    }
}

fn resource_or_bundle(reading: &Reading<'_>, obj: &Obj<'_>, text: &str, out: &mut Decoded) {
    match resource_type(obj) {
        Ok("Bundle") => bundle(reading, obj, out),
        Ok(rt) => single(reading, rt, obj, text, None, None, out),
        Err(r) => reject(out, None, None, r),
    }
}

/// `resourceType`, checked against the FHIR R4 list.
fn resource_type<'o>(obj: &'o Obj<'_>) -> Result<&'o str, RejectReason> {
    let rt: &str = obj.resource_type.as_deref().ok_or(RejectReason::NoResourceType)?;
    if is_resource_type(rt) {
        Ok(rt)
    } else {
        Err(RejectReason::UnknownResourceType { found: echo(rt) })
    }
}

/// `Type/id` of a resource, when both are there (for rejections).
fn reference_of(obj: &Obj<'_>) -> Option<String> {
    Some(format!("{}/{}", echo(obj.resource_type.as_deref()?), echo(obj.id.as_deref()?)))
}

/// One resource (top level, Bundle entry or envelope payload) of a known type.
fn single(
    reading: &Reading<'_>,
    rt: &str,
    obj: &Obj<'_>,
    raw: &str,
    bundle: Option<&BundleIndex<'_>>,
    entry: Option<usize>,
    out: &mut Decoded,
) {
    if rt == "Bundle" {
        return reject(out, entry, reference_of(obj), RejectReason::NestedBundle);
    }
    let Some(supported) = ResourceType::parse(rt) else {
        let id = obj.id.as_deref().map(str::to_owned);
        out.changes.push(Change::Skipped { resource_type: rt.to_owned(), id });
        return;
    };
    match resources::decode(reading.term, reading.received_at, supported, obj, raw, bundle) {
        Ok(version) => out.changes.push(Change::Upsert(version)),
        Err((id, reason)) => {
            let resource = id.map(|id| format!("{rt}/{}", echo(&id)));
            reject(out, entry, resource, reason)
        }
    }
}

const BUNDLE_TYPES: [&str; 6] = ["transaction", "batch", "collection", "history", "message", "searchset"];

fn bundle(reading: &Reading<'_>, obj: &Obj<'_>, out: &mut Decoded) {
    let bundle_type = match obj.str(F::Type) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return reject(
                out,
                None,
                None,
                RejectReason::MissingField { resource_type: "Bundle".into(), field: "type" },
            )
        }
        Err(b) => return reject(out, None, None, malformed(b)),
    };
    if !BUNDLE_TYPES.contains(&&*bundle_type) {
        return reject(out, None, None, RejectReason::UnsupportedBundleType { found: echo(&bundle_type) });
    }
    let entries: &[Entry<'_>] = obj.entry.as_deref().unwrap_or(&[]);
    let (index, parse_errors) = BundleIndex::read(entries);
    for (i, (e, parse_error)) in entries.iter().zip(parse_errors).enumerate() {
        if let Some(r) = parse_error {
            reject(out, Some(i), None, r);
            continue;
        }
        let method = e.request.as_ref().and_then(|r| r.method.as_deref());
        match method {
            Some("DELETE") => {
                match delete_entry(e) {
                    Ok(change) => out.changes.push(change),
                    Err(r) => reject(out, Some(i), None, r),
                }
                continue;
            }
            None | Some("POST" | "PUT") => {}
            Some(other) => {
                reject(out, Some(i), None, RejectReason::UnsupportedRequestMethod { method: echo(other) });
                continue;
            }
        }
        let (Some(obj), Some(raw)) = (index.entry(i), e.resource) else {
            reject(out, Some(i), None, RejectReason::EmptyEntry);
            continue;
        };
        let rt = match resource_type(obj) {
            Ok(rt) => rt,
            Err(r) => {
                reject(out, Some(i), None, r);
                continue;
            }
        };
        // The request URL, when given, must name the same resource type.
        if let Some(url) = e.request.as_ref().and_then(|r| r.url.as_deref()) {
            let url_type = url.split(['/', '?']).next().unwrap_or("");
            if !url.contains("://") && is_resource_type(url_type) && url_type != rt {
                let reason = RejectReason::WrongResourceType {
                    context: "Bundle entry request.url",
                    expected: url_type.to_owned(),
                    found: rt.to_owned(),
                };
                reject(out, Some(i), reference_of(obj), reason);
                continue;
            }
        }
        single(reading, rt, obj, raw.get(), Some(&index), Some(i), out);
    }
}

fn malformed(b: crate::json::Bad) -> RejectReason {
    RejectReason::MalformedField { field: b.field, problem: b.problem }
}

/// A `Type/id[/_history/v]` reference (relative or absolute) split into its parts.
struct Target {
    resource_type: String,
    id: String,
    version: Option<String>,
}

fn parse_target(url: &str, field: &'static str) -> Result<Target, RejectReason> {
    if url.contains('?') {
        return Err(RejectReason::BadRequestUrl { field });
    }
    let (path, version) = match url.find("/_history/") {
        Some(i) => (&url[..i], Some(&url[i + "/_history/".len()..])),
        None => (url, None),
    };
    let suffix = type_and_id_suffix(path).ok_or(RejectReason::BadRequestUrl { field })?;
    let (rt, id) = suffix.split_once('/').ok_or(RejectReason::BadRequestUrl { field })?;
    if !is_resource_type(rt) {
        return Err(RejectReason::UnknownResourceType { found: echo(rt) });
    }
    if !is_valid_id(id) || version.is_some_and(|v| !is_valid_id(v)) {
        return Err(RejectReason::BadRequestUrl { field });
    }
    Ok(Target { resource_type: rt.to_owned(), id: id.to_owned(), version: version.map(str::to_owned) })
}

fn delete_change(t: Target, patient: Option<String>) -> Change {
    match ResourceType::parse(&t.resource_type) {
        Some(resource_type) => Change::Delete { resource_type, id: t.id, patient, version_id: t.version },
        None => Change::Skipped { resource_type: t.resource_type, id: Some(t.id) },
    }
}

fn delete_entry(e: &Entry<'_>) -> Result<Change, RejectReason> {
    let url = e
        .request
        .as_ref()
        .and_then(|r| r.url.as_deref())
        .ok_or(RejectReason::BadRequestUrl { field: "request.url" })?;
    let mut target = parse_target(url, "request.url")?;
    if target.version.is_none() {
        // A history Bundle gives the deleted version in response.etag (W/"3").
        target.version = e.response.as_ref().and_then(|r| r.etag.as_deref()).and_then(|etag| {
            let v = etag.strip_prefix("W/").unwrap_or(etag).trim_matches('"');
            is_valid_id(v).then(|| v.to_owned())
        });
    }
    Ok(delete_change(target, None))
}

/// A HAPI FHIR / Smile CDR `ResourceDeliveryMessage`, bare or wrapped in
/// `{"headers": …, "payload": {…}}`.
fn envelope(reading: &Reading<'_>, obj: &Obj<'_>, text: &str, out: &mut Decoded) {
    if obj.operation_type.is_none() {
        if let Some(Payload::Object(inner)) = &obj.payload {
            if inner.operation_type.is_some() {
                return delivery(reading, inner, text, true, out);
            }
        }
    }
    delivery(reading, obj, text, false, out)
}

/// The raw text of an inline resource payload (`"payload": {resource}` instead
/// of HAPI's JSON string): a second, cheap read of the message text.
fn inline_payload(text: &str, wrapped: bool) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        payload: Option<&'a serde_json::value::RawValue>,
    }
    let mut raw = serde_json::from_str::<Outer>(text).ok()?.payload?.get();
    if wrapped {
        raw = serde_json::from_str::<Outer>(raw).ok()?.payload?.get();
    }
    Some(raw)
}

fn delivery(reading: &Reading<'_>, msg: &Obj<'_>, text: &str, wrapped: bool, out: &mut Decoded) {
    let Some(op) = msg.operation_type.as_deref() else {
        return reject(out, None, None, RejectReason::UnknownOperation { found: "(missing)".into() });
    };
    // The payload is the resource as a JSON string (HAPI), or inline as an object.
    let payload: Option<&str> = match &msg.payload {
        None => None,
        Some(Payload::Text(s)) => Some(s),
        Some(Payload::Object(o)) if o.resource_type.is_some() => match inline_payload(text, wrapped) {
            Some(raw) => Some(raw),
            None => return reject(out, None, None, RejectReason::NoResourceType),
        },
        Some(Payload::Object(_)) => return reject(out, None, None, RejectReason::NoResourceType),
        Some(Payload::Other(found)) => {
            let problem = format!("must be the resource as a JSON string, found {found}");
            return reject(out, None, None, RejectReason::MalformedField { field: "payload".into(), problem });
        }
    };
    let payload = payload.filter(|p| !p.trim().is_empty());
    if let (Some(p), Some(Payload::Text(_))) = (payload, &msg.payload) {
        // A payload string is a JSON text of its own, unseen by the message's depth check.
        if let Err(r) = storable::check_depth(p.as_bytes()) {
            return reject(out, None, None, r);
        }
    }
    let target = match msg.payload_id.as_deref().map(|p| parse_target(p, "payloadId")) {
        Some(Ok(t)) => Some(t),
        Some(Err(r)) => return reject(out, None, None, r),
        None => None,
    };
    match op {
        "DELETE" => {
            let from_payload = payload.and_then(|p| {
                let obj = parse_object(p).ok()?;
                let rt = obj.resource_type.as_deref()?;
                let id = obj.id.as_deref()?;
                let patient = ResourceType::parse(rt).and_then(|supported| resources::patient_of(supported, &obj));
                let version = obj.meta.as_ref().and_then(|m| m.version_id.as_deref()).map(str::to_owned);
                Some((rt.to_owned(), id.to_owned(), version, patient))
            });
            let (target, patient) = match (target, from_payload) {
                (Some(t), p) => (t, p.and_then(|p| p.3)),
                (None, Some((rt, id, version, patient))) => {
                    if !is_resource_type(&rt) {
                        return reject(out, None, None, RejectReason::UnknownResourceType { found: echo(&rt) });
                    }
                    // The id and version become keys of the store: FHIR ids only.
                    for (field, value) in [("id", Some(&id)), ("meta.versionId", version.as_ref())] {
                        if value.is_some_and(|v| !is_valid_id(v)) {
                            let reason = RejectReason::MalformedField { field: field.into(), problem: ID_SHAPE.into() };
                            return reject(out, None, None, reason);
                        }
                    }
                    (Target { resource_type: rt, id, version }, patient)
                }
                (None, None) => {
                    let reason = RejectReason::NoPayload { operation: "DELETE without payloadId".into() };
                    return reject(out, None, None, reason);
                }
            };
            out.changes.push(delete_change(target, patient));
        }
        "CREATE" | "UPDATE" | "MANUALLY_TRIGGERED" | "TRANSACTION" => {
            let Some(payload) = payload else {
                return reject(out, None, None, RejectReason::NoPayload { operation: op.to_owned() });
            };
            let obj = match parse_object(payload) {
                Ok(o) => o,
                Err(RejectReason::NotAnObject { found: "XML" }) => {
                    return reject(out, None, None, RejectReason::UnsupportedPayloadEncoding)
                }
                Err(r) => return reject(out, None, None, r),
            };
            let Some(rt) = obj.resource_type.as_deref() else {
                return reject(out, None, None, RejectReason::NoResourceType);
            };
            if let Some(t) = &target {
                // The payload must be the resource the envelope names.
                if rt != "Bundle" && rt != t.resource_type {
                    let reason = RejectReason::WrongResourceType {
                        context: "envelope payload (payloadId)",
                        expected: t.resource_type.clone(),
                        found: echo(rt),
                    };
                    return reject(out, None, Some(format!("{}/{}", t.resource_type, t.id)), reason);
                }
                if rt != "Bundle" && obj.id.as_deref().is_some_and(|id| id != t.id) {
                    let reason = RejectReason::IdMismatch {
                        payload_id: format!("{}/{}", t.resource_type, t.id),
                        resource: format!("{rt}/{}", echo(obj.id.as_deref().unwrap_or(""))),
                    };
                    return reject(out, None, None, reason);
                }
            }
            resource_or_bundle(reading, &obj, payload, out);
        }
        other => reject(out, None, None, RejectReason::UnknownOperation { found: echo(other) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target("http://x/fhir/Observation/o1/_history/3", "payloadId").ok().unwrap();
        assert_eq!((t.resource_type.as_str(), t.id.as_str()), ("Observation", "o1"));
        assert_eq!(t.version.as_deref(), Some("3"));
        assert!(parse_target("Observation?code=1", "request.url").is_err());
        assert!(parse_target("Observation", "request.url").is_err());
        assert!(matches!(parse_target("Observatoin/1", "request.url"), Err(RejectReason::UnknownResourceType { .. })));
    }
}
