//! What PostgreSQL cannot store is refused here, while decoding, so that
//! `islet check`, in-memory replay and a PostgreSQL load agree on every line
//! (a line the store refuses would fail its transaction on every retry).
//!
//! Measured with psql against PostgreSQL 15 with default settings:
//! - `SELECT '{"a":"\u0000"}'::jsonb` fails ("unsupported Unicode escape
//!   sequence: \u0000 cannot be converted to text"); `::json` accepts it (json
//!   keeps the text) but `->>` on it fails the same way; a text value with
//!   `chr(0)` fails ("null character not permitted"). Other escaped control
//!   characters (`\u0001`) are accepted by both json and jsonb. Islet stores
//!   ids and references as text, and the facts and alerts it derives (which
//!   quote units and codes) as json and jsonb, so a NUL anywhere Islet reads
//!   breaks a transaction. FHIR forbids every character below U+0020 but tab,
//!   line feed and carriage return in strings, so all of them are refused.
//! - Nesting: json and jsonb accept 14,000 nested arrays and fail at 16,000
//!   with "stack depth limit exceeded" (`max_stack_depth` = 2 MB), while
//!   serde_json skips an unknown element of any depth without complaint.
//!   See [`MAX_DEPTH`].

use crate::reject::RejectReason;
use crate::walk;

/// How deeply a message may nest objects and arrays (the message object
/// itself is level 1).
///
/// The deepest message in the external corpus (`shared/fhir-corpus`, 8,727
/// messages: HL7's R4 examples, the FHIR validator test cases, Synthea, mCODE
/// fixtures, HAPI envelopes) nests 21 levels: a QuestionnaireResponse's
/// nested items (`QuestionnaireResponse-ussg-fht-answers`); the next is a
/// Bundle holding a Questionnaire (16), Synthea's patient Bundles nest 11,
/// Islet's recorded scenarios 7. 64 leaves three times the deepest, and is
/// far below what PostgreSQL accepts
/// (about 15,000) and below serde_json's limit for a parsed value (128, which
/// the slow-path searches in `walk.rs` rely on).
pub(crate) const MAX_DEPTH: usize = 64;

/// Refuse a JSON text nested deeper than [`MAX_DEPTH`]. A byte scan without
/// recursion (valid or not, the text is not parsed), done before any other
/// work; brackets inside strings do not count.
pub(crate) fn check_depth(text: &[u8]) -> Result<(), RejectReason> {
    // Fast path: a text with few brackets cannot nest deeply. `b | 0x20`
    // maps `[` onto `{` and nothing else onto it; counting in u8 lanes per
    // 255-byte chunk lets the compiler vectorise it.
    let openers: usize =
        text.chunks(255).map(|chunk| usize::from(chunk.iter().fold(0u8, |n, &b| n + u8::from(b | 0x20 == b'{')))).sum();
    if openers <= MAX_DEPTH {
        return Ok(());
    }
    // Strings are most of a message: jump from quote to quote (and over
    // escapes) and count brackets only in the short stretches between.
    let mut depth = 0usize;
    let mut count = |stretch: &[u8]| {
        for &b in stretch {
            match b {
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(RejectReason::TooDeep { limit: MAX_DEPTH });
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    };
    let mut in_string = false;
    let mut outside_from = 0;
    let mut escaped = None;
    for at in memchr::memchr2_iter(b'"', b'\\', text) {
        if escaped == Some(at) {
            continue;
        }
        match (in_string, text[at]) {
            (true, b'\\') => escaped = Some(at + 1),
            (true, _) => {
                in_string = false;
                outside_from = at + 1;
            }
            (false, b'"') => {
                count(&text[outside_from..at])?;
                in_string = true;
            }
            (false, _) => {} // a backslash outside a string: not JSON, and not depth
        }
    }
    if !in_string {
        count(&text[outside_from..])?;
    }
    Ok(())
}

/// The path of the first string or element name of a resource that holds a
/// control character FHIR forbids (U+0000–U+001F except tab, LF, CR).
pub(crate) fn find_control_character(raw: &str) -> Option<String> {
    // A JSON text cannot hold such a character unescaped (serde_json refuses
    // it), so the slow walk is needed only when an escape that can write one
    // is there: `\u00XX`, `\b`, `\f`. `\\u0000` (an escaped backslash) makes
    // the walk run but is, correctly, not found.
    let escapes = &raw[raw.find('\\')?..];
    if !(escapes.contains("\\u00") || escapes.contains("\\b") || escapes.contains("\\f")) {
        return None;
    }
    let forbidden = |s: &str| s.chars().any(|c| c < ' ' && !matches!(c, '\t' | '\n' | '\r'));
    walk::find(raw, |name, value| (name.is_some_and(forbidden) || value.as_str().is_some_and(forbidden)).then_some(()))
        .map(|(path, ())| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_arrays_and_objects_but_not_strings() {
        assert!(check_depth(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(check_depth(nested(MAX_DEPTH + 1).as_bytes()), Err(RejectReason::TooDeep { limit: MAX_DEPTH }));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(check_depth(objects.as_bytes()).is_err());
        // Many brackets side by side, or inside strings (escaped quotes too), are not depth.
        let wide = format!("[{}1]", "[],".repeat(1000));
        assert!(check_depth(wide.as_bytes()).is_ok());
        let quoted = format!(r#"{{"a":"\"{}"}}"#, "[".repeat(1000));
        assert!(check_depth(quoted.as_bytes()).is_ok());
        // An escaped backslash ends before the quote: what follows is outside the string.
        let after_backslash = format!(r#"{{"a":"\\","b":{}}}"#, nested(MAX_DEPTH));
        assert!(check_depth(after_backslash.as_bytes()).is_err());
        let after_quote = format!(r#"{{"a":"\"","b":{},"c":{wide}}}"#, nested(MAX_DEPTH - 1));
        assert!(check_depth(after_quote.as_bytes()).is_ok());
        // Broken text is scanned all the same, without panicking.
        assert!(check_depth(b"\"\\").is_ok());
        for end in ["\"\\", "\"", "\"\\\"", "\"a\\"] {
            assert!(check_depth(format!("{}{end}", "[]".repeat(100)).as_bytes()).is_ok(), "{end}");
        }
        assert!(check_depth("[".repeat(MAX_DEPTH + 1).as_bytes()).is_err());
    }

    #[test]
    fn control_characters_are_found_with_their_path() {
        assert_eq!(find_control_character(r#"{"a":[{"b":"x\u0000"}]}"#).as_deref(), Some("a[0].b"));
        assert_eq!(find_control_character(r#"{"a":"\f"}"#).as_deref(), Some("a"));
        assert_eq!(find_control_character(r#"{"a":{"x\u001f":1}}"#).as_deref(), Some("a.x\u{fffd}"));
        assert_eq!(find_control_character(r#"{"a":"\\u0000 \t\n\r\u00e9"}"#), None);
        assert_eq!(find_control_character(r#"{"a":"\\b"}"#), None);
        assert_eq!(find_control_character(r#"{"a":"plain"}"#), None);
    }
}
