//! The content identity of a resource version (contract.md v2, "Content
//! identical to the stored copy … is a duplicate"; "the content with the
//! larger SHA-256 of its canonical JSON wins").
//!
//! Canonical JSON here: the resource without its top-level `meta` (transport
//! metadata: `versionId` and `lastUpdated` are compared on their own, and a
//! bulk export or a Synthea file resends the same content with other or no
//! `meta`), object members sorted by the UTF-8 bytes of their (unescaped)
//! names, no insignificant whitespace, strings with serde_json's minimal
//! escaping, and numbers exactly as written (FHIR decimals carry their
//! precision: `1.0` and `1` are different values). Two messages that differ
//! only in member order, whitespace, string escapes or `meta` have the same
//! hash.
//!
//! One pass over the text with no tree built: every resource version is
//! hashed, so this is on the hot path (a `serde_json::Value` round trip cost
//! more than the whole rest of decoding).

use sha2::{Digest, Sha256};

/// SHA-256 of the canonical JSON of `raw` (a resource). Text that is not
/// JSON hashes as its bytes (the decoder has rejected it already; a hash is
/// still a total order).
pub fn content_sha256(raw: &str) -> [u8; 32] {
    BUFFERS.with(|pool| {
        let mut pool = pool.take();
        let mut out = pool.pop().unwrap_or_default();
        out.clear();
        let mut p = Canon { raw, s: raw.as_bytes(), i: 0, pool, lists: Vec::new() };
        let ok = p.value(&mut out, true).is_some() && {
            p.ws();
            p.i == p.s.len()
        };
        let digest = Sha256::digest(if ok { &out[..] } else { raw.as_bytes() }).into();
        p.pool.push(out);
        BUFFERS.set(p.pool);
        digest
    })
}

thread_local! {
    /// Scratch buffers reused across calls (one per object nesting level in use).
    static BUFFERS: std::cell::Cell<Vec<Vec<u8>>> = const { std::cell::Cell::new(Vec::new()) };
}

type Members<'a> = Vec<(std::borrow::Cow<'a, str>, std::ops::Range<usize>)>;

struct Canon<'a> {
    raw: &'a str,
    s: &'a [u8],
    i: usize,
    pool: Vec<Vec<u8>>,
    /// Member lists reused within one call (they borrow the text).
    lists: Vec<Members<'a>>,
}

impl<'a> Canon<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// One value, appended canonically to `out`. `top`: the resource itself
    /// (its `meta` member is left out).
    fn value(&mut self, out: &mut Vec<u8>, top: bool) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'{' => self.object(out, top),
            b'[' => self.array(out),
            b'"' => {
                let s = self.string()?;
                write_str(&s, matches!(s, std::borrow::Cow::Borrowed(_)), out);
                Some(())
            }
            b't' => self.literal(b"true", out),
            b'f' => self.literal(b"false", out),
            b'n' => self.literal(b"null", out),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.i += 1;
                }
                out.extend_from_slice(&self.s[start..self.i]);
                Some(())
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Option<()> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            out.extend_from_slice(word);
            Some(())
        } else {
            None
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, top: bool) -> Option<()> {
        self.i += 1;
        // Members' canonical text goes to `scratch`; `members` remembers
        // (name, range) so they can be written out sorted by name.
        let mut scratch = self.pool.pop().unwrap_or_default();
        scratch.clear();
        let mut members = self.lists.pop().unwrap_or_default();
        members.clear();
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                self.ws();
                let name = self.string()?;
                self.ws();
                if self.peek()? != b':' {
                    return None;
                }
                self.i += 1;
                let start = scratch.len();
                self.value(&mut scratch, false)?;
                if top && name == "meta" {
                    scratch.truncate(start);
                } else {
                    members.push((name, start..scratch.len()));
                }
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out.push(b'{');
        for (n, (name, range)) in members.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_str(name, matches!(name, std::borrow::Cow::Borrowed(_)), out);
            out.push(b':');
            out.extend_from_slice(&scratch[range.clone()]);
        }
        out.push(b'}');
        self.pool.push(scratch);
        self.lists.push(members);
        Some(())
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.i += 1;
        out.push(b'[');
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
        } else {
            let mut first = true;
            loop {
                if !first {
                    out.push(b',');
                }
                first = false;
                self.value(out, false)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        out.push(b']');
        Some(())
    }

    /// A string token, unescaped (borrowed when it has no escape).
    fn string(&mut self) -> Option<std::borrow::Cow<'a, str>> {
        let s: &'a [u8] = self.s;
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let j = start + memchr::memchr2(b'"', b'\\', s.get(start..)?)?;
        if s[j] == b'"' {
            self.i = j + 1;
            // Quotes are ASCII, so the slice is on character boundaries.
            return self.raw.get(start..j).map(std::borrow::Cow::Borrowed);
        }
        // Escapes: let serde_json read the whole token.
        let mut end = j;
        while end < s.len() && s[end] != b'"' {
            end += if s[end] == b'\\' { 2 } else { 1 };
        }
        let token = s.get(self.i..=end)?;
        let text: String = serde_json::from_slice(token).ok()?;
        self.i = end + 1;
        Some(std::borrow::Cow::Owned(text))
    }
}

