//! Message framing: plain resource, Bundle (entries in order, DELETE entries,
//! `urn:uuid:` resolution, Bundles inside entries, subscription
//! notifications) and HAPI FHIR / Smile CDR `ResourceDeliveryMessage` and
//! `ResourceModifiedMessage` envelopes.

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
        resource_or_bundle(reading, &obj, text, Place::TOP, out);
    } else if obj.is_envelope() {
        envelope(reading, &obj, text, out);
    } else {
        reject(out, None, None, RejectReason::NoResourceType);
    }
}

/// Where a resource or Bundle sits in its message.
#[derive(Debug, Clone, Copy)]
struct Place {
    /// The entry of the top-level Bundle it is in or under (rejections name
    /// that entry: it is what a dead letter carries).
    entry: Option<usize>,
    /// How many Bundles it is inside.
    bundles: usize,
}

impl Place {
    const TOP: Place = Place { entry: None, bundles: 0 };
}

/// How deeply Bundles may nest (contract.md v2: a Bundle inside an entry is
/// read like a top-level message, depth ≤ 4).
const MAX_BUNDLE_DEPTH: usize = 4;

fn resource_or_bundle(reading: &Reading<'_>, obj: &Obj<'_>, text: &str, place: Place, out: &mut Decoded) {
    match resource_type(obj) {
        Ok("Bundle") => bundle(reading, obj, place, out),
        Ok(rt) => single(reading, rt, obj, text, None, place.entry, out),
        Err(r) => reject(out, place.entry, None, r),
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
    Some(format!("{}/{}", echo(obj.resource_type.as_deref()?), echo(&obj.id()?)))
}

/// A resource Islet does not use, counted; its id only when it is a FHIR id.
fn skipped(resource_type: &str, obj: &Obj<'_>) -> Change {
    let id = obj.id().filter(|id| is_valid_id(id)).map(|id| id.to_string());
    Change::Skipped { resource_type: resource_type.to_owned(), id }
}

/// One resource (top level, Bundle entry or envelope payload) of a known type
/// other than Bundle.
fn single(
    reading: &Reading<'_>,
    rt: &str,
    obj: &Obj<'_>,
    raw: &str,
    bundle: Option<&BundleIndex<'_>>,
    entry: Option<usize>,
    out: &mut Decoded,
) {
    if rt == "Medication" {
        return match resources::medication(reading.term, obj, raw) {
            Ok(shared) => out.changes.push(Change::Shared(shared)),
            Err((id, reason)) => reject(out, entry, id.map(|id| format!("Medication/{}", echo(&id))), reason),
        };
    }
    let Some(supported) = ResourceType::parse(rt) else {
        return out.changes.push(skipped(rt, obj));
    };
    match resources::decode(reading.term, reading.received_at, supported, obj, raw, bundle) {
        Ok(resources::Decoded::Used(version)) => out.changes.push(Change::Upsert(version)),
        Ok(resources::Decoded::Unused(version)) => out.changes.push(Change::Unused(version)),
        Ok(resources::Decoded::Skipped) => out.changes.push(skipped(rt, obj)),
        Err((id, reason)) => {
            let resource = id.map(|id| format!("{rt}/{}", echo(&id)));
            reject(out, entry, resource, reason)
        }
    }
}

const BUNDLE_TYPES: [&str; 8] =
    ["transaction", "batch", "collection", "history", "message", "searchset", "document", "subscription-notification"];

/// A server's answer to a transaction or batch: it repeats what was sent
/// (or only outcomes), so it changes nothing.
const RESPONSE_TYPES: [&str; 2] = ["transaction-response", "batch-response"];

fn bundle(reading: &Reading<'_>, obj: &Obj<'_>, place: Place, out: &mut Decoded) {
    if place.bundles >= MAX_BUNDLE_DEPTH {
        let reason = RejectReason::BundleTooDeep { limit: MAX_BUNDLE_DEPTH };
        return reject(out, place.entry, reference_of(obj), reason);
    }
    let bundle_type = match obj.str(F::Type) {
        Ok(Some(t)) => t,
        Ok(None) => {
            let reason = RejectReason::MissingField { resource_type: "Bundle".into(), field: "type" };
            return reject(out, place.entry, None, reason);
        }
        Err(b) => return reject(out, place.entry, None, malformed(b)),
    };
    if RESPONSE_TYPES.contains(&&*bundle_type) {
        return out.changes.push(skipped("Bundle", obj));
    }
    if !BUNDLE_TYPES.contains(&&*bundle_type) {
        return reject(out, place.entry, None, RejectReason::UnsupportedBundleType { found: echo(&bundle_type) });
    }
    let entries: &[Entry<'_>] = obj.entry.as_deref().unwrap_or(&[]);
    let (index, parse_errors) = BundleIndex::read(entries);
    // R4 / R4B carry topic-based notifications as `history` Bundles whose
    // first entry is the backport status `Parameters` (Subscriptions Backport IG).
    let backport = &*bundle_type == "history" && index.entry(0).is_some_and(is_backport_status);
    if &*bundle_type == "subscription-notification" || backport {
        match notification(&index, entries) {
            Notification::Events => {}
            Notification::NoEvents => return out.changes.push(skipped("Bundle", obj)),
            Notification::WithoutContent(content) => {
                return reject(out, place.entry, None, RejectReason::NotificationWithoutContent { content })
            }
        }
    }
    let inner = Place { entry: None, bundles: place.bundles + 1 };
    for (i, (e, parse_error)) in entries.iter().zip(parse_errors).enumerate() {
        // Rejections name the entry of the top-level Bundle.
        let at = Some(place.entry.unwrap_or(i));
        let request = e.request.as_ref();
        let method = request.and_then(|r| r.method.as_deref());
        let url = request.and_then(|r| r.url.as_deref());
        // Entries that change nothing are skipped quietly (contract.md v2):
        // reads, and operation calls (`ValueSet/$lookup`, `$everything` …).
        if matches!(method, Some("GET" | "HEAD")) || url.is_some_and(|u| u.contains('$')) {
            continue;
        }
        if is_delete(e) {
            match delete_entry(e) {
                Ok(change) => out.changes.push(change),
                Err(r) => reject(out, at, None, r),
            }
            continue;
        }
        if let Some(other) = method.filter(|m| !matches!(*m, "POST" | "PUT")) {
            reject(out, at, None, RejectReason::UnsupportedRequestMethod { method: echo(other) });
            continue;
        }
        if let Some(r) = parse_error {
            reject(out, at, None, r);
            continue;
        }
        let (Some(obj), Some(raw)) = (index.entry(i), e.resource) else {
            reject(out, at, None, RejectReason::EmptyEntry);
            continue;
        };
        let rt = match resource_type(obj) {
            Ok(rt) => rt,
            Err(r) => {
                reject(out, at, None, r);
                continue;
            }
        };
        // The request URL, when given, must name the type of a resource Islet
        // keeps (one it does not use is skipped whatever the URL says).
        let kept = rt == "Bundle" || rt == "Medication" || ResourceType::parse(rt).is_some();
        if let Some(url_type) = url.and_then(url_resource_type).filter(|_| kept) {
            if url_type != rt {
                let reason = RejectReason::WrongResourceType {
                    context: "Bundle entry request.url",
                    expected: url_type.to_owned(),
                    found: rt.to_owned(),
                };
                reject(out, at, reference_of(obj), reason);
                continue;
            }
        }
        if rt == "Bundle" {
            let place = Place { entry: at, ..inner };
            bundle(reading, obj, place, out);
        } else {
            single(reading, rt, obj, raw.get(), Some(&index), at, out);
        }
    }
}

/// What a topic-based subscription notification carries.
enum Notification {
    /// Events with their resources: read the entries.
    Events,
    /// A handshake, a heartbeat or a status query: no events, nothing to do.
    NoEvents,
    /// Events without their resources (`empty` or `id-only` content).
    WithoutContent(&'static str),
}

/// One `Parameters.parameter` of an R4 backport notification status.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parameter<'a> {
    #[serde(borrow)]
    name: Option<crate::json::Str<'a>>,
    #[serde(borrow)]
    value_code: Option<crate::json::Str<'a>>,
}

/// Reads the status entry (the first: R4 backport `Parameters`, R4B/R5
/// `SubscriptionStatus`) and whether the other entries carry resources.
fn notification(index: &BundleIndex<'_>, entries: &[Entry<'_>]) -> Notification {
    let status =
        index.entry(0).filter(|o| matches!(o.resource_type.as_deref(), Some("Parameters" | "SubscriptionStatus")));
    let kind =
        status.and_then(|o| match o.resource_type.as_deref() {
            Some("SubscriptionStatus") => o.str(F::Type).ok().flatten().map(|t| t.to_string()),
            _ => o.list::<Parameter<'_>>(F::Parameter).ok()?.into_iter().find_map(|p| {
                (p.name.as_deref() == Some("type")).then(|| p.value_code.map(|c| c.to_string())).flatten()
            }),
        });
    if matches!(kind.as_deref(), Some("handshake" | "heartbeat" | "query-status")) {
        return Notification::NoEvents;
    }
    let events = &entries[usize::from(status.is_some())..];
    if events.is_empty() {
        Notification::WithoutContent("empty")
    } else if events.iter().all(|e| e.resource.is_none() && !is_delete(e)) {
        Notification::WithoutContent("id-only")
    } else {
        Notification::Events
    }
}

