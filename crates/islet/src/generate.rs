//! Synthetic pNET cohort generator (`islet generate`).
//!
//! Writes NDJSON, one message per line, in the shapes of
//! `spec/contract.md`: plain FHIR R4 resources (~80 % of lines), Bundles
//! (~10 %: `transaction`, `batch`, `collection`, with `urn:uuid` references
//! to a Patient entry and now and then a `DELETE` entry) and HAPI
//! `ResourceDeliveryMessage` envelopes (~10 %). Every resource carries
//! `meta.versionId` and `meta.lastUpdated`; the stream includes amended new
//! versions, `entered-in-error` retractions, deletions, preliminary results
//! later made final and duplicate redeliveries of the same version.
//!
//! Nothing here describes a real person: ids are `Patient/syn-NNNNNN`, there
//! are no names, and every Patient is tagged as test data (`HTEST`) and with
//! the archetype it was drawn from (system [`ARCHETYPE_SYSTEM`]), so a demo or
//! a test can tell which alerts each patient should raise.
//!
//! Design:
//! * **Deterministic.** Every patient has its own ChaCha8 stream (the seed,
//!   stream = patient index), so a patient does not depend on the others.
//!   Archetypes are dealt from a shuffled deck (its own stream), so every
//!   cohort of at least [`DECK_SIZE`] patients holds every archetype in fixed
//!   proportions. Interleaving and bad-line injection use two more streams, so
//!   a cohort with `bad_line_rate > 0` is the clean cohort with some lines
//!   replaced.
//! * **Streaming.** Patients are built a few at a time (a window of 1–4,
//!   whose lines are interleaved, each patient's order kept) and written out;
//!   memory does not grow with the cohort.
//! * **Clinical time.** Each patient's dates move forward from a diagnosis
//!   date between `start` and `start` + ~30 months; nothing is dated after
//!   `start` + [`SPAN_DAYS`], so a surveillance schedule is cut wherever that
//!   horizon falls (items scheduled, due or overdue when evaluated at the end).
//!   Lines are in `meta.lastUpdated` order per patient; a few results are
//!   entered late, so arrival order is not always clinical order.
//! * **Fast.** Resources are built as a small ordered JSON tree ([`J`], static
//!   keys, borrowed static strings) and written straight into the line
//!   buffer: about 3.5 s of one core for 100 000 patients (1.15 M lines)
//!   in release mode.
//!
//! The rules each archetype is meant to raise are listed on [`Archetype`].

use rand::distributions::uniform::{SampleRange, SampleUniform};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Islet's own code system (contract.md).
pub const ISLET: &str = "https://islet.dev/fhir/CodeSystem/pnet";
/// `Patient.meta.tag` system naming the archetype a synthetic patient was drawn from.
pub const ARCHETYPE_SYSTEM: &str = "https://islet.dev/fhir/CodeSystem/synthetic-archetype";
const LOINC: &str = "http://loinc.org";
const SCT: &str = "http://snomed.info/sct";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10-cm";
const ICDO3: &str = "http://terminology.hl7.org/CodeSystem/icd-o-3";
const ATC: &str = "http://www.whocc.no/atc";
const UCUM: &str = "http://unitsofmeasure.org";
const BASE_URL: &str = "https://ehr.example.org/fhir";

/// Last possible clinical date: `start` + this many days (three years).
pub const SPAN_DAYS: i64 = 3 * 365;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortOptions {
    pub patients: usize,
    pub seed: u64,
    /// Earliest clinical date (default 2022-01-01).
    pub start: Date,
    /// Share of lines (0–1) replaced by an unusable line: broken JSON, an
    /// Observation without subject, or a string where `valueQuantity.value`
    /// belongs. Default 0.
    pub bad_line_rate: f64,
}

impl Default for CohortOptions {
    fn default() -> Self {
        CohortOptions {
            patients: 100,
            seed: 42,
            start: Date::from_calendar_date(2022, Month::January, 1).expect("valid date"),
            bad_line_rate: 0.0,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    pub patients: usize,
    /// NDJSON lines (messages).
    pub lines: usize,
    /// Resources in those lines: a plain resource or an envelope counts 1, a
    /// Bundle counts its entries (DELETE entries included), a broken line 0.
    pub resources: usize,
}

/// Write a synthetic cohort as NDJSON to `out`.
pub fn generate(opts: &CohortOptions, out: &mut impl Write) -> io::Result<GenerateStats> {
    let mut deck = Deck::new(opts.seed);
    let mut mix = stream_rng(opts.seed, u64::MAX - 1);
    let mut bad = stream_rng(opts.seed, u64::MAX);
    let bad_rate = if opts.bad_line_rate.is_finite() { opts.bad_line_rate.clamp(0.0, 1.0) } else { 0.0 };
    let mut stats = GenerateStats::default();
    let mut buf = String::with_capacity(1 << 16);
    let mut next = 0usize;
    while next < opts.patients {
        let window = mix.gen_range(1..=4usize).min(opts.patients - next);
        let mut queues: Vec<VecDeque<Line>> =
            (next..next + window).map(|i| VecDeque::from(patient_lines(opts, i, deck.deal()))).collect();
        next += window;
        stats.patients += window;
        loop {
            let open: Vec<usize> = (0..queues.len()).filter(|&q| !queues[q].is_empty()).collect();
            let Some(&q) = open.choose(&mut mix) else {
                break;
            };
            let line = queues[q].pop_front().expect("non-empty queue");
            let line = if bad_rate > 0.0 && bad.gen_bool(bad_rate) { bad_line(&mut bad, opts, line) } else { line };
            stats.lines += 1;
            stats.resources += line.resources;
            buf.push_str(&line.text);
            buf.push('\n');
            if buf.len() >= 1 << 16 {
                out.write_all(buf.as_bytes())?;
                buf.clear();
            }
        }
    }
    out.write_all(buf.as_bytes())?;
    out.flush()?;
    Ok(stats)
}

fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// One output line.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    resources: usize,
    /// `Patient/…` of the patient the line belongs to.
    patient: String,
}

// ---------------------------------------------------------------------------
// Archetypes
// ---------------------------------------------------------------------------

/// The kinds of patient in the cohort, each built to exercise rule families
/// (the rules named are those the archetype is meant to raise at the end of
/// the span; variants are chosen per patient and named in the Patient's
/// archetype tag `display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archetype {
    /// Sporadic non-functioning primary 6–19 mm, incidental (or mode not
    /// recorded), G1/G2; imaging + CgA at 3, 6, 9, 12, 18, 24, 30, 36 months
    /// with good, patchy or stopping attendance; 8 % grow past 20 mm.
    /// `surveillance.small-nonfunctioning`, `followup.surveillance-imaging`,
    /// `followup.cga-surveillance` (scheduled / due / overdue), sometimes
    /// `workup.ssr-imaging-missing`; growers `surgery.resection-indicated`.
    Surveillance,
    /// Diagnosis with grading, SSTR imaging and/or CgA missing:
    /// `workup.grading-missing`, `workup.ssr-imaging-missing`, `workup.cga-missing`.
    WorkupGaps,
    /// Localized G1/G2 > 20 mm (or board: complete / ≥ 90 %), some resected,
    /// some planned: `surgery.resection-indicated`.
    Resectable,
    /// Board: unresectable only because of vessels: `surgery.vascular-exploration`
    /// (+ `ssa.antiproliferative` / `ssa.g2-limited-evidence`, `prrt.candidate`).
    VascularUnresectable,
    /// Primary resection planned with resectability < 90 %, with unresectable
    /// liver metastases, or with bone metastases: `surgery.debulking-not-advised`,
    /// `surgery.primary-with-unresectable-liver`, `surgery.bone-metastases`.
    SurgeryAgainstAdvice,
    /// G1 with unresectable liver metastases on octreotide / lanreotide:
    /// `ssa.antiproliferative`, `monitoring.ssa`, `prrt.candidate`, liver rules;
    /// progressing at standard dose: `ssa.escalate-on-progression`,
    /// `ifn.consider`, `chemo.well-differentiated`; SSA without receptor
    /// imaging: `ssa.needs-receptor-status`; SSTR-negative on interferon:
    /// `ifn.consider`, `monitoring.interferon`.
    MetastaticG1Ssa,
    /// G2, SSA then streptozocin- or CAPTEM-based chemotherapy, progressing:
    /// `ssa.g2-limited-evidence`, `chemo.well-differentiated`,
    /// `targeted.after-chemo`; then `monitoring.everolimus` /
    /// `monitoring.sunitinib` / `monitoring.prrt`.
    G2ProgressingAfterChemo,
    /// Everolimus / sunitinib planned or running without prior chemotherapy:
    /// `targeted.first-line-selected` (enets), `targeted.first-line` (nccn).
    TargetedFirstLine,
    /// Ki-67 > 20 % NEC on platinum-etoposide: `chemo.nec-platinum`; with an
    /// SSA in non-functioning disease `ssa.not-in-g3`; with TACE planned
    /// `liver.embolization-contraindicated`.
    G3Nec,
    /// MEN1, yearly sizes: slow growth ≤ 20 mm `men1.small-tumour`; > 5 mm a
    /// year or > 20 mm `men1.resection-indicated` (some gastrinoma: PPI rules).
    Men1,
    /// Insulinoma (diazoxide, board resectable, some resected):
    /// `syndrome.insulinoma-glucose`, `ssa.syndrome-control`, `surgery.resection-indicated`.
    Insulinoma,
    /// Zollinger-Ellison on PPI, some metastatic on SSA, some uncontrolled:
    /// `syndrome.gastrinoma-ppi`, `ssa.syndrome-control`, `ssa.rescue-octreotide`.
    Gastrinoma,
    /// Glucagonoma / VIPoma / somatostatinoma with liver metastases on SSA,
    /// some uncontrolled or in crisis: `ssa.syndrome-control`, `ssa.rescue-octreotide`.
    OtherFunctioning,
    /// All Milan-NET criteria (age < 55, Ki-67 < 10 %, curative resection,
    /// liver-only < 50 %, stable ~9 months after failing SSA): `olt.candidate`.
    TransplantCandidate,
    /// Referred for transplantation while one or two criteria fail:
    /// `olt.not-eligible` (each failure named in the tag).
    TransplantIneligible,
    /// Unresectable liver metastases: few small lesions `liver.ablation`;
    /// ablation planned for a lesion > 50 mm `liver.ablation-too-large`;
    /// `liver.embolization`; involvement ≥ 50 % `liver.sirt`.
    LiverDirected,
    /// TAE/TACE planned with involvement ≥ 50 %, portal vein occlusion,
    /// liver failure, biliary reconstruction or ECOG ≥ 3:
    /// `liver.embolization-contraindicated`.
    EmbolizationContraindicated,
    /// PRRT planned with Krenning < 2, no Krenning score, or no SSTR imaging:
    /// `prrt.needs-uptake`.
    PrrtWithoutUptake,
    /// Ki-67 vs mitoses discordant, NEC diagnosis with G2 Ki-67, Ki-67 > 100 %
    /// or negative size / CgA, CgA in IU/mL, Ki-67 amended 2 → 2.5 %:
    /// `data.grade-discordant`, `data.implausible-value`, `data.unknown-unit`.
    DataProblems,
}

impl Archetype {
    /// Every archetype with its weight (patients per [`DECK_SIZE`]).
    pub const ALL: [(Archetype, usize); 19] = [
        (Archetype::Surveillance, 20),
        (Archetype::WorkupGaps, 8),
        (Archetype::Resectable, 12),
        (Archetype::VascularUnresectable, 3),
        (Archetype::SurgeryAgainstAdvice, 4),
        (Archetype::MetastaticG1Ssa, 10),
        (Archetype::G2ProgressingAfterChemo, 7),
        (Archetype::TargetedFirstLine, 3),
        (Archetype::G3Nec, 6),
        (Archetype::Men1, 5),
        (Archetype::Insulinoma, 4),
        (Archetype::Gastrinoma, 4),
        (Archetype::OtherFunctioning, 2),
        (Archetype::TransplantCandidate, 3),
        (Archetype::TransplantIneligible, 2),
        (Archetype::LiverDirected, 5),
        (Archetype::EmbolizationContraindicated, 3),
        (Archetype::PrrtWithoutUptake, 3),
        (Archetype::DataProblems, 3),
    ];

    /// The code used in the Patient's `meta.tag` ([`ARCHETYPE_SYSTEM`]).
    pub fn code(self) -> &'static str {
        match self {
            Archetype::Surveillance => "surveillance",
            Archetype::WorkupGaps => "workup-gaps",
            Archetype::Resectable => "resectable",
            Archetype::VascularUnresectable => "vascular-unresectable",
            Archetype::SurgeryAgainstAdvice => "surgery-against-advice",
            Archetype::MetastaticG1Ssa => "metastatic-g1-ssa",
            Archetype::G2ProgressingAfterChemo => "g2-progressing-after-chemo",
            Archetype::TargetedFirstLine => "targeted-first-line",
            Archetype::G3Nec => "g3-nec",
            Archetype::Men1 => "men1",
            Archetype::Insulinoma => "insulinoma",
            Archetype::Gastrinoma => "gastrinoma",
            Archetype::OtherFunctioning => "other-functioning",
            Archetype::TransplantCandidate => "transplant-candidate",
            Archetype::TransplantIneligible => "transplant-ineligible",
            Archetype::LiverDirected => "liver-directed",
            Archetype::EmbolizationContraindicated => "embolization-contraindicated",
            Archetype::PrrtWithoutUptake => "prrt-without-uptake",
            Archetype::DataProblems => "data-problems",
        }
    }
}

/// Patients per deck: every run of this many consecutive patients holds
/// every archetype in the proportions of [`Archetype::ALL`].
pub const DECK_SIZE: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < Archetype::ALL.len() {
        n += Archetype::ALL[i].1;
        i += 1;
    }
    n
};

struct Deck {
    rng: ChaCha8Rng,
    cards: Vec<Archetype>,
}

impl Deck {
    fn new(seed: u64) -> Self {
        Deck { rng: stream_rng(seed, u64::MAX - 2), cards: Vec::with_capacity(DECK_SIZE) }
    }
    fn deal(&mut self) -> Archetype {
        if self.cards.is_empty() {
            for (a, w) in Archetype::ALL {
                self.cards.extend(std::iter::repeat_n(a, w));
            }
            self.cards.shuffle(&mut self.rng);
        }
        self.cards.pop().expect("deck refilled")
    }
}