/// `s` as a JSON string with serde_json's minimal escaping. `verbatim`: it
/// was read without escapes, so it needs none (JSON text holds no raw quote,
/// backslash or control character inside a string).
fn write_str(s: &str, verbatim: bool, out: &mut Vec<u8>) {
    if verbatim || s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Infallible for a `str` into a Vec.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::content_sha256;
    use sha2::{Digest, Sha256};

    fn canonical_text(raw: &str) -> String {
        let mut out = Vec::new();
        super::Canon { raw, s: raw.as_bytes(), i: 0, pool: Vec::new(), lists: Vec::new() }
            .value(&mut out, true)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_canonical_form_sorts_members_drops_meta_and_whitespace() {
        let raw = r#"{ "status": "final", "id" : "x", "meta": {"versionId": "1"},
            "value": {"b": [1.50, true, null], "a": "\u0041\n"} }"#;
        assert_eq!(canonical_text(raw), r#"{"id":"x","status":"final","value":{"a":"A\n","b":[1.50,true,null]}}"#);
        assert_eq!(
            content_sha256(raw),
            <[u8; 32]>::from(Sha256::digest(
                br#"{"id":"x","status":"final","value":{"a":"A\n","b":[1.50,true,null]}}"#
            ))
        );
    }

    #[test]
    fn member_order_whitespace_escapes_and_meta_do_not_matter() {
        let a = r#"{"resourceType":"Observation","id":"x","status":"final","meta":{"versionId":"1"}}"#;
        let b = "{ \"status\": \"fin\\u0061l\",\n \"id\": \"x\", \"resourceType\": \"Observation\" }";
        assert_eq!(content_sha256(a), content_sha256(b));
    }

    #[test]
    fn content_matters() {
        let a = r#"{"resourceType":"Observation","id":"x","status":"final"}"#;
        let b = r#"{"resourceType":"Observation","id":"x","status":"amended"}"#;
        assert_ne!(content_sha256(a), content_sha256(b));
        // A decimal's precision is content.
        assert_ne!(content_sha256(r#"{"v":1.0}"#), content_sha256(r#"{"v":1}"#));
        // Nested meta is content (only the resource's own meta is transport).
        let c = r#"{"resourceType":"Bundle","entry":[{"meta":{"versionId":"1"}}]}"#;
        let d = r#"{"resourceType":"Bundle","entry":[{"meta":{"versionId":"2"}}]}"#;
        assert_ne!(content_sha256(c), content_sha256(d));
    }

    #[test]
    fn text_that_is_not_json_hashes_as_its_bytes() {
        for bad in [r#"{"a":"#, r#"{"a":1}x"#, "", r#"{"a" 1}"#] {
            assert_eq!(content_sha256(bad), <[u8; 32]>::from(Sha256::digest(bad.as_bytes())), "{bad}");
        }
    }

    /// The canonical text is the same JSON value, is itself canonical, and
    /// lists every object's members in sorted order.
    #[test]
    fn the_canonical_text_is_the_same_value_in_sorted_order() {
        let samples = [
            r#"{"resourceType":"Observation","id":"k1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29593-1"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-01-10","valueQuantity":{"value":4,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}"#,
            r#"{"z":{"y":[{"b":"é\"q\\","a":"\t"}],"x":false},"a":"€","\u00e9":{}}"#,
        ];
        fn sorted(v: &serde_json::Value) -> bool {
            match v {
                serde_json::Value::Object(m) => {
                    let keys: Vec<&String> = m.keys().collect();
                    keys.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()) && m.values().all(sorted)
                }
                serde_json::Value::Array(a) => a.iter().all(sorted),
                _ => true,
            }
        }
        for raw in samples {
            let text = canonical_text(raw);
            let value: serde_json::Value = serde_json::from_str(raw).unwrap();
            assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
            assert_eq!(canonical_text(&text), text, "canonical twice is canonical once");
            // serde_json (without preserve_order) keeps members sorted: its text order is the check.
            let order_kept: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(sorted(&order_kept));
            assert!(!text.contains(' ') || raw.contains(' '));
        }
    }
}
