//! Why a message, or one entry of it, cannot be used.
//!
//! Texts name elements, codes and resource types, never patient names or
//! measured values: they end up in logs and on the dead-letter topic.

/// The reason for a [`crate::Rejection`]. [`RejectReason::code`] is a stable
/// kebab-case identifier for dashboards and tests; the `Display` text is for people.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    #[error("not valid JSON: {detail}")]
    InvalidJson { detail: String },
    #[error("a message must be a JSON object (a FHIR resource, a Bundle or a delivery envelope), found {found}")]
    NotAnObject { found: &'static str },
    #[error("the object has no `resourceType` and is not a ResourceDeliveryMessage envelope")]
    NoResourceType,
    #[error("`{found}` is not a FHIR R4 resource type")]
    UnknownResourceType { found: String },
    #[error("{context}: expected {expected}, found {found}")]
    WrongResourceType { context: &'static str, expected: String, found: String },
    #[error("the {resource_type} has no `id`; Islet needs the server-assigned id to track versions")]
    NoId { resource_type: String },
    #[error("the {resource_type} has no `status`")]
    MissingStatus { resource_type: String },
    #[error("the {resource_type} has no `code`")]
    MissingCode { resource_type: String },
    #[error("the {resource_type} has no `{field}`")]
    MissingField { resource_type: String, field: &'static str },
    #[error("`{field}` has the code `{found}`, which FHIR R4 does not define there")]
    UnknownStatus { field: &'static str, found: String },
    #[error("malformed value `{field}`: {problem}")]
    MalformedValue { field: String, problem: String },
    #[error("malformed element `{field}`: {problem}")]
    MalformedField { field: String, problem: String },
    #[error("`{path}` carries the modifier extension {url}, which Islet cannot interpret (it may change the meaning of the resource)")]
    UnsupportedModifierExtension { path: String, url: String },
    #[error("no patient: {detail}")]
    NoPatient { detail: &'static str },
    #[error("`{field}` refers to a {found}, not a Patient")]
    SubjectNotPatient { field: &'static str, found: String },
    #[error("`{field}` refers to {reference}, which is not in this message")]
    UnresolvedReference { field: String, reference: String },
    #[error("the {resource_type} carries facts but has no clinical time ({looked_at})")]
    NoClinicalTime { resource_type: String, looked_at: &'static str },
    #[error("Bundle type `{found}` is not accepted (transaction, batch, collection, history, message, searchset, document, subscription-notification)")]
    UnsupportedBundleType { found: String },
    #[error("Bundles are nested more than {limit} deep (a Bundle in an entry of a Bundle in an entry …)")]
    BundleTooDeep { limit: usize },
    #[error("the subscription notification carries no resources (its content is `{content}`); Islet cannot read them back from the server")]
    NotificationWithoutContent { content: &'static str },
    #[error("the Bundle entry has no resource and is not a DELETE")]
    EmptyEntry,
    #[error("Bundle entry request method `{method}` is not accepted (only the resource itself, or DELETE)")]
    UnsupportedRequestMethod { method: String },
    #[error("`{field}` must be `Type/id` (a conditional or search URL is not accepted)")]
    BadRequestUrl { field: &'static str },
    #[error("envelope `operationType` {found} is not one of CREATE, UPDATE, DELETE, MANUALLY_TRIGGERED, TRANSACTION")]
    UnknownOperation { found: String },
    #[error("the envelope has no `payload` for a {operation}")]
    NoPayload { operation: String },
    #[error("the envelope payload is not JSON (XML and other encodings are not accepted)")]
    UnsupportedPayloadEncoding,
    #[error("the envelope `payloadId` names {payload_id} but the payload is {resource}")]
    IdMismatch { payload_id: String, resource: String },
    #[error("`{path}` contains a control character (U+0000–U+001F other than tab, line feed and carriage return): FHIR forbids them in strings and PostgreSQL cannot store U+0000")]
    ControlCharacter { path: String },
    #[error("the message nests elements more than {limit} levels deep")]
    TooDeep { limit: usize },
}

impl RejectReason {
    /// A stable, kebab-case identifier of the reason.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::InvalidJson { .. } => "invalid-json",
            RejectReason::NotAnObject { .. } => "not-an-object",
            RejectReason::NoResourceType => "no-resource-type",
            RejectReason::UnknownResourceType { .. } => "unknown-resource-type",
            RejectReason::WrongResourceType { .. } => "wrong-resource-type",
            RejectReason::NoId { .. } => "no-id",
            RejectReason::MissingStatus { .. } => "missing-status",
            RejectReason::MissingCode { .. } => "missing-code",
            RejectReason::MissingField { .. } => "missing-field",
            RejectReason::UnknownStatus { .. } => "unknown-status",
            RejectReason::MalformedValue { .. } => "malformed-value",
            RejectReason::MalformedField { .. } => "malformed-field",
            RejectReason::UnsupportedModifierExtension { .. } => "unsupported-modifier-extension",
            RejectReason::NoPatient { .. } => "no-patient",
            RejectReason::SubjectNotPatient { .. } => "subject-not-patient",
            RejectReason::UnresolvedReference { .. } => "unresolved-reference",
            RejectReason::NoClinicalTime { .. } => "no-clinical-time",
            RejectReason::UnsupportedBundleType { .. } => "unsupported-bundle-type",
            RejectReason::BundleTooDeep { .. } => "bundle-too-deep",
            RejectReason::NotificationWithoutContent { .. } => "notification-without-content",
            RejectReason::EmptyEntry => "empty-entry",
            RejectReason::UnsupportedRequestMethod { .. } => "unsupported-request-method",
            RejectReason::BadRequestUrl { .. } => "bad-request-url",
            RejectReason::UnknownOperation { .. } => "unknown-operation",
            RejectReason::NoPayload { .. } => "no-payload",
            RejectReason::UnsupportedPayloadEncoding => "unsupported-payload-encoding",
            RejectReason::IdMismatch { .. } => "id-mismatch",
            RejectReason::ControlCharacter { .. } => "control-character",
            RejectReason::TooDeep { .. } => "too-deep",
        }
    }
}

/// A text taken from the input (a code, a type name) made fit for a reason:
/// capped in length, control characters replaced by U+FFFD (a reason ends up
/// in logs, Kafka headers and PostgreSQL, which cannot store U+0000).
pub(crate) fn echo(s: &str) -> String {
    const MAX: usize = 64;
    let mut t: String =
        s.chars().take(MAX).map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c }).collect();
    if s.chars().nth(MAX).is_some() {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::echo;

    #[test]
    fn echo_caps_and_removes_control_characters() {
        assert_eq!(echo("final"), "final");
        assert_eq!(echo("fin\0al\u{1b}\u{85}"), "fin\u{fffd}al\u{fffd}\u{fffd}");
        assert_eq!(echo(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(echo(&"é".repeat(65)), format!("{}…", "é".repeat(64)));
    }
}