// ---------------------------------------------------------------------------
// A small JSON tree: keys are static, objects keep insertion order, values
// borrow static strings. Building and writing it is several times cheaper
// than `serde_json::Value` (no key allocations, no BTreeMap, no re-serializing
// of interpolated values), which is what makes a million events take seconds.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq)]
enum J {
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
    fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(kv) => kv.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn remove(&mut self, key: &str) {
        if let J::Obj(kv) = self {
            kv.retain(|(k, _)| *k != key);
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            J::Int(i) => Some(*i as f64),
            J::Num(f) => Some(*f),
            _ => None,
        }
    }
    fn is_number(&self) -> bool {
        matches!(self, J::Int(_) | J::Num(_))
    }
    fn as_array(&self) -> Option<&Vec<J>> {
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

    fn to_json(&self) -> String {
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

/// A static string of this module (key or code): never needs escaping.
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
    ({ $($body:tt)* }) => { J::Obj(j!(@obj [] $($body)*)) };
    ([ $($body:tt)* ]) => { J::Arr(j!(@arr [] $($body)*)) };
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
    ($e:expr) => { J::from($e) };
}

// ---------------------------------------------------------------------------
// Codings
// ---------------------------------------------------------------------------

fn coding(system: &'static str, code: impl Into<J>) -> J {
    let code = code.into();
    j!({ "system": system, "code": code })
}
fn coding_d(system: &'static str, code: &'static str, display: &'static str) -> J {
    j!({ "system": system, "code": code, "display": display })
}
fn cc(codings: Vec<J>, text: impl Into<J>) -> J {
    let text = text.into();
    j!({ "coding": codings, "text": text })
}
fn islet_cc(code: impl Into<J>, text: impl Into<J>) -> J {
    cc(vec![coding(ISLET, code)], text)
}
fn pancreas_site() -> J {
    j!([cc(vec![coding_d(SCT, "15776009", "Pancreatic structure")], "Pancreas")])
}
fn liver_site() -> J {
    j!([cc(vec![coding_d(SCT, "10200004", "Liver structure")], "Liver")])
}
fn ucum(value: f64, unit: &'static str, code: &'static str) -> J {
    j!({ "value": num(value), "unit": unit, "system": UCUM, "code": code })
}
/// A JSON number, written without a fraction when it has none.
fn num(v: f64) -> J {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        J::Int(v as i64)
    } else {
        J::Num(v)
    }
}
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[derive(Clone, Copy)]
struct Drug {
    atc: &'static str,
    /// Older ATC code still sent by some systems.
    atc_old: Option<&'static str>,
    name: &'static str,
    /// Islet's class code, sometimes sent instead of ATC.
    islet: &'static str,
    dose: &'static str,
}

const OCTREOTIDE: Drug = Drug {
    atc: "H01CB02",
    atc_old: None,
    name: "octreotide",
    islet: "ssa",
    dose: "Octreotide LAR 30 mg i.m. every 28 days",
};
const LANREOTIDE: Drug = Drug {
    atc: "H01CB03",
    atc_old: None,
    name: "lanreotide",
    islet: "ssa",
    dose: "Lanreotide autogel 120 mg deep s.c. every 28 days",
};
const PASIREOTIDE: Drug = Drug {
    atc: "H01CB05",
    atc_old: None,
    name: "pasireotide",
    islet: "ssa",
    dose: "Pasireotide LAR 60 mg i.m. every 28 days",
};
const EVEROLIMUS: Drug = Drug {
    atc: "L01EG02",
    atc_old: Some("L01XE10"),
    name: "everolimus",
    islet: "everolimus",
    dose: "Everolimus 10 mg orally once daily",
};
const SUNITINIB: Drug = Drug {
    atc: "L01EX01",
    atc_old: Some("L01XE04"),
    name: "sunitinib",
    islet: "sunitinib",
    dose: "Sunitinib 37.5 mg orally once daily",
};
const STREPTOZOCIN: Drug = Drug {
    atc: "L01AD04",
    atc_old: None,
    name: "streptozocin",
    islet: "chemotherapy",
    dose: "Streptozocin 500 mg/m² i.v. days 1–5, every 6 weeks",
};
const FLUOROURACIL: Drug = Drug {
    atc: "L01BC02",
    atc_old: None,
    name: "fluorouracil",
    islet: "chemotherapy",
    dose: "5-FU 400 mg/m² i.v. days 1–5, every 6 weeks",
};
const DOXORUBICIN: Drug = Drug {
    atc: "L01DB01",
    atc_old: None,
    name: "doxorubicin",
    islet: "chemotherapy",
    dose: "Doxorubicin 40 mg/m² i.v. every 3 weeks",
};
const CAPECITABINE: Drug = Drug {
    atc: "L01BC06",
    atc_old: None,
    name: "capecitabine",
    islet: "chemotherapy",
    dose: "Capecitabine 750 mg/m² b.i.d. days 1–14, every 28 days",
};
const TEMOZOLOMIDE: Drug = Drug {
    atc: "L01AX03",
    atc_old: None,
    name: "temozolomide",
    islet: "chemotherapy",
    dose: "Temozolomide 200 mg/m² days 10–14, every 28 days",
};
const CISPLATIN: Drug = Drug {
    atc: "L01XA01",
    atc_old: None,
    name: "cisplatin",
    islet: "chemotherapy",
    dose: "Cisplatin 75 mg/m² i.v. day 1, every 21 days",
};
const CARBOPLATIN: Drug = Drug {
    atc: "L01XA02",
    atc_old: None,
    name: "carboplatin",
    islet: "chemotherapy",
    dose: "Carboplatin AUC 5 i.v. day 1, every 21 days",
};
const ETOPOSIDE: Drug = Drug {
    atc: "L01CB01",
    atc_old: None,
    name: "etoposide",
    islet: "chemotherapy",
    dose: "Etoposide 100 mg/m² i.v. days 1–3, every 21 days",
};
const INTERFERON: Drug = Drug {
    atc: "L03AB05",
    atc_old: Some("L03AB04"),
    name: "interferon alfa",
    islet: "interferon",
    dose: "Interferon alfa 3 MU s.c. three times a week",
};
const LU177: Drug = Drug {
    atc: "V10XX04",
    atc_old: None,
    name: "lutetium (177Lu) oxodotreotide",
    islet: "prrt",
    dose: "177Lu-oxodotreotide 7.4 GBq i.v. every 8 weeks, 4 cycles",
};
const ESOMEPRAZOLE: Drug = Drug {
    atc: "A02BC05",
    atc_old: None,
    name: "esomeprazole",
    islet: "",
    dose: "Esomeprazole 80 mg orally twice daily",
};
const PANTOPRAZOLE: Drug = Drug {
    atc: "A02BC02",
    atc_old: None,
    name: "pantoprazole",
    islet: "",
    dose: "Pantoprazole 80 mg orally twice daily",
};
const DIAZOXIDE: Drug = Drug {
    atc: "V03AH01",
    atc_old: None,
    name: "diazoxide",
    islet: "",
    dose: "Diazoxide 100 mg orally three times daily",
};

/// Procedures and planned interventions (islet codes, SCT for transplantation).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proc {
    PrimaryResection,
    LiverAblation,
    Tae,
    Tace,
    Sirt,
    Prrt,
    LiverTransplant,
    BiliaryReconstruction,
}

