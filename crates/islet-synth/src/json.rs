//! The ordered JSON tree [`J`] every resource is built as, the [`j!`] macro
//! that builds it, and its writer.
//!
//! Keys are static, objects keep insertion order, values borrow static
//! strings. Building and writing it is several times cheaper than
//! `serde_json::Value` (no key allocations, no BTreeMap, no re-serializing of
//! interpolated values), which is what makes a million events take seconds.

use std::borrow::Cow;

/// A JSON value; an object is a list of (static key, value) in writing order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum J {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(Cow<'static, str>),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

static NULL: J = J::Null;

impl J {
    pub(crate) fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(kv) => kv.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub(crate) fn remove(&mut self, key: &str) {
        if let J::Obj(kv) = self {
            kv.retain(|(k, _)| *k != key);
        }
    }
    /// Put `key: value` where `old` was, keeping the writing order, or at
    /// the end when there is no `old`.
    pub(crate) fn replace_key(&mut self, old: &str, key: &'static str, value: J) {
        let J::Obj(kv) = self else { panic!("replacing {old:?} in a non-object JSON value") };
        match kv.iter().position(|(k, _)| *k == old) {
            Some(at) => kv[at] = (key, value),
            None => kv.push((key, value)),
        }
    }
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            J::Int(i) => Some(*i as f64),
            J::Num(f) => Some(*f),
            _ => None,
        }
    }
    pub(crate) fn is_number(&self) -> bool {
        matches!(self, J::Int(_) | J::Num(_))
    }
    pub(crate) fn as_array(&self) -> Option<&Vec<J>> {
        match self {
            J::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// Append the JSON text of `self` to `out`.
    fn write(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => {
                let _ = write!(out, "{i}");
            }
            J::Num(f) => {
                let _ = write!(out, "{f}");
            }
            J::Str(Cow::Borrowed(s)) => write_static(out, s),
            J::Str(Cow::Owned(s)) => write_str(out, s),
            J::Arr(a) => {
                out.push('[');
                for (n, v) in a.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            J::Obj(kv) => {
                out.push('{');
                for (n, (k, v)) in kv.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write_static(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    pub(crate) fn to_json(&self) -> String {
        let mut s = String::with_capacity(1024);
        self.write(&mut s);
        s
    }
}

/// Bytes that need escaping inside a JSON string.
const fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// A JSON string literal, escaped.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A static string of this crate (key or code): never needs escaping.
fn write_static(out: &mut String, s: &'static str) {
    debug_assert!(!s.bytes().any(needs_escape), "{s:?} needs escaping");
    out.push('"');
    out.push_str(s);
    out.push('"');
}

impl std::ops::Index<&str> for J {
    type Output = J;
    fn index(&self, key: &str) -> &J {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::IndexMut<&'static str> for J {
    /// Like `serde_json::Value`: a missing key is inserted as null, a null becomes an object.
    fn index_mut(&mut self, key: &'static str) -> &mut J {
        if matches!(self, J::Null) {
            *self = J::Obj(Vec::new());
        }
        let J::Obj(kv) = self else { panic!("indexing a non-object JSON value with {key:?}") };
        let at = match kv.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                kv.push((key, J::Null));
                kv.len() - 1
            }
        };
        &mut kv[at].1
    }
}

impl std::ops::Index<usize> for J {
    type Output = J;
    fn index(&self, i: usize) -> &J {
        match self {
            J::Arr(a) => a.get(i).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
}

impl std::ops::IndexMut<usize> for J {
    fn index_mut(&mut self, i: usize) -> &mut J {
        match self {
            J::Arr(a) => &mut a[i],
            _ => panic!("indexing a non-array JSON value with {i}"),
        }
    }
}

impl PartialEq<&str> for J {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}
impl PartialEq<str> for J {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl From<&'static str> for J {
    fn from(s: &'static str) -> J {
        J::Str(Cow::Borrowed(s))
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(Cow::Owned(s))
    }
}
impl From<&String> for J {
    fn from(s: &String) -> J {
        J::Str(Cow::Owned(s.clone()))
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<i64> for J {
    fn from(i: i64) -> J {
        J::Int(i)
    }
}
impl From<i32> for J {
    fn from(i: i32) -> J {
        J::Int(i.into())
    }
}
impl From<u8> for J {
    fn from(i: u8) -> J {
        J::Int(i.into())
    }
}
impl From<u32> for J {
    fn from(i: u32) -> J {
        J::Int(i.into())
    }
}
impl From<f64> for J {
    fn from(f: f64) -> J {
        num(f)
    }
}
impl From<Vec<J>> for J {
    fn from(a: Vec<J>) -> J {
        J::Arr(a)
    }
}

/// `serde_json::json!`-like construction of a [`J`]: `{ "k": v, … }`,
/// `[v, …]`, or any expression convertible into `J`.
macro_rules! j {
    ({ $($body:tt)* }) => { $crate::json::J::Obj(j!(@obj [] $($body)*)) };
    ([ $($body:tt)* ]) => { $crate::json::J::Arr(j!(@arr [] $($body)*)) };
    (@obj [$($done:tt)*]) => { vec![$($done)*] };
    (@obj [$($done:tt)*] $k:literal : $v:tt , $($rest:tt)*) => { j!(@obj [$($done)* ($k, j!($v)),] $($rest)*) };
    (@obj [$($done:tt)*] $k:literal : $v:tt) => { j!(@obj [$($done)* ($k, j!($v)),]) };
    (@obj [$($done:tt)*] $k:literal : $($rest:tt)+) => { j!(@objval [$($done)*] $k [] $($rest)+) };
    (@objval [$($done:tt)*] $k:literal [$($v:tt)+] , $($rest:tt)*) => { j!(@obj [$($done)* ($k, j!($($v)+)),] $($rest)*) };
    (@objval [$($done:tt)*] $k:literal [$($v:tt)*] $next:tt $($rest:tt)*) => { j!(@objval [$($done)*] $k [$($v)* $next] $($rest)*) };
    (@objval [$($done:tt)*] $k:literal [$($v:tt)+]) => { j!(@obj [$($done)* ($k, j!($($v)+)),]) };
    (@arr [$($done:tt)*]) => { vec![$($done)*] };
    (@arr [$($done:tt)*] $v:tt , $($rest:tt)*) => { j!(@arr [$($done)* j!($v),] $($rest)*) };
    (@arr [$($done:tt)*] $v:tt) => { j!(@arr [$($done)* j!($v),]) };
    (@arr [$($done:tt)*] $($rest:tt)+) => { j!(@arrval [$($done)*] [] $($rest)+) };
    (@arrval [$($done:tt)*] [$($v:tt)+] , $($rest:tt)*) => { j!(@arr [$($done)* j!($($v)+),] $($rest)*) };
    (@arrval [$($done:tt)*] [$($v:tt)*] $next:tt $($rest:tt)*) => { j!(@arrval [$($done)*] [$($v)* $next] $($rest)*) };
    (@arrval [$($done:tt)*] [$($v:tt)+]) => { j!(@arr [$($done)* j!($($v)+),]) };
    ($e:expr) => { $crate::json::J::from($e) };
}
pub(crate) use j;

/// A JSON number, written without a fraction when it has none.
pub(crate) fn num(v: f64) -> J {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        J::Int(v as i64)
    } else {
        J::Num(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The writer escapes by hand; serde_json must read back what was meant.
    #[test]
    fn written_text_reads_back_as_the_same_json() {
        let tricky = "quote \" backslash \\ newline \n tab \t return \r bell \u{7} µg/L ≥ 50 % – 177Lu";
        let value = j!({
            "text": (tricky.to_string()),
            "static": "Streptozocin 500 mg/m² i.v.",
            "numbers": [(num(14.0)), (num(2.5)), (num(-15.0)), (num(0.1)), 7, (J::Num(1e20))],
            "flags": [true, false, (J::Null)],
            "nested": { "empty": [], "object": {} },
        });
        let text = value.to_json();
        let read: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            read,
            json!({
                "text": tricky,
                "static": "Streptozocin 500 mg/m² i.v.",
                "numbers": [14, 2.5, -15, 0.1, 7, 1e20],
                "flags": [true, false, null],
                "nested": { "empty": [], "object": {} },
            })
        );
        // Whole numbers are written without a fraction, as sources send them.
        assert!(text.contains("\"numbers\":[14,2.5,-15,0.1,7,"), "{text}");
    }
}