/// The notification status of the R4 Subscriptions Backport: a `Parameters`
/// with a `type` parameter naming a notification type.
fn is_backport_status(o: &Obj<'_>) -> bool {
    o.resource_type.as_deref() == Some("Parameters")
        && o.list::<Parameter<'_>>(F::Parameter).is_ok_and(|ps| {
            ps.iter().any(|p| {
                p.name.as_deref() == Some("type")
                    && matches!(
                        p.value_code.as_deref(),
                        Some("handshake" | "heartbeat" | "event-notification" | "query-status" | "query-event")
                    )
            })
        })
}

fn is_delete(e: &Entry<'_>) -> bool {
    e.request.as_ref().and_then(|r| r.method.as_deref()) == Some("DELETE")
}

/// The resource type a request URL names (`Observation`, `Observation/1`,
/// `Observation?code=…`, an absolute URL), when it names one.
fn url_resource_type(url: &str) -> Option<&str> {
    let path = url.split('?').next().unwrap_or("");
    let path = path.find("/_history/").map_or(path, |i| &path[..i]).trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let last = segments.next()?;
    if is_resource_type(last) {
        return Some(last);
    }
    segments.next().filter(|s| is_resource_type(s))
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
    let mut target = match parse_target(url, "request.url") {
        Ok(t) => t,
        // Deleting a resource of a type Islet does not keep changes nothing,
        // whatever the URL's shape (a conditional delete of Encounters …).
        Err(r) => match url_resource_type(url).filter(|rt| ResourceType::parse(rt).is_none()) {
            Some(rt) => return Ok(Change::Skipped { resource_type: rt.to_owned(), id: None }),
            None => return Err(r),
        },
    };
    if target.version.is_none() {
        // A history Bundle gives the deleted version in response.etag (W/"3").
        target.version = e.response.as_ref().and_then(|r| r.etag.as_deref()).and_then(|etag| {
            let v = etag.strip_prefix("W/").unwrap_or(etag).trim_matches('"');
            is_valid_id(v).then(|| v.to_owned())
        });
    }
    Ok(delete_change(target, None))
}