impl Proc {
    fn code(self, alt: bool) -> J {
        let (code, text) = match self {
            Proc::PrimaryResection => ("primary-resection", "Resection of the pancreatic primary"),
            Proc::LiverAblation => ("liver-ablation", "Radiofrequency ablation of liver metastases"),
            Proc::Tae => ("tae", "Transarterial embolization of liver metastases"),
            Proc::Tace => ("tace", "Transarterial chemoembolization of liver metastases"),
            Proc::Sirt => ("sirt", "Selective internal radiation therapy (90Y)"),
            Proc::Prrt => ("prrt", "Peptide receptor radionuclide therapy"),
            Proc::LiverTransplant => {
                return if alt {
                    cc(vec![coding(ISLET, "liver-transplant")], "Liver transplantation")
                } else {
                    cc(vec![coding_d(SCT, "18027006", "Transplantation of liver")], "Liver transplantation")
                }
            }
            Proc::BiliaryReconstruction => ("biliary-reconstruction", "Biliary reconstruction (hepaticojejunostomy)"),
        };
        islet_cc(code, text)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sstr {
    Positive,
    Negative,
    Equivocal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Improved,
    Stable,
    Worsened,
    Undetermined,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Meta {
    Liver,
    Bone,
    Lung,
    Nodes,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Syn {
    NonFunctioning,
    Insulinoma,
    Gastrinoma,
    Glucagonoma,
    Vipoma,
    Somatostatinoma,
}

// ---------------------------------------------------------------------------
// One patient
// ---------------------------------------------------------------------------

struct Res {
    rtype: &'static str,
    id: String,
    version: u32,
    /// `meta.lastUpdated` in ms since the epoch: the per-patient order.
    lu_ms: i64,
    /// Clinical date: nothing after the horizon is written.
    clinical: Date,
    body: J,
    /// Retraction of `rtype/id` (Bundle DELETE entry or DELETE envelope).
    delete: bool,
}

/// Per-patient choices of how a source system writes things.
struct Style {
    size_cm: bool,
    /// 0: LOINC 33728-7 valueQuantity, 1: 21889-1 with component 33728-7, 2: 21889-1 valueQuantity.
    size_form: u8,
    pancreas_site: bool,
    /// 0: 9811-1 ng/mL, 1: 9811-1 µg/L, 2: 25587-7 nmol/L, 3: 30169-7 U/L.
    cga: u8,
    recist: bool,
    ki67_islet: bool,
    mitoses_hpf: bool,
    lu_zulu: bool,
    drug_islet: bool,
}

struct Gen {
    rng: RefCell<ChaCha8Rng>,
    pid: String,
    pref: String,
    tz: UtcOffset,
    style: Style,
    n: u32,
    res: Vec<Res>,
    start: Date,
    end: Date,
    birth: Date,
    archetype: Archetype,
    variant: String,
}

/// Options of the standard diagnostic work-up.
#[derive(Default, Clone)]
struct Workup {
    ki67: Option<f64>,
    mitoses: Option<f64>,
    who_grade: Option<u8>,
    primary_mm: Option<f64>,
    cga: Option<f64>,
    pp: Option<f64>,
    sstr: Option<Sstr>,
    krenning: Option<u8>,
    ecog: Option<u8>,
    discovery: Option<&'static str>,
}

fn patient_lines(opts: &CohortOptions, index: usize, archetype: Archetype) -> Vec<Line> {
    let mut g = Gen::new(opts, index, archetype);
    g.build();
    let end = g.end;
    g.res.retain(|r| r.clinical <= end);
    g.corrections();
    g.res.sort_by_key(|r| r.lu_ms);
    g.package()
}

impl Gen {
    fn new(opts: &CohortOptions, index: usize, archetype: Archetype) -> Self {
        let mut rng = stream_rng(opts.seed, index as u64);
        let hours = *[1i8, 1, 2, 0, -5].choose(&mut rng).expect("non-empty");
        let tz = UtcOffset::from_hms(hours, 0, 0).expect("valid offset");
        let style = Style {
            size_cm: rng.gen_bool(0.2),
            size_form: [0, 0, 0, 1, 1, 2][rng.gen_range(0..6)],
            pancreas_site: rng.gen_bool(0.7),
            cga: [0, 0, 0, 0, 0, 0, 1, 1, 2, 3][rng.gen_range(0..10)],
            recist: rng.gen_bool(0.3),
            ki67_islet: rng.gen_bool(0.1),
            mitoses_hpf: rng.gen_bool(0.3),
            lu_zulu: rng.gen_bool(0.5),
            drug_islet: rng.gen_bool(0.05),
        };
        let pid = format!("syn-{:06}", index + 1);
        let birth = opts.start - Duration::days(rng.gen_range(27 * 365..=82 * 365));
        Gen {
            rng: RefCell::new(rng),
            pref: format!("Patient/{pid}"),
            pid,
            tz,
            style,
            n: 0,
            res: Vec::new(),
            start: opts.start,
            end: opts.start + Duration::days(SPAN_DAYS),
            birth,
            archetype,
            variant: String::new(),
        }
    }

    // -- time -------------------------------------------------------------

    fn p(&self, p: f64) -> bool {
        self.rng.borrow_mut().gen_bool(p)
    }
    fn r<T: SampleUniform, R: SampleRange<T>>(&self, range: R) -> T {
        self.rng.borrow_mut().gen_range(range)
    }
    fn pick<T: Copy>(&self, xs: &[T]) -> T {
        *xs.choose(&mut *self.rng.borrow_mut()).expect("non-empty")
    }
    fn days(&self, lo: i64, hi: i64) -> Duration {
        Duration::days(self.r(lo..=hi))
    }
    /// A diagnosis date leaving `needed` days before the horizon (when possible).
    fn diagnosis_date(&mut self, needed: i64) -> Date {
        let latest = (SPAN_DAYS - 60 - needed).max(30);
        self.start + self.days(0, latest)
    }
    fn clock(&self, d: Date) -> PrimitiveDateTime {
        let t = Time::from_hms(self.r(7..18), self.r(0..60), 0).expect("valid time");
        PrimitiveDateTime::new(d, t)
    }
    fn local(&self, t: PrimitiveDateTime) -> String {
        format_dt(t, self.tz, false)
    }
    fn lu_after(&self, t: PrimitiveDateTime, delay_min: (i64, i64)) -> OffsetDateTime {
        let ms = self.r(delay_min.0 * 60_000..=delay_min.1 * 60_000);
        t.assume_offset(self.tz) + Duration::milliseconds(ms)
    }
    fn fmt_lu(&self, t: OffsetDateTime) -> String {
        let u = t.to_offset(UtcOffset::UTC);
        let s = format_dt(PrimitiveDateTime::new(u.date(), u.time()), UtcOffset::UTC, true);
        if self.style.lu_zulu {
            s
        } else {
            s.replace('Z', "+00:00")
        }
    }

    // -- resources --------------------------------------------------------

    fn emit(&mut self, rtype: &'static str, tag: &str, t: PrimitiveDateTime, delay_min: (i64, i64), body: J) -> usize {
        self.n += 1;
        let id = format!("{}-{}-{}", self.pid, tag, self.n);
        let lu = self.lu_after(t, delay_min);
        let lu_s = self.fmt_lu(lu);
        // resourceType, id and meta first, as FHIR servers write them.
        let mut fields = vec![
            ("resourceType", J::from(rtype)),
            ("id", J::from(&id)),
            ("meta", j!({ "versionId": "1", "lastUpdated": (lu_s.clone()) })),
        ];
        if let J::Obj(kv) = body {
            fields.extend(kv);
        }
        if rtype == "Observation" {
            fields.push(("issued", J::from(lu_s)));
        }
        let body = J::Obj(fields);
        self.res.push(Res {
            rtype,
            id,
            version: 1,
            lu_ms: (lu.unix_timestamp_nanos() / 1_000_000) as i64,
            clinical: t.date(),
            body,
            delete: false,
        });
        self.res.len() - 1
    }

    /// A new version of `res[i]` (changed by `edit`), `delay_min` after the previous one.
    fn revise(&mut self, i: usize, delay_min: (i64, i64), edit: impl FnOnce(&mut J)) -> usize {
        let prev = &self.res[i];
        let (rtype, id, clinical) = (prev.rtype, prev.id.clone(), prev.clinical);
        let version =
            self.res.iter().filter(|r| r.rtype == rtype && r.id == id).map(|r| r.version).max().unwrap_or(1) + 1;
        let last_ms = self.res.iter().filter(|r| r.rtype == rtype && r.id == id).map(|r| r.lu_ms).max().unwrap_or(0);
        let mut body = self.res[i].body.clone();
        edit(&mut body);
        let ms = last_ms + self.r(delay_min.0 * 60_000..=delay_min.1 * 60_000);
        let lu = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).expect("valid instant");
        body["meta"]["versionId"] = j!(version.to_string());
        body["meta"]["lastUpdated"] = j!(self.fmt_lu(lu));
        self.res.push(Res { rtype, id, version, lu_ms: ms, clinical, body, delete: false });
        self.res.len() - 1
    }

    fn delete(&mut self, i: usize, delay_min: (i64, i64)) {
        let j = self.revise(i, delay_min, |_| {});
        self.res[j].delete = true;
    }

    fn patient(&mut self, registered: Date) {
        let t = self.clock(registered);
        let gender = if self.p(0.5) { "female" } else { "male" };
        let body = j!({
            "identifier": [{ "system": "https://islet.dev/fhir/synthetic-patient", "value": self.pid.to_uppercase() }],
            "active": true,
            "gender": gender,
            "birthDate": self.birth.to_string(),
        });
        let i = self.emit("Patient", "pat", t, (0, 30), body);
        // The Patient's id is the bare synthetic id.
        let pid = self.pid.clone();
        self.res[i].id = pid.clone();
        self.res[i].body["id"] = j!(pid);
    }

    /// Tag every Patient version as test data and with its archetype and variant.
    fn tag_patient(&mut self) {
        let tags = j!([
            coding_d("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST", "test health data"),
            { "system": ARCHETYPE_SYSTEM, "code": self.archetype.code(), "display": (&self.variant) },
        ]);
        for r in self.res.iter_mut().filter(|r| r.rtype == "Patient") {
            r.body["meta"]["tag"] = tags.clone();
        }
    }

    /// Move a resource's clinical date back to a day between `start` and
    /// `latest` (history recorded at this visit; `start` is the earliest
    /// clinical date of the cohort).
    fn backdate(&mut self, i: usize, latest: Date) {
        let d = if latest > self.start {
            self.start + Duration::days(self.r(0..=(latest - self.start).whole_days()))
        } else {
            self.start
        };
        let t = self.clock(d);
        let s = self.local(t);
        let b = &mut self.res[i].body;
        for key in ["onsetDateTime", "performedDateTime"] {
            if b.get(key).is_some() {
                b[key] = j!(if key == "onsetDateTime" { d.to_string() } else { s.clone() });
            }
        }
        self.res[i].clinical = d;
    }

    fn condition(&mut self, d: Date, code: J, body_site: Option<J>, onset_date_only: bool) -> usize {
        let t = self.clock(d);
        let onset = if onset_date_only { d.to_string() } else { self.local(t) };
        let mut body = j!({
            "clinicalStatus": cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")], "Active"),
            "verificationStatus": cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")], "Confirmed"),
            "category": [cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")], "Problem list item")],
            "code": code,
            "subject": { "reference": (&self.pref) },
            "onsetDateTime": onset,
            "recordedDate": self.local(t),
        });
        if let Some(site) = body_site {
            body["bodySite"] = site;
        }
        self.emit("Condition", "cond", t, (10, 3 * 24 * 60), body)
    }

    /// The pNET diagnosis, in one of the coding styles the contract accepts.
    fn pnet(&mut self, d: Date, grade: u8) -> usize {
        let date_only = self.p(0.4);
        let pick = self.r(0..100);
        let text = "Pancreatic neuroendocrine tumour";
        let (code, site) = if pick < 35 {
            let mut cs = vec![coding(SCT, "735735001")];
            if self.p(0.5) {
                cs.push(coding_d(ICD10, "C25.4", "Malignant neoplasm of endocrine pancreas"));
            }
            (cc(cs, text), None)
        } else if pick < 65 {
            (cc(vec![coding_d(ICD10, "C25.4", "Malignant neoplasm of endocrine pancreas")], text), None)
        } else if pick < 85 {
            let m = if grade >= 2 { "8249/3" } else { "8240/3" };
            (cc(vec![coding(ICDO3, m)], text), Some(pancreas_site()))
        } else if pick < 95 {
            (cc(vec![coding(ICD10, "C7A.8")], text), Some(pancreas_site()))
        } else {
            let c = self.pick(&["254611009", "187794005", "254612002", "93843007"]);
            (cc(vec![coding(SCT, c)], text), None)
        };
        self.condition(d, code, site, date_only)
    }

    fn syndrome(&mut self, d: Date, s: Syn) -> usize {
        let alt = self.p(0.5);
        let (code, site) = match s {
            Syn::NonFunctioning => {
                if alt {
                    (cc(vec![coding(SCT, "703816006")], "Non-functioning pancreatic NET"), None)
                } else {
                    (islet_cc("non-functioning", "Non-functioning pancreatic NET"), None)
                }
            }
            Syn::Insulinoma => match self.r(0..3) {
                0 => (cc(vec![coding(SCT, "713189001")], "Insulinoma"), None),
                1 => (cc(vec![coding_d(ICD10, "E16.1", "Other hypoglycemia")], "Insulinoma with hypoglycaemia"), None),
                _ => (cc(vec![coding(ICDO3, "8151/3")], "Malignant insulinoma"), Some(pancreas_site())),
            },
            Syn::Gastrinoma => {
                if alt {
                    (
                        cc(
                            vec![coding_d(ICD10, "E16.4", "Increased secretion of gastrin")],
                            "Zollinger-Ellison syndrome",
                        ),
                        None,
                    )
                } else {
                    (cc(vec![coding(ICDO3, "8153/3")], "Gastrinoma"), Some(pancreas_site()))
                }
            }
            Syn::Glucagonoma => {
                if alt {
                    (
                        cc(vec![coding_d(ICD10, "E16.3", "Increased secretion of glucagon")], "Glucagonoma syndrome"),
                        None,
                    )
                } else {
                    (cc(vec![coding(ICDO3, "8152/3")], "Glucagonoma"), Some(pancreas_site()))
                }
            }
            Syn::Vipoma => {
                if alt {
                    (
                        cc(vec![coding(ICD10, "E16.8"), coding(ISLET, "vipoma")], "VIPoma (Verner-Morrison syndrome)"),
                        None,
                    )
                } else {
                    (cc(vec![coding(ICDO3, "8155/3")], "VIPoma"), Some(pancreas_site()))
                }
            }
            Syn::Somatostatinoma => {
                if alt {
                    (islet_cc("somatostatinoma", "Somatostatinoma"), None)
                } else {
                    (cc(vec![coding(ICDO3, "8156/3")], "Somatostatinoma"), Some(pancreas_site()))
                }
            }
        };
        self.condition(d, code, site, false)
    }

    fn men1(&mut self, d: Date) -> usize {
        let code = if self.p(0.5) {
            cc(vec![coding_d(ICD10, "E31.21", "Multiple endocrine neoplasia [MEN] type I")], "MEN1")
        } else {
            cc(vec![coding(SCT, "30664006")], "Multiple endocrine neoplasia, type 1")
        };
        let onset = d - self.days(30, 3000);
        let i = self.condition(d, code, None, true);
        self.backdate(i, onset);
        i
    }

    fn metastasis(&mut self, d: Date, m: Meta) -> usize {
        let pick = self.r(0..10);
        let (code, site) = match m {
            Meta::Liver => match pick {
                0..=4 => (cc(vec![coding(SCT, "94381002")], "Liver metastases"), None),
                5 | 6 => (
                    cc(
                        vec![coding_d(
                            ICD10,
                            "C78.7",
                            "Secondary malignant neoplasm of liver and intrahepatic bile duct",
                        )],
                        "Liver metastases",
                    ),
                    None,
                ),
                7 | 8 => (
                    cc(
                        vec![coding_d(ICD10, "C7B.02", "Secondary carcinoid tumors of liver")],
                        "Liver metastases of NET",
                    ),
                    None,
                ),
                _ => (cc(vec![coding(SCT, "128462008")], "Metastatic disease, liver"), Some(liver_site())),
            },
            Meta::Bone => match pick {
                0..=4 => (cc(vec![coding(SCT, "94222008")], "Bone metastases"), None),
                5..=7 => (
                    cc(vec![coding_d(ICD10, "C79.51", "Secondary malignant neoplasm of bone")], "Bone metastases"),
                    None,
                ),
                _ => (
                    cc(vec![coding_d(ICD10, "C7B.03", "Secondary carcinoid tumors of bone")], "Bone metastases of NET"),
                    None,
                ),
            },
            Meta::Lung => match pick {
                0..=4 => (cc(vec![coding(SCT, "94391008")], "Lung metastases"), None),
                5..=7 => (cc(vec![coding(ICD10, "C78.01")], "Lung metastases"), None),
                _ => (cc(vec![coding(ICD10, "C78.00")], "Lung metastases"), None),
            },
            Meta::Nodes => match pick {
                0..=4 => (
                    cc(
                        vec![coding_d(ICD10, "C7B.01", "Secondary carcinoid tumors of distant lymph nodes")],
                        "Distant nodal metastases",
                    ),
                    None,
                ),
                5..=7 => (cc(vec![coding(SCT, "94392001")], "Distant nodal metastases"), None),
                _ => (cc(vec![coding(ICD10, "C77.2")], "Intra-abdominal nodal metastases"), None),
            },
        };
        self.condition(d, code, site, false)
    }

    fn portal_vein_occlusion(&mut self, d: Date) -> usize {
        let code = if self.p(0.5) {
            cc(vec![coding(SCT, "17920008")], "Portal vein occlusion")
        } else {
            cc(vec![coding_d(ICD10, "I81", "Portal vein thrombosis")], "Portal vein thrombosis")
        };
        self.condition(d, code, None, false)
    }

    fn liver_failure(&mut self, d: Date) -> usize {
        let code = if self.p(0.5) {
            cc(vec![coding(SCT, "59927004")], "Hepatic failure")
        } else {
            cc(vec![coding(ICD10, "K72.10")], "Chronic hepatic failure")
        };
        self.condition(d, code, None, false)
    }

    fn obs(
        &mut self,
        d: Date,
        category: &'static str,
        code: J,
        value: (&'static str, J),
        delay_min: (i64, i64),
    ) -> usize {
        let t = self.clock(d);
        let mut body = j!({
            "status": "final",
            "category": [cc(vec![coding("http://terminology.hl7.org/CodeSystem/observation-category", category)], category)],
            "code": code,
            "subject": { "reference": (&self.pref) },
            "effectiveDateTime": self.local(t),
        });
        body[value.0] = value.1;
        self.emit("Observation", "obs", t, delay_min, body)
    }

    fn coded_obs(
        &mut self,
        d: Date,
        category: &'static str,
        code: &'static str,
        text: &'static str,
        value: &'static str,
    ) -> usize {
        self.obs(d, category, islet_cc(code, text), ("valueCodeableConcept", islet_cc(value, value)), (5, 2 * 24 * 60))
    }

    fn ki67(&mut self, d: Date, v: f64) -> usize {
        let code = if self.style.ki67_islet {
            islet_cc("ki67-index", "Ki-67 proliferation index")
        } else {
            cc(vec![coding(LOINC, "29593-1")], "Ki-67 proliferation index")
        };
        // Pathology: reported days after the biopsy.
        let i = self.obs(d, "laboratory", code, ("valueQuantity", ucum(v, "%", "%")), (2 * 24 * 60, 12 * 24 * 60));
        self.maybe_preliminary(i);
        i
    }

    fn mitoses(&mut self, d: Date, v: f64) -> usize {
        let q = if self.style.mitoses_hpf {
            ucum(v, "mitoses/HPF", "/[HPF]")
        } else {
            ucum(v, "mitoses per 10 HPF", "{#}")
        };
        let i = self.obs(
            d,
            "laboratory",
            islet_cc("mitotic-count", "Mitotic count per 10 HPF"),
            ("valueQuantity", q),
            (2 * 24 * 60, 12 * 24 * 60),
        );
        self.res[i].body["method"] = j!({ "text": "Count per 10 high-power fields" });
        i
    }

    fn who_grade(&mut self, d: Date, g: u8) -> usize {
        let code = format!("G{g}");
        self.obs(
            d,
            "laboratory",
            islet_cc("who-grade", "WHO 2010 grade"),
            ("valueCodeableConcept", islet_cc(&code, &code)),
            (2 * 24 * 60, 12 * 24 * 60),
        )
    }

    /// Chromogranin A, `ng_ml` in ng/mL, converted to the patient's lab unit.
    fn cga(&mut self, d: Date, ng_ml: f64) -> usize {
        let (code, value, high, unit, ucum_code) = match self.style.cga {
            0 => ("9811-1", round1(ng_ml), 100.0, "ng/mL", "ng/mL"),
            1 => ("9811-1", round1(ng_ml), 98.1, "µg/L", "ug/L"),
            2 => ("25587-7", (ng_ml / 49.0 * 100.0).round() / 100.0, 3.0, "nmol/L", "nmol/L"),
            _ => ("30169-7", round1(ng_ml / 5.5), 18.0, "U/L", "U/L"),
        };
        let value = if value <= 0.0 { 0.1 } else { value };
        let i = self.obs(
            d,
            "laboratory",
            cc(vec![coding(LOINC, code)], "Chromogranin A"),
            ("valueQuantity", ucum(value, unit, ucum_code)),
            (60, 2 * 24 * 60),
        );
        self.res[i].body["referenceRange"] = j!([{ "high": ucum(high, unit, ucum_code) }]);
        i
    }

    fn pp(&mut self, d: Date, pg_ml: f64) -> usize {
        let i = self.obs(
            d,
            "laboratory",
            cc(vec![coding(LOINC, "2721-9")], "Pancreatic polypeptide"),
            ("valueQuantity", ucum(pg_ml.round(), "pg/mL", "pg/mL")),
            (60, 3 * 24 * 60),
        );
        self.res[i].body["referenceRange"] = j!([{ "high": ucum(300.0, "pg/mL", "pg/mL") }]);
        i
    }

    /// Largest diameter of the primary (`liver` false) or of a liver lesion.
    fn size(&mut self, d: Date, mm: f64, liver: bool) -> usize {
        let q = if self.style.size_cm { ucum(round1(mm / 10.0), "cm", "cm") } else { ucum(mm.round(), "mm", "mm") };
        let i = match self.style.size_form {
            0 => self.obs(
                d,
                "imaging",
                cc(vec![coding(LOINC, "33728-7")], "Tumour size, greatest dimension"),
                ("valueQuantity", q),
                (60, 3 * 24 * 60),
            ),
            1 => {
                let comp =
                    j!([{ "code": cc(vec![coding(LOINC, "33728-7")], "Greatest dimension"), "valueQuantity": q }]);
                self.obs(
                    d,
                    "imaging",
                    cc(vec![coding(LOINC, "21889-1")], "Tumour size"),
                    ("component", comp),
                    (60, 3 * 24 * 60),
                )
            }
            _ => self.obs(
                d,
                "imaging",
                cc(vec![coding(LOINC, "21889-1")], "Tumour size"),
                ("valueQuantity", q),
                (60, 3 * 24 * 60),
            ),
        };
        if liver {
            self.res[i].body["bodySite"] = liver_site()[0].clone();
        } else if self.style.pancreas_site {
            self.res[i].body["bodySite"] = pancreas_site()[0].clone();
        }
        self.res[i].body["method"] =
            j!({ "text": self.pick(&["Contrast-enhanced CT", "MRI", "Endoscopic ultrasound"]) });
        self.maybe_preliminary(i);
        i
    }

    fn liver_lesions(&mut self, d: Date, n: i64) -> usize {
        self.obs(
            d,
            "imaging",
            islet_cc("liver-lesion-count", "Number of liver lesions"),
            ("valueInteger", j!(n)),
            (60, 3 * 24 * 60),
        )
    }

    fn liver_involvement(&mut self, d: Date, pct: f64) -> usize {
        self.obs(
            d,
            "imaging",
            islet_cc("liver-involvement", "Liver volume replaced by tumour"),
            ("valueQuantity", ucum(pct.round(), "%", "%")),
            (60, 3 * 24 * 60),
        )
    }

    fn sstr(&mut self, d: Date, s: Sstr, krenning: Option<u8>) {
        let v = match s {
            Sstr::Positive => "positive",
            Sstr::Negative => "negative",
            Sstr::Equivocal => "equivocal",
        };
        let i = self.coded_obs(d, "imaging", "sstr-imaging", "Somatostatin receptor imaging", v);
        let method = self.pick(&[
            "68Ga-DOTATATE PET/CT",
            "68Ga-DOTATOC PET/CT",
            "111In-pentetreotide scintigraphy (Octreoscan)",
        ]);
        self.res[i].body["method"] = j!({ "text": method });
        if let Some(k) = krenning {
            self.obs(
                d,
                "imaging",
                islet_cc("krenning-score", "Krenning uptake score"),
                ("valueInteger", j!(k)),
                (60, 3 * 24 * 60),
            );
        }
    }

    fn status(&mut self, d: Date, s: Status) -> usize {
        if self.style.recist && s != Status::Undetermined {
            let v = match s {
                Status::Improved => "PR",
                Status::Stable => "SD",
                _ => "PD",
            };
            self.coded_obs(d, "imaging", "recist-response", "RECIST 1.1 response", v)
        } else {
            let (code, text) = match s {
                Status::Improved => ("268910001", "Patient's condition improved"),
                Status::Stable => ("359746009", "Patient's condition stable"),
                Status::Worsened => ("271299001", "Patient's condition worsened"),
                Status::Undetermined => ("709137006", "Patient condition undetermined"),
            };
            self.obs(
                d,
                "exam",
                cc(vec![coding(LOINC, "97509-4")], "Cancer disease status"),
                ("valueCodeableConcept", cc(vec![coding(SCT, code)], text)),
                (30, 2 * 24 * 60),
            )
        }
    }

    fn ecog(&mut self, d: Date, v: u8) -> usize {
        self.obs(
            d,
            "survey",
            cc(vec![coding(LOINC, "89247-1")], "ECOG performance status"),
            ("valueInteger", j!(v)),
            (5, 24 * 60),
        )
    }

    fn resectability(&mut self, d: Date, v: &'static str) -> usize {
        self.coded_obs(d, "exam", "resectability", "Resectability (multidisciplinary board)", v)
    }

    fn liver_resectability(&mut self, d: Date, resectable: bool) -> usize {
        self.coded_obs(
            d,
            "exam",
            "liver-resectability",
            "Liver metastases resectable",
            if resectable { "resectable" } else { "unresectable" },
        )
    }

    /// Octreotide suppression test (functioning tumours, before SSA).
    fn octreotide_test(&mut self, d: Date, positive: bool) -> usize {
        self.coded_obs(
            d,
            "procedure",
            "octreotide-test",
            "Octreotide suppression test",
            if positive { "positive" } else { "negative" },
        )
    }

    fn hormonal(&mut self, d: Date, v: &'static str) -> usize {
        self.coded_obs(d, "exam", "hormonal-symptoms", "Hormonal symptoms", v)
    }

    fn drug_cc(&mut self, drug: Drug, escalated: bool) -> J {
        let mut cs = Vec::new();
        if self.style.drug_islet && !drug.islet.is_empty() {
            cs.push(coding(ISLET, drug.islet));
        } else if let (Some(old), true) = (drug.atc_old, self.p(0.2)) {
            cs.push(coding_d(ATC, old, drug.name));
        } else {
            cs.push(coding_d(ATC, drug.atc, drug.name));
        }
        if escalated {
            cs.push(coding(ISLET, "ssa-escalated"));
        }
        cc(cs, drug.name)
    }

    fn dosage(drug: Drug, interval_days: Option<i64>) -> J {
        match interval_days {
            Some(p) => {
                j!([{ "text": drug.dose.replace("every 28 days", &format!("every {p} days")), "timing": { "repeat": { "frequency": 1, "period": p, "periodUnit": "d" } } }])
            }
            None => j!([{ "text": drug.dose }]),
        }
    }

    /// MedicationStatement; `escalated` SSA is written as the islet code or a ≤ 21-day interval.
    fn med_statement(
        &mut self,
        from: Date,
        to: Option<Date>,
        status: &'static str,
        drug: Drug,
        escalated: bool,
    ) -> usize {
        let t = self.clock(from);
        let ssa = drug.islet == "ssa";
        let (code_escalated, interval) = match (ssa, escalated) {
            (true, true) if self.p(0.5) => (true, None),
            (true, true) => (false, Some(self.pick(&[14, 21]))),
            (true, false) => (false, Some(28)),
            _ => (false, None),
        };
        let mut period = j!({ "start": self.local(t) });
        if let Some(end) = to {
            let te = self.clock(end);
            period["end"] = j!(self.local(te));
        }
        let body = j!({
            "status": status,
            "medicationCodeableConcept": self.drug_cc(drug, code_escalated),
            "subject": { "reference": (&self.pref) },
            "effectivePeriod": period,
            "dateAsserted": self.local(t),
            "dosage": Self::dosage(drug, interval),
        });
        self.emit("MedicationStatement", "ms", t, (30, 5 * 24 * 60), body)
    }

    /// Stop a running MedicationStatement: a new version, `completed` or `stopped`, with an end.
    fn stop(&mut self, i: usize, end: Date, status: &'static str) -> usize {
        let te = self.clock(end);
        let end_s = self.local(te);
        let delay = (end - self.res[i].clinical).whole_minutes().max(60);
        let j = self.revise(i, (delay, delay + 3 * 24 * 60), |b| {
            b["status"] = j!(status);
            b["effectivePeriod"]["end"] = j!(end_s);
        });
        self.res[j].clinical = end;
        j
    }

    fn med_request(&mut self, d: Date, status: &'static str, drug: Drug) -> usize {
        let t = self.clock(d);
        let intent = if status == "active" { "order" } else { "plan" };
        let body = j!({
            "status": status,
            "intent": intent,
            "medicationCodeableConcept": self.drug_cc(drug, false),
            "subject": { "reference": (&self.pref) },
            "authoredOn": self.local(t),
            "dosageInstruction": Self::dosage(drug, None),
        });
        self.emit("MedicationRequest", "mr", t, (5, 24 * 60), body)
    }

    fn procedure(&mut self, d: Date, status: &'static str, p: Proc, outcome: Option<&'static str>) -> usize {
        let t = self.clock(d);
        let alt = self.p(0.5);
        let mut body = j!({
            "status": status,
            "code": p.code(alt),
            "subject": { "reference": (&self.pref) },
        });
        if status == "in-progress" {
            body["performedPeriod"] = j!({ "start": self.local(t) });
        } else {
            body["performedDateTime"] = j!(self.local(t));
        }
        if let Some(o) = outcome {
            body["outcome"] = islet_cc(
                o,
                if o == "curative" { "R0 resection, curative intent" } else { "Debulking (cytoreductive) resection" },
            );
        }
        if p == Proc::PrimaryResection {
            let text = self.pick(&[
                "Distal pancreatectomy with splenectomy",
                "Pancreaticoduodenectomy (Whipple)",
                "Enucleation",
                "Central pancreatectomy",
            ]);
            body["code"]["text"] = j!(text);
            body["bodySite"] = pancreas_site();
        }
        self.emit("Procedure", "proc", t, (60, 4 * 24 * 60), body)
    }

    fn service_request(&mut self, d: Date, status: &'static str, p: Proc) -> usize {
        let t = self.clock(d);
        let alt = self.p(0.5);
        let intent = if status == "active" { "order" } else { "plan" };
        let body = j!({
            "status": status,
            "intent": intent,
            "code": p.code(alt),
            "subject": { "reference": (&self.pref) },
            "authoredOn": self.local(t),
        });
        self.emit("ServiceRequest", "sr", t, (5, 24 * 60), body)
    }

    /// A planned intervention in one of the shapes the contract accepts as "planned".
    fn plan(&mut self, d: Date, p: Proc) -> usize {
        match self.r(0..10) {
            0..=5 => self.service_request(d, "active", p),
            6 | 7 => {
                let s = if self.p(0.5) { "draft" } else { "on-hold" };
                self.service_request(d, s, p)
            }
            _ => self.procedure(d, "preparation", p, None),
        }
    }

    /// 1 in 20 pathology or imaging results arrives `preliminary` and is made final later.
    fn maybe_preliminary(&mut self, i: usize) {
        if self.p(0.05) {
            self.res[i].body["status"] = j!("preliminary");
            if self.p(0.8) {
                self.revise(i, (6 * 60, 6 * 24 * 60), |b| b["status"] = j!("final"));
            }
        }
    }

    // -- shared clinical building blocks -----------------------------------

    fn ki67_for(&mut self, grade: u8) -> f64 {
        let boundary = self.p(0.25);
        match grade {
            1 if boundary => 2.0,
            1 => self.pick(&[0.5, 0.8, 1.0, 1.0, 1.2, 1.5, 1.5, 1.8]),
            2 if boundary => self.pick(&[2.5, 3.0, 20.0]),
            2 => round1(self.r(3.0..19.0)),
            _ if boundary => 20.1,
            _ => round1(self.r(21.0..85.0)),
        }
    }

    fn mitoses_for(&mut self, grade: u8) -> f64 {
        match grade {
            1 => self.r(0..=1) as f64,
            2 => self.r(2..=12) as f64,
            _ => self.r(21..=60) as f64,
        }
    }

    fn cga_value(&mut self, lo: f64, hi: f64) -> f64 {
        round1(self.r(lo.ln()..hi.ln()).exp())
    }

    /// Standard work-up from the diagnosis date; returns the board date.
    fn workup(&mut self, d0: Date, w: &Workup) -> Date {
        if let Some(mm) = w.primary_mm {
            self.size(d0, mm, false);
        }
        if let Some(mode) = w.discovery {
            self.coded_obs(d0, "exam", "discovery-mode", "Discovery mode", mode);
        }
        let biopsy = d0 + self.days(5, 20);
        if let Some(k) = w.ki67 {
            self.ki67(biopsy, k);
        }
        if let Some(m) = w.mitoses {
            self.mitoses(biopsy, m);
        }
        if let Some(g) = w.who_grade {
            self.who_grade(biopsy, g);
        }
        let lab = d0 + self.days(0, 14);
        if let Some(v) = w.cga {
            self.cga(lab, v);
        }
        if let Some(v) = w.pp {
            self.pp(lab, v);
        }
        if let Some(s) = w.sstr {
            let d = d0 + self.days(14, 40);
            self.sstr(d, s, w.krenning);
        }
        let board = d0 + self.days(35, 60);
        if let Some(e) = w.ecog {
            self.ecog(board, e);
        }
        board
    }

    /// The usual start: Patient, pNET diagnosis, optionally an explicit syndrome.
    fn open(&mut self, d0: Date, grade: u8, syndrome: Option<Syn>) {
        let reg = d0 - self.days(1, 90);
        self.patient(reg);
        let dx = d0 + self.days(7, 30);
        self.pnet(dx, grade);
        if let Some(s) = syndrome {
            self.syndrome(dx, s);
        }
    }

    /// Full work-up for a well-differentiated tumour of `grade`.
    fn standard_workup(
        &mut self,
        grade: u8,
        primary_mm: f64,
        cga: (f64, f64),
        sstr: Sstr,
        krenning: Option<u8>,
    ) -> Workup {
        let ki67 = self.ki67_for(grade);
        let mitoses = self.p(0.25).then(|| self.mitoses_for(grade));
        let who = self.p(0.1).then_some(grade);
        let cga = self.cga_value(cga.0, cga.1);
        let pp = self.p(0.1).then(|| self.r(80.0..900.0));
        let ecog = self.p(0.4).then(|| self.r(0..=1));
        Workup {
            ki67: Some(ki67),
            mitoses,
            who_grade: who,
            primary_mm: Some(primary_mm),
            cga: Some(cga),
            pp,
            sstr: Some(sstr),
            krenning,
            ecog,
            discovery: None,
        }
    }

    fn krenning_positive(&mut self) -> u8 {
        self.r(2..=4)
    }

    /// Liver disease picture at `d`: lesion size, count, involvement.
    fn liver_picture(&mut self, d: Date, largest_mm: f64, count: i64, involvement: f64) {
        let with_count = self.p(0.35);
        self.liver_picture_counted(d, largest_mm, with_count.then_some(count), involvement);
    }

    fn liver_picture_counted(&mut self, d: Date, largest_mm: f64, count: Option<i64>, involvement: f64) {
        self.size(d, largest_mm, true);
        if let Some(count) = count {
            self.liver_lesions(d, count);
        }
        self.liver_involvement(d, involvement);
    }

    /// Restaging every 3–6 months from `from` while before `until`: status, liver size, CgA.
    fn restage(
        &mut self,
        from: Date,
        until: Date,
        status: Status,
        liver_mm: &mut f64,
        growth_mm: f64,
        cga: &mut f64,
    ) -> Date {
        let mut d = from;
        while d < until {
            self.status(d, status);
            *liver_mm += growth_mm;
            if *liver_mm > 0.0 && self.p(0.5) {
                self.size(d, *liver_mm, true);
            }
            if self.p(0.3) {
                *cga *= match status {
                    Status::Worsened => self.r(1.2..1.8),
                    Status::Improved => self.r(0.5..0.9),
                    _ => self.r(0.85..1.15),
                };
                let c = *cga;
                self.cga(d, c);
            }
            d += self.days(85, 200);
        }
        d
    }

    fn ssa_drug(&mut self) -> Drug {
        match self.r(0..20) {
            0..=9 => LANREOTIDE,
            10..=18 => OCTREOTIDE,
            _ => PASIREOTIDE,
        }
    }

    /// A birth date making the patient `lo`–`hi` years old at `start`.
    fn birth_for_age(&self, lo: i64, hi: i64) -> Date {
        self.start - Duration::days(self.r(lo * 365 + 1..=hi * 365))
    }

    fn tag(&mut self, v: &str) {
        self.variant = v.to_string();
    }

    // -- archetypes -------------------------------------------------------

    fn build(&mut self) {
        match self.archetype {
            Archetype::Surveillance => self.surveillance(),
            Archetype::WorkupGaps => self.workup_gaps(),
            Archetype::Resectable => self.resectable(),
            Archetype::VascularUnresectable => self.vascular_unresectable(),
            Archetype::SurgeryAgainstAdvice => self.surgery_against_advice(),
            Archetype::MetastaticG1Ssa => self.metastatic_g1_ssa(),
            Archetype::G2ProgressingAfterChemo => self.g2_after_chemo(),
            Archetype::TargetedFirstLine => self.targeted_first_line(),
            Archetype::G3Nec => self.g3_nec(),
            Archetype::Men1 => self.men1_patient(),
            Archetype::Insulinoma => self.insulinoma(),
            Archetype::Gastrinoma => self.gastrinoma(),
            Archetype::OtherFunctioning => self.other_functioning(),
            Archetype::TransplantCandidate => self.transplant(true),
            Archetype::TransplantIneligible => self.transplant(false),
            Archetype::LiverDirected => self.liver_directed(),
            Archetype::EmbolizationContraindicated => self.embolization_contraindicated(),
            Archetype::PrrtWithoutUptake => self.prrt_without_uptake(),
            Archetype::DataProblems => self.data_problems(),
        }
        self.tag_patient();
        let g3 = matches!(self.archetype, Archetype::G3Nec);
        if self.p(if g3 { 0.2 } else { 0.02 }) {
            self.decease();
        }
    }

    /// Small incidental non-functioning tumour, surveillance schedule with
    /// attendance that is good, patchy, or stops.
    fn surveillance(&mut self) {
        let d0 = self.start + self.days(0, SPAN_DAYS - 30);
        let adherence = self.r(0..10);
        let (attend, late, dropout_after) = match adherence {
            0..=4 => (0.95, 21, 99),
            5..=7 => (0.6, 60, 99),
            _ => (0.9, 21, self.r(0..4)),
        };
        let grows = self.p(0.08);
        self.tag(match (adherence, grows) {
            (_, true) => "grows past 20 mm",
            (0..=4, _) => "good attendance",
            (5..=7, _) => "patchy attendance",
            _ => "drops out",
        });
        let nf = self.p(0.35).then_some(Syn::NonFunctioning);
        self.open(d0, 1, nf);
        if self.p(0.03) {
            let code = cc(vec![coding_d(ICD10, "Q85.83", "Von Hippel-Lindau syndrome")], "Von Hippel-Lindau disease");
            let i = self.condition(d0 + Duration::days(10), code, None, true);
            self.backdate(i, d0 - Duration::days(2000));
        }
        let mut mm = round1(self.r(6.0..19.0));
        let grade = if self.p(0.8) { 1 } else { 2 };
        let mut w = self.standard_workup(grade, mm, (30.0, 140.0), Sstr::Positive, None);
        w.sstr = match self.r(0..20) {
            0..=11 => Some(Sstr::Positive),
            12..=16 => None,
            _ => Some(Sstr::Equivocal),
        };
        w.discovery = self.p(0.7).then_some("incidental");
        w.ecog = None;
        w.pp = None;
        let mut cga = w.cga.unwrap_or(60.0);
        self.workup(d0, &w);
        for (k, months) in [3u32, 6, 9, 12, 18, 24, 30, 36].into_iter().enumerate() {
            if k >= dropout_after || !self.p(attend) {
                continue;
            }
            let due = add_months(d0, months);
            let visit = due + self.days(-14, late);
            mm += if grows { self.r(1.0..4.0) } else { self.r(-0.5..0.8) };
            mm = round1(mm.max(4.0));
            self.size(visit, mm, false);
            if self.p(0.75) {
                cga = round1(cga * self.r(0.85..1.2));
                self.cga(visit, cga);
            }
            if mm >= 20.0 {
                // Growth past 2 cm: the board now recommends resection.
                let board = visit + self.days(7, 30);
                self.resectability(board, "complete");
                if self.p(0.5) {
                    self.procedure(board + self.days(20, 60), "completed", Proc::PrimaryResection, Some("curative"));
                }
                break;
            }
        }
    }

    /// A pNET diagnosis with some of grading, SSTR imaging, CgA missing.
    fn workup_gaps(&mut self) {
        let d0 = self.diagnosis_date(120);
        let missing = self.r(1..8u8); // bit 1 grading, 2 SSTR, 4 CgA
        self.tag(&format!(
            "missing:{}{}{}",
            if missing & 1 != 0 { " grading" } else { "" },
            if missing & 2 != 0 { " sstr" } else { "" },
            if missing & 4 != 0 { " cga" } else { "" }
        ));
        let grade = self.r(1..=2);
        self.open(d0, grade, None);
        let mm = round1(self.r(12.0..45.0));
        let mut w = self.standard_workup(grade, mm, (40.0, 400.0), Sstr::Positive, None);
        if missing & 1 != 0 {
            w.ki67 = None;
            w.mitoses = None;
            w.who_grade = None;
        }
        if missing & 2 != 0 {
            w.sstr = None;
        }
        if missing & 4 != 0 {
            w.cga = None;
        }
        w.discovery = self.pick(&[None, Some("incidental"), Some("symptomatic")]);
        self.workup(d0, &w);
    }

    /// Localized, well-differentiated tumour > 20 mm or board says resectable.
    fn resectable(&mut self) {
        let d0 = self.diagnosis_date(200);
        let grade = if self.p(0.6) { 1 } else { 2 };
        let small_symptomatic = self.p(0.15);
        let mm = if small_symptomatic { round1(self.r(12.0..19.0)) } else { round1(self.r(21.0..60.0)) };
        self.open(d0, grade, self.p(0.3).then_some(Syn::NonFunctioning));
        let k = self.krenning_positive();
        let mut w = self.standard_workup(grade, mm, (60.0, 300.0), Sstr::Positive, Some(k));
        w.discovery = Some(if small_symptomatic || self.p(0.5) { "symptomatic" } else { "incidental" });
        let board = self.workup(d0, &w);
        let r = if self.p(0.6) { "complete" } else { "ge-90" };
        self.resectability(board, r);
        let next = self.r(0..10);
        self.tag(match (small_symptomatic, next) {
            (true, _) => "small symptomatic, board resectable",
            (_, 0..=4) => "resected (curative)",
            (_, 5 | 6) => "resection planned",
            _ => "awaiting surgery",
        });
        match next {
            0..=4 => {
                let op = board + self.days(14, 60);
                self.procedure(op, "completed", Proc::PrimaryResection, Some("curative"));
                let after = op + self.days(80, 120);
                let c = self.cga_value(20.0, 90.0);
                self.cga(after, c);
            }
            5 | 6 => {
                self.plan(board + self.days(1, 14), Proc::PrimaryResection);
            }
            _ => {}
        }
    }

    fn vascular_unresectable(&mut self) {
        self.tag("unresectable only because of vascular involvement");
        let d0 = self.diagnosis_date(200);
        let grade = if self.p(0.6) { 1 } else { 2 };
        self.open(d0, grade, None);
        let mm = round1(self.r(30.0..55.0));
        let k = self.r(1..=4);
        let w = self.standard_workup(grade, mm, (80.0, 500.0), Sstr::Positive, Some(k));
        let board = self.workup(d0, &w);
        self.resectability(board, "unresectable-vascular");
        if self.p(0.5) {
            let s = self.ssa_drug();
            self.med_statement(board + self.days(7, 30), None, "active", s, false);
        }
    }

    /// Surgery planned where the guideline advises against it.
    fn surgery_against_advice(&mut self) {
        let d0 = self.diagnosis_date(200);
        let grade = if self.p(0.5) { 1 } else { 2 };
        let variant = self.r(0..3);
        self.tag(
            [
                "debulking planned (resectability < 90 %)",
                "primary resection planned with unresectable liver metastases",
                "surgery planned with bone metastases",
            ][variant],
        );
        self.open(d0, grade, None);
        let mm = round1(self.r(25.0..60.0));
        let k = self.krenning_positive();
        let w = self.standard_workup(grade, mm, (200.0, 2000.0), Sstr::Positive, Some(k));
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(5, 20), Meta::Liver);
        let lesion = round1(self.r(15.0..45.0));
        let count = self.r(3..12);
        let inv = self.r(10.0..40.0);
        self.liver_picture(d0 + self.days(0, 10), lesion, count, inv);
        match variant {
            0 => {
                self.resectability(board, "lt-90");
            }
            1 => {
                self.liver_resectability(board, false);
                if self.p(0.5) {
                    self.resectability(board, "ge-90");
                }
            }
            _ => {
                self.metastasis(d0 + self.days(14, 40), Meta::Bone);
                self.resectability(board, "ge-90");
            }
        }
        self.plan(board + self.days(1, 21), Proc::PrimaryResection);
    }

    /// Metastatic G1 on a somatostatin analogue.
    fn metastatic_g1_ssa(&mut self) {
        let d0 = self.diagnosis_date(500);
        let variant = self.r(0..10);
        self.tag(match variant {
            0..=4 => "stable on SSA",
            5..=7 => "progressing on standard-dose SSA",
            8 => "SSA started without receptor imaging",
            _ => "SSTR-negative, on interferon",
        });
        self.open(d0, 1, self.p(0.4).then_some(Syn::NonFunctioning));
        let mm = round1(self.r(18.0..50.0));
        let k = self.krenning_positive();
        let mut w = self.standard_workup(1, mm, (150.0, 3000.0), Sstr::Positive, Some(k));
        if variant == 8 {
            w.sstr = None;
            w.krenning = None;
        }
        if variant == 9 {
            w.sstr = Some(Sstr::Negative);
            w.krenning = Some(self.r(0..=1));
        }
        let mut cga = w.cga.unwrap_or(500.0);
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        let mut lesion = round1(self.r(12.0..48.0));
        let count = self.r(2..15);
        let inv = self.r(5.0..45.0);
        self.liver_picture(d0 + self.days(0, 10), lesion, count, inv);
        self.liver_resectability(board, false);
        if self.p(0.4) {
            self.resectability(board, "lt-90");
        }
        let drug = self.ssa_drug();
        let on = board + self.days(7, 30);
        let ms = if variant == 9 {
            self.med_statement(on, None, "active", INTERFERON, false);
            self.p(0.5).then(|| self.med_statement(on, None, "active", drug, false))
        } else {
            Some(self.med_statement(on, None, "active", drug, false))
        };
        let first = on + self.days(80, 120);
        match variant {
            5..=7 => {
                let until = first + self.days(60, 300);
                let d = self.restage(first, until, Status::Stable, &mut lesion, 0.5, &mut cga);
                self.status(d, Status::Worsened);
                self.size(d, lesion + self.r(5.0..15.0), true);
                if self.p(0.4) {
                    // Escalated: the standard course stops, a shortened interval starts.
                    if let Some(i) = ms {
                        let sw = d + self.days(10, 30);
                        self.stop(i, sw, "completed");
                        self.med_statement(sw, None, "active", drug, true);
                    }
                }
            }
            _ => {
                let until = first + self.days(60, 360);
                self.restage(first, until, Status::Stable, &mut lesion, 0.0, &mut cga);
            }
        }
    }

    /// G2 progressing through SSA and chemotherapy; targeted therapy next.
    fn g2_after_chemo(&mut self) {
        let d0 = self.diagnosis_date(700);
        let next = self.r(0..10);
        self.tag(match next {
            0..=3 => "progressed after chemotherapy, on everolimus",
            4..=5 => "progressed after chemotherapy, on sunitinib",
            6 => "progressed after chemotherapy, PRRT done",
            _ => "progressed after chemotherapy, no next line yet",
        });
        self.open(d0, 2, None);
        let mm = round1(self.r(25.0..70.0));
        let k = self.r(1..=4);
        let w = self.standard_workup(2, mm, (200.0, 4000.0), Sstr::Positive, Some(k));
        let mut cga = w.cga.unwrap_or(800.0);
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        if self.p(0.3) {
            self.metastasis(d0 + self.days(3, 30), Meta::Nodes);
        }
        let mut lesion = round1(self.r(20.0..60.0));
        let count = self.r(4..25);
        let inv = self.r(15.0..60.0);
        self.liver_picture(d0 + self.days(0, 10), lesion, count, inv);
        self.resectability(board, if self.p(0.5) { "unresectable" } else { "lt-90" });
        let ssa_on = board + self.days(7, 30);
        let drug = self.ssa_drug();
        let ssa = self.med_statement(ssa_on, None, "active", drug, false);
        let prog1 = ssa_on + self.days(150, 250);
        self.restage(ssa_on + self.days(80, 100), prog1, Status::Stable, &mut lesion, 1.0, &mut cga);
        self.status(prog1, Status::Worsened);
        self.stop(ssa, prog1 + self.days(5, 20), "stopped");
        let chemo_on = prog1 + self.days(14, 40);
        let regimen: &[Drug] = match self.r(0..4) {
            0 | 1 => &[STREPTOZOCIN, FLUOROURACIL],
            2 => &[STREPTOZOCIN, DOXORUBICIN],
            _ => &[CAPECITABINE, TEMOZOLOMIDE],
        };
        let chemo_off = chemo_on + self.days(120, 200);
        for &c in regimen {
            let status = if self.p(0.8) { "completed" } else { "stopped" };
            self.med_statement(chemo_on, Some(chemo_off), status, c, false);
        }
        if self.p(0.3) {
            self.ecog(chemo_on, self.r(0..=2));
        }
        let prog2 = chemo_off + self.days(30, 150);
        self.status(prog2, Status::Worsened);
        lesion += self.r(4.0..12.0);
        self.size(prog2, lesion, true);
        let line3 = prog2 + self.days(10, 40);
        match next {
            0..=3 => {
                self.med_statement(line3, None, "active", EVEROLIMUS, false);
            }
            4..=5 => {
                self.med_statement(line3, None, "active", SUNITINIB, false);
            }
            6 => {
                let form = self.r(0..3);
                if form == 0 {
                    self.procedure(line3, "completed", Proc::Prrt, None);
                } else if form == 1 {
                    // Cycles under way.
                    self.procedure(line3, "in-progress", Proc::Prrt, None);
                } else {
                    self.med_statement(line3, Some(line3 + self.days(160, 200)), "completed", LU177, false);
                }
            }
            _ => {}
        }
    }

    /// Everolimus or sunitinib planned or started with no prior chemotherapy.
    fn targeted_first_line(&mut self) {
        let d0 = self.diagnosis_date(250);
        let grade = if self.p(0.5) { 1 } else { 2 };
        let drug = if self.p(0.6) { EVEROLIMUS } else { SUNITINIB };
        let running = self.p(0.5);
        self.tag(&format!("{} {} without prior chemotherapy", drug.name, if running { "running" } else { "planned" }));
        self.open(d0, grade, None);
        let mm = round1(self.r(25.0..60.0));
        let k = self.r(0..=4);
        let w = self.standard_workup(grade, mm, (150.0, 2500.0), Sstr::Positive, Some(k));
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        self.liver_picture(d0 + self.days(0, 10), round1(self.r(15.0..50.0)), self.r(3..20), self.r(10.0..50.0));
        self.resectability(board, "unresectable");
        let d = board + self.days(7, 30);
        if running {
            if self.p(0.5) {
                self.med_statement(d, None, "active", drug, false);
            } else {
                self.med_request(d, "active", drug);
            }
        } else if self.p(0.2) {
            self.med_statement(d, None, "intended", drug, false);
        } else {
            let s = if self.p(0.7) { "draft" } else { "on-hold" };
            self.med_request(d, s, drug);
        }
    }

    /// Poorly differentiated G3 NEC on platinum-etoposide.
    fn g3_nec(&mut self) {
        let d0 = self.diagnosis_date(250);
        let variant = self.r(0..20);
        self.tag(match variant {
            0..=11 => "platinum-etoposide",
            12..=16 => "SSA running in non-functioning G3",
            _ => "TACE planned in G3",
        });
        self.patient(d0 - self.days(1, 60));
        let dx = d0 + self.days(7, 25);
        let date_only = self.p(0.4);
        match self.r(0..3) {
            0 => {
                self.condition(
                    dx,
                    cc(
                        vec![coding_d(ICD10, "C7A.1", "Malignant poorly differentiated neuroendocrine tumors")],
                        "Poorly differentiated NEC of pancreas",
                    ),
                    Some(pancreas_site()),
                    date_only,
                );
            }
            1 => {
                self.condition(
                    dx,
                    cc(vec![coding(ICDO3, "8246/3")], "Neuroendocrine carcinoma of pancreas"),
                    Some(pancreas_site()),
                    date_only,
                );
            }
            _ => {
                self.pnet(dx, 3);
                self.condition(
                    dx,
                    cc(vec![coding(SCT, "253000007")], "Poorly differentiated neuroendocrine carcinoma"),
                    None,
                    date_only,
                );
            }
        }
        if variant >= 12 || self.p(0.3) {
            self.syndrome(dx, Syn::NonFunctioning);
        }
        let ki = self.ki67_for(3);
        let mm = round1(self.r(30.0..80.0));
        let w = Workup {
            ki67: Some(ki),
            mitoses: self.p(0.5).then(|| self.mitoses_for(3)),
            who_grade: self.p(0.3).then_some(3),
            primary_mm: Some(mm),
            cga: self.p(0.7).then(|| self.cga_value(100.0, 3000.0)),
            pp: None,
            sstr: Some(if self.p(0.6) { Sstr::Negative } else { Sstr::Equivocal }),
            krenning: self.p(0.5).then(|| self.r(0..=2)),
            ecog: Some(self.r(1..=2)),
            discovery: Some("symptomatic"),
        };
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        if self.p(0.3) {
            self.metastasis(d0 + self.days(3, 30), Meta::Bone);
        }
        self.liver_picture(d0 + self.days(0, 10), round1(self.r(20.0..70.0)), self.r(5..30), self.r(15.0..70.0));
        let on = board + self.days(3, 20);
        let platinum = if self.p(0.6) { CISPLATIN } else { CARBOPLATIN };
        let done = self.p(0.4);
        let off = done.then(|| on + self.days(90, 130));
        let status = if done { "completed" } else { "active" };
        self.med_statement(on, off, status, platinum, false);
        self.med_statement(on, off, status, ETOPOSIDE, false);
        if let Some(off) = off {
            self.status(off, if self.p(0.5) { Status::Worsened } else { Status::Improved });
        }
        match variant {
            12..=16 => {
                let s = self.ssa_drug();
                if self.p(0.6) {
                    self.med_statement(on + self.days(0, 30), None, "active", s, false);
                } else {
                    self.med_request(on + self.days(0, 30), "draft", s);
                }
            }
            17..=19 => {
                self.plan(on + self.days(20, 60), Proc::Tace);
            }
            _ => {}
        }
    }

    /// MEN1 with pancreatic tumour(s) measured yearly.
    fn men1_patient(&mut self) {
        self.birth = self.birth_for_age(20, 50);
        let d0 = self.diagnosis_date(400);
        let variant = self.r(0..20);
        self.tag(match variant {
            0..=11 => "small, slow growth",
            12..=16 => "grows > 5 mm a year",
            _ => "larger than 20 mm",
        });
        let gastrinoma = self.p(0.2);
        self.open(d0, 1, Some(if gastrinoma { Syn::Gastrinoma } else { Syn::NonFunctioning }));
        self.men1(d0);
        let mut mm = match variant {
            0..=16 => round1(self.r(6.0..14.0)),
            _ => round1(self.r(21.0..35.0)),
        };
        let grade = if self.p(0.8) { 1 } else { 2 };
        let w = self.standard_workup(grade, mm, (30.0, 200.0), Sstr::Positive, None);
        self.workup(d0, &w);
        if gastrinoma {
            self.med_statement(
                d0 + self.days(20, 50),
                None,
                "active",
                if self.p(0.5) { ESOMEPRAZOLE } else { PANTOPRAZOLE },
                false,
            );
        }
        let yearly = match variant {
            0..=11 => (0.0, 3.0),
            12..=16 => (6.0, 9.0),
            _ => (0.0, 4.0),
        };
        let mut d = d0;
        for _ in 0..3 {
            d += self.days(330, 400);
            mm = round1(mm + self.r(yearly.0..yearly.1));
            self.size(d, mm, false);
            if self.p(0.6) {
                let c = self.cga_value(30.0, 200.0);
                self.cga(d, c);
            }
        }
    }

    fn insulinoma(&mut self) {
        let d0 = self.diagnosis_date(200);
        let variant = self.r(0..10);
        self.tag(match variant {
            0..=3 => "on diazoxide, awaiting surgery",
            4..=6 => "resected (curative)",
            _ => "hypoglycaemia uncontrolled",
        });
        self.open(d0, 1, Some(Syn::Insulinoma));
        let mm = round1(self.r(8.0..22.0));
        let mut w = self.standard_workup(1, mm, (30.0, 150.0), Sstr::Positive, None);
        if self.p(0.5) {
            w.sstr = Some(Sstr::Equivocal);
        }
        w.discovery = Some("symptomatic");
        let board = self.workup(d0, &w);
        if self.p(0.3) {
            let pos = self.p(0.8);
            self.octreotide_test(d0 + self.days(10, 30), pos);
        }
        self.hormonal(d0 + self.days(0, 10), if variant >= 7 { "uncontrolled" } else { "controlled" });
        if variant != 4 || self.p(0.5) {
            self.med_statement(d0 + self.days(3, 20), None, "active", DIAZOXIDE, false);
        }
        self.resectability(board, "complete");
        if (4..=6).contains(&variant) {
            self.procedure(board + self.days(14, 45), "completed", Proc::PrimaryResection, Some("curative"));
        }
    }

    fn gastrinoma(&mut self) {
        let d0 = self.diagnosis_date(300);
        let variant = self.r(0..10);
        self.tag(match variant {
            0..=4 => "on PPI",
            5..=6 => "metastatic, on SSA and PPI",
            _ => "uncontrolled symptoms on SSA",
        });
        let grade = if self.p(0.6) { 1 } else { 2 };
        self.open(d0, grade, Some(Syn::Gastrinoma));
        let mm = round1(self.r(10.0..35.0));
        let k = self.krenning_positive();
        let mut w = self.standard_workup(grade, mm, (100.0, 1500.0), Sstr::Positive, Some(k));
        w.discovery = Some("symptomatic");
        let board = self.workup(d0, &w);
        if self.p(0.3) {
            let pos = self.p(0.8);
            self.octreotide_test(d0 + self.days(10, 30), pos);
        }
        self.med_statement(
            d0 + self.days(0, 14),
            None,
            "active",
            if self.p(0.5) { ESOMEPRAZOLE } else { PANTOPRAZOLE },
            false,
        );
        if variant >= 5 {
            self.metastasis(d0 + self.days(5, 20), Meta::Liver);
            self.liver_picture(d0 + self.days(0, 10), round1(self.r(10.0..40.0)), self.r(1..8), self.r(5.0..30.0));
            self.liver_resectability(board, self.p(0.3));
            let s = self.ssa_drug();
            self.med_statement(board + self.days(5, 30), None, "active", s, false);
            let later = board + self.days(60, 200);
            self.hormonal(later, if variant >= 7 { "uncontrolled" } else { "controlled" });
        } else {
            self.resectability(board, if self.p(0.7) { "complete" } else { "ge-90" });
        }
    }

    fn other_functioning(&mut self) {
        let d0 = self.diagnosis_date(300);
        let syn = self.pick(&[Syn::Glucagonoma, Syn::Vipoma, Syn::Somatostatinoma]);
        let crisis = self.p(0.4);
        self.tag(&format!(
            "{} on SSA{}",
            match syn {
                Syn::Glucagonoma => "glucagonoma",
                Syn::Vipoma => "VIPoma",
                _ => "somatostatinoma",
            },
            if crisis { ", symptoms uncontrolled or crisis" } else { "" }
        ));
        let grade = if self.p(0.5) { 1 } else { 2 };
        self.open(d0, grade, Some(syn));
        let mm = round1(self.r(25.0..60.0));
        let k = self.krenning_positive();
        let mut w = self.standard_workup(grade, mm, (150.0, 2000.0), Sstr::Positive, Some(k));
        w.discovery = Some("symptomatic");
        let board = self.workup(d0, &w);
        if self.p(0.3) {
            let pos = self.p(0.8);
            self.octreotide_test(d0 + self.days(10, 30), pos);
        }
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        self.liver_picture(d0 + self.days(0, 10), round1(self.r(15.0..45.0)), self.r(2..12), self.r(10.0..40.0));
        let s = self.ssa_drug();
        let on = board + self.days(3, 20);
        self.med_statement(on, None, "active", s, false);
        self.hormonal(
            on + self.days(30, 150),
            if crisis {
                if self.p(0.3) {
                    "crisis"
                } else {
                    "uncontrolled"
                }
            } else {
                "controlled"
            },
        );
    }

    /// Liver-only metastatic disease after curative resection of the primary,
    /// stable for months after a progression on SSA: the Milan-NET picture.
    /// `eligible` false breaks one or two criteria and refers the patient anyway.
    fn transplant(&mut self, eligible: bool) {
        let mut fails: Vec<&str> = Vec::new();
        if !eligible {
            let all = ["age", "ki67", "extrahepatic", "involvement", "no-curative-resection", "not-stable"];
            let n = self.r(1..=2);
            fails = all.choose_multiple(&mut *self.rng.borrow_mut(), n).copied().collect();
        }
        let fail = |f: &str| fails.contains(&f);
        // Under 55 until the end of the span (three years after `start`).
        self.birth = if fail("age") { self.birth_for_age(57, 76) } else { self.birth_for_age(30, 50) };
        self.tag(&if eligible {
            "meets Milan-NET criteria".to_string()
        } else {
            format!("referred, fails: {}", fails.join(", "))
        });
        let d0 = self.diagnosis_date(860);
        let grade = if self.p(0.5) { 1 } else { 2 };
        self.open(d0, grade, Some(Syn::NonFunctioning));
        let ki = if fail("ki67") {
            round1(self.r(11.0..19.0))
        } else if grade == 1 {
            self.ki67_for(1)
        } else {
            round1(self.r(3.0..9.5))
        };
        let k = self.krenning_positive();
        let mut w = self.standard_workup(grade, round1(self.r(20.0..45.0)), (200.0, 2000.0), Sstr::Positive, Some(k));
        w.ki67 = Some(ki);
        w.mitoses = None;
        w.who_grade = None;
        w.ecog = Some(0);
        let mut cga = w.cga.unwrap_or(500.0);
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        if fail("extrahepatic") {
            self.metastasis(d0 + self.days(20, 60), if self.p(0.5) { Meta::Bone } else { Meta::Lung });
        }
        let inv = if fail("involvement") { self.r(55.0..75.0) } else { self.r(10.0..45.0) };
        let lesion = round1(self.r(15.0..40.0));
        self.liver_picture(d0 + self.days(0, 10), lesion, self.r(6..25), inv);
        self.liver_resectability(board, false);
        let op = board + self.days(14, 45);
        if fail("no-curative-resection") {
            if self.p(0.5) {
                self.procedure(op, "completed", Proc::PrimaryResection, Some("debulking"));
            }
        } else {
            self.procedure(op, "completed", Proc::PrimaryResection, Some("curative"));
        }
        let drug = self.ssa_drug();
        let ssa_on = op + self.days(30, 60);
        let ssa = self.med_statement(ssa_on, None, "active", drug, false);
        let prog = ssa_on + self.days(120, 200);
        self.status(prog, Status::Worsened);
        self.stop(ssa, prog + self.days(5, 20), "stopped");
        let second = prog + self.days(14, 40);
        if self.p(0.5) {
            self.med_statement(second, None, "active", EVEROLIMUS, false);
        } else {
            self.procedure(second, "completed", Proc::Prrt, None);
        }
        // Restaging about every 3 months: stable for ~9 months (>= 6), or
        // progressing again at the third visit.
        let mut d = second + self.days(80, 100);
        for k in 0..4 {
            let status = if fail("not-stable") && k == 2 { Status::Worsened } else { Status::Stable };
            self.status(d, status);
            if self.p(0.5) {
                self.size(d, lesion, true);
            }
            if self.p(0.3) {
                cga = round1(cga * self.r(0.85..1.15));
                self.cga(d, cga);
            }
            if status == Status::Worsened {
                break;
            }
            if k < 3 {
                d += self.days(88, 96);
            }
        }
        let after = d + self.days(0, 30);
        self.liver_involvement(after, inv);
        if !eligible || self.p(0.3) {
            self.plan(after + self.days(7, 30), Proc::LiverTransplant);
        }
    }

    /// Unresectable liver metastases suited to ablation, embolization or SIRT.
    fn liver_directed(&mut self) {
        let d0 = self.diagnosis_date(300);
        let variant = self.r(0..4);
        self.tag(
            [
                "few small lesions: ablation",
                "ablation planned, lesion > 50 mm",
                "embolization candidate",
                "extensive involvement: SIRT",
            ][variant],
        );
        let grade = if self.p(0.5) { 1 } else { 2 };
        self.open(d0, grade, None);
        let k = self.krenning_positive();
        let mut w = self.standard_workup(grade, round1(self.r(20.0..45.0)), (150.0, 2500.0), Sstr::Positive, Some(k));
        w.ecog = None;
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        let (lesion, count, inv) = match variant {
            0 => (self.r(12.0..45.0), self.r(1..=4), self.r(3.0..15.0)),
            1 => (self.r(55.0..85.0), self.r(1..=4), self.r(10.0..30.0)),
            2 => (self.r(20.0..60.0), self.r(6..30), self.r(15.0..45.0)),
            _ => (self.r(30.0..90.0), self.r(10..40), self.r(55.0..80.0)),
        };
        self.liver_picture_counted(d0 + self.days(0, 10), round1(lesion), Some(count), inv);
        self.liver_resectability(board, false);
        self.ecog(board, self.r(0..=2));
        let s = self.ssa_drug();
        self.med_statement(board + self.days(7, 30), None, "active", s, false);
        let d = board + self.days(20, 60);
        match variant {
            0 => {
                if self.p(0.5) {
                    self.procedure(d, "completed", Proc::LiverAblation, None);
                }
            }
            1 => {
                self.plan(d, Proc::LiverAblation);
            }
            2 => {
                if self.p(0.5) {
                    let p = if self.p(0.7) { Proc::Tace } else { Proc::Tae };
                    self.procedure(d, "completed", p, None);
                }
            }
            _ => {
                if self.p(0.5) {
                    self.plan(d, Proc::Sirt);
                }
            }
        }
    }

    /// TAE/TACE planned despite a contraindication.
    fn embolization_contraindicated(&mut self) {
        let d0 = self.diagnosis_date(300);
        let reason = self.r(0..5);
        self.tag(
            [
                "liver involvement ≥ 50 %",
                "portal vein occlusion",
                "liver failure",
                "biliary reconstruction",
                "ECOG ≥ 3",
            ][reason],
        );
        let grade = if self.p(0.5) { 1 } else { 2 };
        self.open(d0, grade, None);
        let k = self.krenning_positive();
        let mut w = self.standard_workup(grade, round1(self.r(20.0..50.0)), (200.0, 3000.0), Sstr::Positive, Some(k));
        w.ecog = None;
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        let inv = if reason == 0 { self.r(50.0..80.0) } else { self.r(15.0..45.0) };
        self.liver_picture(d0 + self.days(0, 10), round1(self.r(20.0..60.0)), self.r(5..30), inv);
        self.liver_resectability(board, false);
        let ecog = if reason == 4 { self.r(3..=4) } else { self.r(0..=1) };
        match reason {
            1 => {
                self.portal_vein_occlusion(board - self.days(0, 20));
            }
            2 => {
                self.liver_failure(board - self.days(0, 20));
            }
            3 => {
                // Whipple before referral: history recorded at the first visit.
                let op = d0 - self.days(200, 900);
                let i = self.procedure(d0, "completed", Proc::PrimaryResection, Some("curative"));
                self.res[i].body["code"]["text"] = j!("Pancreaticoduodenectomy (Whipple)");
                self.backdate(i, op);
                let j = if self.p(0.5) {
                    self.procedure(d0, "completed", Proc::BiliaryReconstruction, None)
                } else {
                    self.condition(
                        d0,
                        islet_cc("biliary-reconstruction", "Status after biliary reconstruction (hepaticojejunostomy)"),
                        None,
                        true,
                    )
                };
                self.backdate(j, op);
            }
            _ => {}
        }
        self.ecog(board, ecog);
        let p = if self.p(0.7) { Proc::Tace } else { Proc::Tae };
        self.plan(board + self.days(7, 30), p);
    }

    /// PRRT planned while uptake is below liver or unknown.
    fn prrt_without_uptake(&mut self) {
        let d0 = self.diagnosis_date(300);
        let variant = self.r(0..3);
        self.tag(["Krenning score below 2", "SSTR imaging without Krenning score", "no SSTR imaging"][variant]);
        let grade = if self.p(0.5) { 1 } else { 2 };
        self.open(d0, grade, None);
        let mut w = self.standard_workup(grade, round1(self.r(20.0..50.0)), (150.0, 2000.0), Sstr::Positive, None);
        match variant {
            0 => {
                w.krenning = Some(self.r(0..=1));
                w.sstr = Some(if self.p(0.5) { Sstr::Equivocal } else { Sstr::Positive });
            }
            1 => w.krenning = None,
            _ => {
                w.sstr = None;
                w.krenning = None;
            }
        }
        let board = self.workup(d0, &w);
        self.metastasis(d0 + self.days(3, 20), Meta::Liver);
        self.liver_picture(d0 + self.days(0, 10), round1(self.r(15.0..50.0)), self.r(3..20), self.r(10.0..45.0));
        self.liver_resectability(board, false);
        let d = board + self.days(14, 60);
        if self.p(0.6) {
            self.plan(d, Proc::Prrt);
        } else {
            self.med_request(d, "draft", LU177);
        }
    }

    /// Discordant grading, implausible values, unknown units, a grade-changing amendment.
    fn data_problems(&mut self) {
        let d0 = self.diagnosis_date(200);
        let variant = self.r(0..5);
        self.tag(
            [
                "Ki-67 and mitoses disagree",
                "NEC diagnosis with G2 Ki-67",
                "implausible values",
                "CgA in an unknown unit",
                "Ki-67 amended from 2 to 2.5 %",
            ][variant],
        );
        let grade = 1;
        if variant == 1 {
            self.patient(d0 - self.days(1, 60));
            self.condition(
                d0 + self.days(7, 20),
                cc(
                    vec![coding_d(ICD10, "C7A.1", "Malignant poorly differentiated neuroendocrine tumors")],
                    "Poorly differentiated NEC of pancreas",
                ),
                Some(pancreas_site()),
                false,
            );
        } else {
            self.open(d0, grade, None);
        }
        let mut w = self.standard_workup(grade, round1(self.r(12.0..40.0)), (40.0, 400.0), Sstr::Positive, Some(2));
        w.who_grade = None;
        match variant {
            0 => {
                w.ki67 = Some(self.pick(&[1.0, 1.5, 2.0]));
                w.mitoses = Some(self.r(4..=15) as f64);
            }
            1 => w.ki67 = Some(round1(self.r(8.0..18.0))),
            _ => {}
        }
        if variant == 4 {
            w.ki67 = None;
        }
        let board = self.workup(d0, &w);
        match variant {
            2 => {
                let d = d0 + self.days(10, 30);
                match self.r(0..3) {
                    0 => {
                        let v = self.pick(&[150.0, 250.0, 120.5]);
                        self.ki67(d, v);
                    }
                    1 => {
                        let i = self.size(d, 15.0, false);
                        set_quantity_value(&mut self.res[i].body, -15.0);
                    }
                    _ => {
                        let i = self.cga(d, 50.0);
                        set_quantity_value(&mut self.res[i].body, -42.0);
                    }
                }
            }
            3 => {
                let d = d0 + self.days(10, 30);
                let v = round1(self.r(5.0..40.0));
                self.obs(
                    d,
                    "laboratory",
                    cc(vec![coding(LOINC, "9811-1")], "Chromogranin A"),
                    ("valueQuantity", ucum(v, "IU/mL", "[IU]/mL")),
                    (60, 2 * 24 * 60),
                );
            }
            4 => {
                let d = d0 + self.days(5, 20);
                let i = self.ki67(d, 2.0);
                self.res[i].body["status"] = j!("final");
                self.revise(i, (3 * 24 * 60, 20 * 24 * 60), |b| {
                    b["status"] = j!("amended");
                    set_quantity_value(b, 2.5);
                    b["note"] = j!([{ "text": "Re-counted on a second hotspot: 2.5 %." }]);
                });
            }
            _ => {}
        }
        if self.p(0.5) {
            self.resectability(board, "complete");
        }
    }

    fn decease(&mut self) {
        let Some(i) = self.res.iter().position(|r| r.rtype == "Patient") else {
            return;
        };
        let last = self.res.iter().map(|r| r.clinical).max().unwrap_or(self.start);
        let death = last + self.days(10, 200);
        if death > self.end {
            return;
        }
        let t = self.clock(death);
        let when = self.local(t);
        let boolean = self.p(0.3);
        let delay = (death - self.res[i].clinical).whole_minutes().max(60);
        let j = self.revise(i, (delay, delay + 5 * 24 * 60), |b| {
            if boolean {
                b["deceasedBoolean"] = j!(true);
            } else {
                b["deceasedDateTime"] = j!(when);
            }
            b["active"] = j!(false);
        });
        self.res[j].clinical = death;
    }

    // -- corrections -------------------------------------------------------

    /// Amended versions, entered-in-error and deleted resources.
    fn corrections(&mut self) {
        if self.res.len() < 3 {
            return;
        }
        // An amended (or corrected) value: CgA or size, a small change.
        if self.p(0.08) {
            let candidates: Vec<usize> = (0..self.res.len())
                .filter(|&i| {
                    let r = &self.res[i];
                    r.version == 1
                        && r.rtype == "Observation"
                        && r.body["valueQuantity"]["value"].is_number()
                        && r.body["status"] == "final"
                        && is_amendable(&r.body)
                })
                .collect();
            let chosen = (!candidates.is_empty()).then(|| self.pick(&candidates));
            if let Some(i) = chosen {
                let factor = self.r(0.85..1.15);
                let status = if self.p(0.7) { "amended" } else { "corrected" };
                let j = self.revise(i, (2 * 60, 20 * 24 * 60), |b| {
                    let v = b["valueQuantity"]["value"].as_f64().unwrap_or(0.0);
                    set_quantity_value(b, round1(v * factor).max(0.1));
                    b["status"] = j!(status);
                });
                let _ = j;
            }
        }
        // A result filed on the wrong patient's chart, then marked entered-in-error.
        if self.p(0.03) {
            let d = self.res[self.r(1..self.res.len())].clinical;
            let v = self.cga_value(2000.0, 9000.0);
            let i = self.cga(d, v);
            if self.res[i].body["status"] != "final" {
                self.res[i].body["status"] = j!("final");
            }
            self.revise(i, (60, 3 * 24 * 60), |b| b["status"] = j!("entered-in-error"));
        }
        // A metastasis recorded then refuted or marked entered-in-error.
        if self.p(0.015) {
            let d = self.res[self.r(1..self.res.len())].clinical;
            let i = self.metastasis(d, Meta::Lung);
            let code = if self.p(0.5) { "entered-in-error" } else { "refuted" };
            self.revise(i, (60, 10 * 24 * 60), |b| {
                b["verificationStatus"] =
                    cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", code)], code);
                if code == "entered-in-error" {
                    b.remove("clinicalStatus");
                }
            });
        }
        // A duplicate tumour size, deleted.
        if self.p(0.025) {
            let d = self.res[self.r(1..self.res.len())].clinical;
            let mm = self.r(10.0..40.0);
            let i = self.size(d, mm, false);
            self.delete(i, (30, 7 * 24 * 60));
        }
        // Keep the horizon for what was just added.
        let end = self.end;
        self.res.retain(|r| r.clinical <= end);
    }

    // -- packaging ---------------------------------------------------------

    fn uuid(&mut self) -> String {
        let a: u128 = self.rng.borrow_mut().gen();
        let a = (a & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let h = format!("{a:032x}");
        format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }

    fn line(&self, v: &J, resources: usize) -> Line {
        Line { text: v.to_json(), resources, patient: self.pref.clone() }
    }

    fn envelope(&self, r: &Res) -> Line {
        let op = if r.delete {
            "DELETE"
        } else if r.version == 1 {
            "CREATE"
        } else {
            "UPDATE"
        };
        let payload = r.body.to_json();
        self.line(
            &j!({
                "operationType": op,
                "payloadId": format!("{}/{}/_history/{}", r.rtype, r.id, r.version),
                "payload": payload,
            }),
            1,
        )
    }

    fn bundle(&mut self, items: &mut [Res], kind: &'static str, patient_urn: bool) -> Line {
        let lu_ms = items.iter().map(|r| r.lu_ms).max().unwrap_or(0);
        let lu =
            OffsetDateTime::from_unix_timestamp_nanos(lu_ms as i128 * 1_000_000 + 1_000_000).expect("valid instant");
        let urn = patient_urn.then(|| format!("urn:uuid:{}", self.uuid()));
        let mut entries = Vec::with_capacity(items.len());
        for r in items.iter_mut() {
            let url = format!("{}/{}", r.rtype, r.id);
            if r.delete {
                entries.push(j!({ "request": { "method": "DELETE", "url": url } }));
                continue;
            }
            let mut body = std::mem::take(&mut r.body);
            let full_url = match (&urn, r.rtype) {
                (Some(u), "Patient") => u.clone(),
                (Some(u), _) => {
                    if body.get("subject").is_some() {
                        body["subject"]["reference"] = j!(u);
                    }
                    format!("urn:uuid:{}", self.uuid())
                }
                (None, _) if kind == "collection" => format!("{BASE_URL}/{url}"),
                (None, _) => format!("urn:uuid:{}", self.uuid()),
            };
            if kind == "collection" {
                entries.push(j!({ "fullUrl": full_url, "resource": body }));
            } else {
                entries.push(j!({ "fullUrl": full_url, "resource": body, "request": { "method": "PUT", "url": url } }));
            }
        }
        let id = self.uuid();
        let lu_s = self.fmt_lu(lu);
        let b = j!({
            "resourceType": "Bundle",
            "id": id,
            "meta": { "versionId": "1", "lastUpdated": (lu_s.clone()) },
            "type": kind,
            "timestamp": lu_s,
            "entry": entries,
        });
        self.line(&b, items.len())
    }

    /// Turn the patient's resources (in lastUpdated order) into lines.
    fn package(&mut self) -> Vec<Line> {
        let mut res = std::mem::take(&mut self.res);
        let mut lines = Vec::with_capacity(res.len());
        let mut i = 0;
        // Registration and diagnosis in one transaction, references by urn:uuid.
        if res.len() >= 2 && res[0].rtype == "Patient" && self.p(0.15) {
            let k = self.r(2..=3).min(res.len());
            let l = self.bundle(&mut res[0..k], "transaction", true);
            lines.push(l);
            i = k;
        }
        while i < res.len() {
            if res[i].delete {
                if self.p(0.5) {
                    lines.push(self.envelope(&res[i]));
                    i += 1;
                } else {
                    let k = self.r(1..=2).min(res.len() - i);
                    let l = self.bundle(&mut res[i..i + k], "transaction", false);
                    lines.push(l);
                    i += k;
                }
                continue;
            }
            let x: f64 = self.rng.borrow_mut().gen();
            if x < 0.085 && i + 1 < res.len() {
                let k = self.r(2..=7).min(res.len() - i);
                let kind = if res[i..i + k].iter().any(|r| r.delete) {
                    "transaction"
                } else {
                    ["transaction", "transaction", "collection", "collection", "batch"][self.r(0..5)]
                };
                let l = self.bundle(&mut res[i..i + k], kind, false);
                lines.push(l);
                i += k;
            } else if x < 0.185 {
                lines.push(self.envelope(&res[i]));
                i += 1;
            } else {
                lines.push(self.line(&res[i].body, 1));
                i += 1;
            }
        }
        // A redelivery of a line already sent (the same version).
        if lines.len() > 2 && self.p(0.06) {
            let j = self.r(1..lines.len());
            let at = (j + self.r(1..=3)).min(lines.len());
            let dup = lines[j].clone();
            lines.insert(at, dup);
        }
        lines
    }
}

/// Lab values whose amendment does not change the archetype's picture
/// (CgA, pancreatic polypeptide, liver involvement); sizes, Ki-67 and
/// mitoses are left alone except where an archetype amends them on purpose.
fn is_amendable(b: &J) -> bool {
    b["code"]["coding"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            ["9811-1", "25587-7", "30169-7", "2721-9", "liver-involvement"].iter().any(|code| c["code"] == *code)
        })
    })
}

fn set_quantity_value(b: &mut J, v: f64) {
    if b.get("valueQuantity").is_some() {
        b["valueQuantity"]["value"] = num(v);
    } else if b.get("component").is_some() {
        b["component"][0]["valueQuantity"]["value"] = num(v);
    }
}

/// Replace a line by an unusable one, for tests and demos.
fn bad_line(rng: &mut ChaCha8Rng, opts: &CohortOptions, line: Line) -> Line {
    let day = opts.start + Duration::days(rng.gen_range(0..SPAN_DAYS));
    let n: u32 = rng.gen();
    let id = format!("bad-{n:08x}");
    let kind = rng.gen_range(0..3);
    let cut_short = kind == 0 && line.text.len() > 10;
    let text = match kind {
        0 if cut_short => {
            // Broken JSON: the line cut short (never a complete object).
            let mut cut = rng.gen_range(1..line.text.len() - 1);
            while !line.text.is_char_boundary(cut) {
                cut -= 1;
            }
            line.text[..cut].to_string()
        }
        1 => j!({
            "resourceType": "Observation",
            "id": id,
            "meta": { "versionId": "1", "lastUpdated": format!("{day}T12:00:00Z") },
            "status": "final",
            "code": cc(vec![coding(LOINC, "29593-1")], "Ki-67 proliferation index"),
            "effectiveDateTime": format!("{day}T09:00:00Z"),
            "valueQuantity": (ucum(5.0, "%", "%")),
        })
        .to_json(),
        _ => j!({
            "resourceType": "Observation",
            "id": id,
            "meta": { "versionId": "1", "lastUpdated": format!("{day}T12:00:00Z") },
            "status": "final",
            "code": cc(vec![coding(LOINC, "33728-7")], "Tumour size, greatest dimension"),
            "subject": { "reference": (&line.patient) },
            "effectiveDateTime": format!("{day}T09:00:00Z"),
            "valueQuantity": { "value": "14 mm", "unit": "mm", "system": UCUM, "code": "mm" },
        })
        .to_json(),
    };
    // A cut line carries no resource.
    let resources = usize::from(!cut_short);
    Line { text, resources, patient: line.patient }
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

/// `d` plus `months` calendar months, the day clamped to the month's length.
fn add_months(d: Date, months: u32) -> Date {
    let total = d.year() * 12 + (d.month() as i32 - 1) + months as i32;
    let (y, m) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u8);
    let month = Month::try_from(m).expect("valid month");
    let day = d.day().min(month.length(y));
    Date::from_calendar_date(y, month, day).expect("valid date")
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)`.
fn format_dt(t: PrimitiveDateTime, off: UtcOffset, millis: bool) -> String {
    fn digits(s: &mut String, v: u32, width: u32) {
        for p in (0..width).rev() {
            s.push(char::from(b'0' + (v / 10u32.pow(p) % 10) as u8));
        }
    }
    let mut s = String::with_capacity(29);
    let d = t.date();
    digits(&mut s, d.year().unsigned_abs(), 4);
    s.push('-');
    digits(&mut s, u32::from(d.month() as u8), 2);
    s.push('-');
    digits(&mut s, u32::from(d.day()), 2);
    s.push('T');
    digits(&mut s, u32::from(t.hour()), 2);
    s.push(':');
    digits(&mut s, u32::from(t.minute()), 2);
    s.push(':');
    digits(&mut s, u32::from(t.second()), 2);
    if millis {
        s.push('.');
        digits(&mut s, u32::from(t.millisecond()), 3);
    }
    if off.is_utc() {
        s.push('Z');
    } else {
        let (h, m, _) = off.as_hms();
        s.push(if off.is_negative() { '-' } else { '+' });
        digits(&mut s, u32::from(h.unsigned_abs()), 2);
        s.push(':');
        digits(&mut s, u32::from(m.unsigned_abs()), 2);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    fn cohort(patients: usize, seed: u64, bad_line_rate: f64) -> (String, GenerateStats) {
        let opts = CohortOptions { patients, seed, bad_line_rate, ..CohortOptions::default() };
        let mut out = Vec::new();
        let stats = generate(&opts, &mut out).expect("in-memory write");
        (String::from_utf8(out).expect("UTF-8"), stats)
    }

    /// The resources a message carries; `None` for a Bundle DELETE entry.
    fn resources(msg: &Value) -> Vec<Option<Value>> {
        if let Some(p) = msg.get("payload") {
            return vec![Some(
                serde_json::from_str(p.as_str().expect("payload is a string")).expect("payload is JSON"),
            )];
        }
        if msg["resourceType"] == "Bundle" {
            return msg["entry"].as_array().expect("entries").iter().map(|e| e.get("resource").cloned()).collect();
        }
        vec![Some(msg.clone())]
    }

    fn patient_ref(r: &Value) -> Option<&str> {
        r.get("subject").or_else(|| r.get("patient")).and_then(|s| s["reference"].as_str())
    }

    fn archetype_of(r: &Value) -> Option<String> {
        r["meta"]["tag"]
            .as_array()?
            .iter()
            .find(|t| t["system"] == ARCHETYPE_SYSTEM)
            .map(|t| t["code"].as_str().unwrap_or("").to_string())
    }

    fn has_zone(s: &str) -> bool {
        s.ends_with('Z') || {
            let b = s.as_bytes();
            b.len() > 6 && (b[b.len() - 6] == b'+' || b[b.len() - 6] == b'-') && b[b.len() - 3] == b':'
        }
    }

    fn codes(cc: &Value) -> Vec<(String, String)> {
        cc["coding"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        (c["system"].as_str().unwrap_or("").to_string(), c["code"].as_str().unwrap_or("").to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn same_seed_same_bytes_and_other_seed_differs() {
        let (a, sa) = cohort(60, 7, 0.0);
        let (b, sb) = cohort(60, 7, 0.0);
        let (c, _) = cohort(60, 8, 0.0);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_ne!(a, c);
        let (_, s) = cohort(0, 7, 0.0);
        assert_eq!(s, GenerateStats::default());
    }

    #[test]
    fn a_patient_does_not_depend_on_cohort_size() {
        let (small, _) = cohort(40, 7, 0.0);
        let (large, _) = cohort(120, 7, 0.0);
        for p in ["syn-000001", "syn-000017", "syn-000033"] {
            // The reference, plain or inside an envelope's payload string.
            let mine = |l: &&str| l.contains(&format!("{p}\"")) || l.contains(&format!("{p}\\\""));
            let a: Vec<&str> = small.lines().filter(mine).collect();
            let b: Vec<&str> = large.lines().filter(mine).collect();
            assert!(!a.is_empty());
            assert_eq!(a, b, "{p}");
        }
    }

    #[test]
    fn every_line_is_valid_json_and_well_formed() {
        let (text, stats) = cohort(200, 1, 0.0);
        assert_eq!(stats.lines, text.lines().count());
        assert_eq!(stats.patients, 200);
        let mut counted = 0;
        for (n, line) in text.lines().enumerate() {
            let msg: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
            if let Some(op) = msg.get("operationType") {
                assert!(["CREATE", "UPDATE", "DELETE"].contains(&op.as_str().unwrap()), "line {}", n + 1);
                let r: Value = serde_json::from_str(msg["payload"].as_str().unwrap()).unwrap();
                let expected = format!(
                    "{}/{}/_history/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap(),
                    r["meta"]["versionId"].as_str().unwrap()
                );
                assert_eq!(msg["payloadId"], json!(expected), "line {}", n + 1);
            }
            // urn:uuid references resolve to a Patient entry of the same Bundle.
            let mut urns = BTreeMap::new();
            if msg["resourceType"] == "Bundle" {
                assert!(["transaction", "batch", "collection"].contains(&msg["type"].as_str().unwrap()));
                for e in msg["entry"].as_array().unwrap() {
                    if e["resource"]["resourceType"] == "Patient" {
                        urns.insert(
                            e["fullUrl"].as_str().unwrap().to_string(),
                            e["resource"]["id"].as_str().unwrap().to_string(),
                        );
                    }
                    if e.get("resource").is_none() {
                        assert_eq!(e["request"]["method"], "DELETE");
                        assert_ne!(msg["type"], "collection");
                    }
                }
            }
            for r in resources(&msg).into_iter().flatten() {
                counted += 1;
                let rt = r["resourceType"].as_str().expect("resourceType");
                assert!(r["id"].as_str().is_some_and(|id| !id.is_empty() && id.len() <= 64), "line {}", n + 1);
                assert!(r["meta"]["versionId"].as_str().is_some_and(|v| v.parse::<u32>().is_ok()), "line {}", n + 1);
                assert!(r["meta"]["lastUpdated"].as_str().is_some_and(has_zone), "line {}", n + 1);
                if rt == "Patient" {
                    assert!(r["id"].as_str().unwrap().starts_with("syn-"));
                    assert!(r.get("name").is_none());
                    continue;
                }
                let p = patient_ref(&r).unwrap_or_else(|| panic!("line {}: {rt} without subject", n + 1));
                assert!(p.starts_with("Patient/syn-") || urns.contains_key(p), "line {}: {p}", n + 1);
            }
        }
        // DELETE entries are counted as resources by the stats too.
        assert!(stats.resources >= counted);
    }

    #[test]
    fn about_ten_lines_per_patient() {
        let (_, stats) = cohort(1000, 3, 0.0);
        let per = stats.lines as f64 / stats.patients as f64;
        assert!((8.0..=13.0).contains(&per), "{per} lines per patient");
        assert!(stats.resources > stats.lines);
    }

    #[test]
    fn every_archetype_appears_in_200_patients() {
        let (text, _) = cohort(200, 11, 0.0);
        let mut seen = BTreeSet::new();
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                if let Some(a) = archetype_of(&r) {
                    seen.insert(a);
                }
            }
        }
        for (a, _) in Archetype::ALL {
            assert!(seen.contains(a.code()), "{} missing", a.code());
        }
    }

    /// Each archetype carries what its rules need (the report lists the rules).
    #[test]
    fn archetypes_carry_their_signature() {
        let (text, _) = cohort(2 * DECK_SIZE, 5, 0.0);
        let mut arch: HashMap<String, String> = HashMap::new();
        let mut facts: HashMap<String, BTreeSet<String>> = HashMap::new();
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            let mut urns = HashMap::new();
            if msg["resourceType"] == "Bundle" {
                for e in msg["entry"].as_array().unwrap() {
                    if e["resource"]["resourceType"] == "Patient" {
                        urns.insert(
                            e["fullUrl"].as_str().unwrap().to_string(),
                            format!("Patient/{}", e["resource"]["id"].as_str().unwrap()),
                        );
                    }
                }
            }
            for r in resources(&msg).into_iter().flatten() {
                let rt = r["resourceType"].as_str().unwrap();
                if rt == "Patient" {
                    arch.insert(format!("Patient/{}", r["id"].as_str().unwrap()), archetype_of(&r).unwrap());
                    continue;
                }
                let p = patient_ref(&r).unwrap();
                let p = urns.get(p).cloned().unwrap_or_else(|| p.to_string());
                let code = r.get("code").or_else(|| r.get("medicationCodeableConcept")).unwrap();
                let status = r["status"].as_str().unwrap_or("");
                let set = facts.entry(p).or_default();
                for (_, c) in codes(code) {
                    set.insert(format!("{rt}:{c}:{status}"));
                    set.insert(c.clone());
                    if let Some(v) = r.get("valueCodeableConcept") {
                        for (_, vc) in codes(v) {
                            set.insert(format!("{c}={vc}"));
                        }
                    }
                }
            }
        }
        let has = |p: &str, f: &str| facts.get(p).is_some_and(|s| s.iter().any(|x| x.contains(f)));
        let planned = |p: &str, c: &str| {
            ["ServiceRequest", "MedicationRequest", "Procedure"].iter().any(|rt| {
                ["active", "draft", "on-hold", "preparation"].iter().any(|s| has(p, &format!("{rt}:{c}:{s}")))
            })
        };
        let mut checked = BTreeSet::new();
        for (p, a) in &arch {
            let ok = match a.as_str() {
                "surveillance" => has(p, "33728-7") || has(p, "21889-1"),
                "workup-gaps" => {
                    !(has(p, "29593-1") || has(p, "ki67-index"))
                        || !has(p, "sstr-imaging")
                        || !has(p, "9811-1") && !has(p, "25587-7") && !has(p, "30169-7")
                }
                "resectable" => has(p, "resectability=complete") || has(p, "resectability=ge-90"),
                "vascular-unresectable" => has(p, "resectability=unresectable-vascular"),
                "surgery-against-advice" => planned(p, "primary-resection"),
                "metastatic-g1-ssa" => has(p, "H01CB") || has(p, ":ssa:") || has(p, "L03AB"),
                "g2-progressing-after-chemo" => has(p, "L01AD04") || has(p, "L01BC06") || has(p, ":chemotherapy:"),
                "targeted-first-line" => {
                    (has(p, "L01EG02")
                        || has(p, "L01EX01")
                        || has(p, "L01XE")
                        || has(p, "everolimus")
                        || has(p, "sunitinib"))
                        && !has(p, "L01AD04")
                        && !has(p, ":chemotherapy:")
                }
                "g3-nec" => has(p, "L01CB01") || has(p, ":chemotherapy:"),
                "men1" => has(p, "E31.21") || has(p, "30664006"),
                "insulinoma" => has(p, "E16.1") || has(p, "713189001") || has(p, "8151/3"),
                "gastrinoma" => has(p, "E16.4") || has(p, "8153/3"),
                "other-functioning" => has(p, "hormonal-symptoms="),
                "transplant-candidate" => has(p, "primary-resection:completed"),
                "transplant-ineligible" => planned(p, "18027006") || planned(p, "liver-transplant"),
                "liver-directed" => has(p, "liver-resectability=unresectable"),
                "embolization-contraindicated" => planned(p, "tace") || planned(p, "tae"),
                "prrt-without-uptake" => planned(p, "prrt") || planned(p, "V10XX04"),
                "data-problems" => true,
                other => panic!("unknown archetype {other}"),
            };
            assert!(ok, "{p} ({a}) lacks its signature: {:?}", facts.get(p));
            checked.insert(a.clone());
        }
        assert_eq!(checked.len(), Archetype::ALL.len());
    }

    #[test]
    fn message_variety_and_corrections() {
        let (text, stats) = cohort(1000, 2, 0.0);
        let (mut plain, mut bundles, mut envelopes) = (0usize, 0usize, 0usize);
        let mut seen = BTreeSet::new();
        let mut lines = BTreeSet::new();
        for line in text.lines() {
            if !lines.insert(line) {
                seen.insert("duplicate-line");
            }
            let msg: Value = serde_json::from_str(line).unwrap();
            if msg.get("operationType").is_some() {
                envelopes += 1;
                if msg["operationType"] == "DELETE" {
                    seen.insert("delete-envelope");
                }
            } else if msg["resourceType"] == "Bundle" {
                bundles += 1;
                seen.insert(if msg["type"] == "collection" { "collection" } else { "transaction-or-batch" });
                for e in msg["entry"].as_array().unwrap() {
                    if e["request"]["method"] == "DELETE" {
                        seen.insert("delete-entry");
                    }
                    if e["resource"]["resourceType"] == "Patient"
                        && e["fullUrl"].as_str().unwrap().starts_with("urn:uuid:")
                    {
                        seen.insert("urn-patient");
                    }
                }
            } else {
                plain += 1;
            }
            for r in resources(&msg).into_iter().flatten() {
                match r["status"].as_str() {
                    Some("amended") => seen.insert("amended"),
                    Some("corrected") => seen.insert("corrected"),
                    Some("entered-in-error") => seen.insert("entered-in-error"),
                    Some("preliminary") => seen.insert("preliminary"),
                    Some("intended") => seen.insert("intended"),
                    Some("in-progress") => seen.insert("in-progress"),
                    _ => false,
                };
                if r["verificationStatus"]["coding"][0]["code"] == "refuted" {
                    seen.insert("refuted");
                }
                if r.get("deceasedBoolean").is_some() || r.get("deceasedDateTime").is_some() {
                    seen.insert("deceased");
                }
                if r["valueQuantity"]["unit"] == "cm" {
                    seen.insert("size-in-cm");
                }
            }
        }
        let n = stats.lines as f64;
        assert!((0.72..=0.88).contains(&(plain as f64 / n)), "plain {plain} of {n}");
        assert!((0.06..=0.14).contains(&(bundles as f64 / n)), "bundles {bundles} of {n}");
        assert!((0.06..=0.14).contains(&(envelopes as f64 / n)), "envelopes {envelopes} of {n}");
        for want in [
            "duplicate-line",
            "delete-envelope",
            "delete-entry",
            "urn-patient",
            "collection",
            "transaction-or-batch",
            "amended",
            "corrected",
            "entered-in-error",
            "preliminary",
            "refuted",
            "deceased",
            "size-in-cm",
            "intended",
            "in-progress",
        ] {
            assert!(seen.contains(want), "no {want} in the cohort");
        }
    }

    #[test]
    fn codes_come_from_the_contract() {
        let (text, _) = cohort(300, 4, 0.0);
        let loinc: BTreeSet<&str> =
            ["29593-1", "9811-1", "25587-7", "30169-7", "2721-9", "33728-7", "21889-1", "97509-4", "89247-1"].into();
        let islet_obs: BTreeSet<&str> = [
            "ki67-index",
            "mitotic-count",
            "who-grade",
            "liver-lesion-count",
            "liver-involvement",
            "sstr-imaging",
            "krenning-score",
            "recist-response",
            "resectability",
            "liver-resectability",
            "discovery-mode",
            "hormonal-symptoms",
            "octreotide-test",
        ]
        .into();
        let allowed_units: BTreeSet<&str> =
            ["%", "{#}", "/[HPF]", "ng/mL", "ug/L", "nmol/L", "U/L", "pg/mL", "mm", "cm", "[IU]/mL"].into();
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                if r["resourceType"] != "Observation" {
                    continue;
                }
                for (system, code) in codes(&r["code"]) {
                    match system.as_str() {
                        LOINC => assert!(loinc.contains(code.as_str()), "LOINC {code}"),
                        ISLET => assert!(islet_obs.contains(code.as_str()), "islet {code}"),
                        other => panic!("observation code system {other}"),
                    }
                }
                let q = if r.get("component").is_some() {
                    &r["component"][0]["valueQuantity"]
                } else {
                    &r["valueQuantity"]
                };
                if !q.is_null() {
                    assert_eq!(q["system"], UCUM);
                    assert!(allowed_units.contains(q["code"].as_str().unwrap()), "unit {}", q["code"]);
                }
                if let Some(site) = r.get("bodySite") {
                    let c = &codes(site)[0].1;
                    assert!(c == "15776009" || c == "10200004", "bodySite {c}");
                }
            }
        }
    }

    #[test]
    fn clinical_dates_stay_in_the_span() {
        let start = Date::from_calendar_date(2030, Month::June, 1).unwrap();
        let opts = CohortOptions { patients: 150, seed: 9, start, bad_line_rate: 0.0 };
        let mut out = Vec::new();
        generate(&opts, &mut out).unwrap();
        let end = (start + Duration::days(SPAN_DAYS)).to_string();
        let start = start.to_string();
        for line in String::from_utf8(out).unwrap().lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                let mut dates = Vec::new();
                for k in ["effectiveDateTime", "onsetDateTime", "performedDateTime", "authoredOn"] {
                    if let Some(s) = r[k].as_str() {
                        dates.push(s[..10].to_string());
                    }
                }
                for k in ["effectivePeriod", "performedPeriod"] {
                    if let Some(s) = r[k]["start"].as_str() {
                        dates.push(s[..10].to_string());
                    }
                }
                if let Some(b) = r["birthDate"].as_str() {
                    assert!(b < start.as_str());
                }
                for d in dates {
                    assert!(d >= start && d <= end, "{d} outside {start}..{end}: {r}");
                }
            }
        }
    }

    fn is_bad(line: &str) -> bool {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            return true;
        };
        resources(&msg).into_iter().flatten().any(|r| {
            r["resourceType"] == "Observation" && (patient_ref(&r).is_none() || r["valueQuantity"]["value"].is_string())
        })
    }

    #[test]
    fn bad_line_rate_is_roughly_honoured() {
        let (clean, clean_stats) = cohort(1000, 6, 0.0);
        assert!(!clean.lines().any(is_bad));
        let (text, stats) = cohort(1000, 6, 0.05);
        // The same cohort, some lines replaced.
        assert_eq!(stats.lines, clean_stats.lines);
        let bad = text.lines().filter(|l| is_bad(l)).count();
        let changed = text.lines().zip(clean.lines()).filter(|(a, b)| a != b).count();
        assert_eq!(bad, changed);
        let rate = bad as f64 / stats.lines as f64;
        assert!((0.04..=0.06).contains(&rate), "bad-line rate {rate}");
        let (all_bad, s) = cohort(20, 6, 1.0);
        assert_eq!(all_bad.lines().filter(|l| is_bad(l)).count(), s.lines);
    }

    #[test]
    fn add_months_clamps_to_month_end() {
        let d = Date::from_calendar_date(2023, Month::January, 31).unwrap();
        assert_eq!(add_months(d, 1).to_string(), "2023-02-28");
        assert_eq!(add_months(d, 13).to_string(), "2024-02-29");
        assert_eq!(add_months(d, 36).to_string(), "2026-01-31");
    }
}