/// A HAPI FHIR / Smile CDR `ResourceDeliveryMessage` or
/// `ResourceModifiedMessage`, bare or wrapped in `{"headers": …, "payload": {…}}`.
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

/// The resource an envelope names: `payloadId` (a ResourceDeliveryMessage,
/// or a current ResourceModifiedMessage), else `resourceId` (what older HAPI
/// versions call it in a ResourceModifiedMessage); `/_history/N` in it or
/// `payloadVersion` gives the version.
fn envelope_target(msg: &Obj<'_>) -> Result<Option<Target>, RejectReason> {
    let resource_id = msg.str(F::ResourceId).map_err(malformed)?;
    let (named, field) = match (msg.payload_id.as_deref(), resource_id.as_deref()) {
        (Some(p), _) => (p, "payloadId"),
        (None, Some(r)) => (r, "resourceId"),
        (None, None) => return Ok(None),
    };
    let mut target = parse_target(named, field)?;
    if let Some(version) = msg.str(F::PayloadVersion).map_err(malformed)? {
        if !is_valid_id(&version) {
            return Err(RejectReason::MalformedField { field: "payloadVersion".into(), problem: ID_SHAPE.into() });
        }
        if target.version.as_deref().is_some_and(|v| v != &*version) {
            return Err(RejectReason::IdMismatch {
                payload_id: format!("{field} {}", echo(named)),
                resource: format!("payloadVersion {}", &*version),
            });
        }
        target.version = Some(version.to_string());
    }
    Ok(Some(target))
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
    let target = match envelope_target(msg) {
        Ok(t) => t,
        Err(r) => return reject(out, None, None, r),
    };
    match op {
        "DELETE" => {
            let from_payload = payload.and_then(|p| {
                let obj = parse_object(p).ok()?;
                let rt = obj.resource_type.as_deref()?.to_owned();
                let id = obj.id()?.to_string();
                let patient = ResourceType::parse(&rt).and_then(|supported| resources::patient_of(supported, &obj));
                let version = obj.meta().ok().flatten().and_then(|m| m.version_id).map(|v| v.to_string());
                Some((rt, id, version, patient))
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
            let mut version = None;
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
                if rt != "Bundle" {
                    let id = obj.id();
                    if id.as_deref().is_some_and(|id| id != t.id) {
                        let reason = RejectReason::IdMismatch {
                            payload_id: format!("{}/{}", t.resource_type, t.id),
                            resource: format!("{rt}/{}", echo(id.as_deref().unwrap_or(""))),
                        };
                        return reject(out, None, None, reason);
                    }
                    let own = obj.meta().ok().flatten().and_then(|m| m.version_id).map(|v| v.to_string());
                    if let (Some(named), Some(own)) = (&t.version, &own) {
                        if named != own {
                            let reason = RejectReason::IdMismatch {
                                payload_id: format!("{}/{}/_history/{named}", t.resource_type, t.id),
                                resource: format!("{rt}/{}/_history/{}", t.id, echo(own)),
                            };
                            return reject(out, None, None, reason);
                        }
                    }
                    version = t.version.clone();
                }
            }
            let first = out.changes.len();
            resource_or_bundle(reading, &obj, payload, Place::TOP, out);
            // The envelope versions a payload without `meta.versionId`.
            if let Some(version) = version {
                for change in &mut out.changes[first..] {
                    match change {
                        Change::Upsert(v) if v.version_id.is_none() => v.version_id = Some(version.clone()),
                        Change::Shared(v) if v.version_id.is_none() => v.version_id = Some(version.clone()),
                        _ => {}
                    }
                }
            }
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

    #[test]
    fn url_resource_types() {
        assert_eq!(url_resource_type("Patient"), Some("Patient"));
        assert_eq!(url_resource_type("Patient/1"), Some("Patient"));
        assert_eq!(url_resource_type("/Patient/1/_history/2"), Some("Patient"));
        assert_eq!(url_resource_type("Encounter?patient=1"), Some("Encounter"));
        assert_eq!(url_resource_type("http://x.org/fhir/Observation/o1"), Some("Observation"));
        assert_eq!(url_resource_type("http://x.org/fhir/"), None);
        assert_eq!(url_resource_type("urn:uuid:1"), None);
    }
}
