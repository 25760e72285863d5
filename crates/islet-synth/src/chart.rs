//! One patient's chart while it is generated: [`Gen`] (the patient's random
//! stream, its source system's writing [`Style`], and every resource version
//! written so far), the clock and random helpers the builders share, and how
//! a version is recorded ([`Gen::emit`], [`Gen::revise`], [`Gen::delete`]).
//! [`patient_lines`] runs one patient from archetype to output lines.

use crate::archetype::Archetype;
use crate::dates::format_dt;
use crate::json::{j, J};
use crate::messages::Item;
use crate::references::{Named, Referable, Referenced};
use crate::{stream_rng, CohortOptions, REFERENCE_STREAMS, SPAN_DAYS};
use rand::distributions::uniform::{SampleRange, SampleUniform};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// One version of one resource of the patient.
pub(crate) struct Res {
    pub(crate) rtype: &'static str,
    pub(crate) id: String,
    pub(crate) version: u32,
    /// `meta.lastUpdated` in ms since the epoch: the per-patient order.
    pub(crate) lu_ms: i64,
    /// Clinical date: nothing after the horizon is written.
    pub(crate) clinical: Date,
    pub(crate) body: J,
    /// Retraction of `rtype/id` (Bundle DELETE entry or DELETE envelope).
    pub(crate) delete: bool,
    /// What this resource's drug or site could name in another message instead.
    pub(crate) referable: Option<Referable>,
    /// The resource in another message it names (set by `refer_across_messages`).
    pub(crate) refers: Option<Referenced>,
}

/// Per-patient choices of how a source system writes things.
pub(crate) struct Style {
    pub(crate) size_cm: bool,
    /// 0: LOINC 33728-7 valueQuantity, 1: 21889-1 with component 33728-7, 2: 21889-1 valueQuantity.
    pub(crate) size_form: u8,
    pub(crate) pancreas_site: bool,
    /// 0: 9811-1 ng/mL, 1: 9811-1 µg/L, 2: 25587-7 nmol/L, 3: 30169-7 U/L.
    pub(crate) cga: u8,
    pub(crate) recist: bool,
    pub(crate) ki67_islet: bool,
    pub(crate) mitoses_hpf: bool,
    lu_zulu: bool,
    pub(crate) drug_islet: bool,
}

/// One patient being generated.
pub(crate) struct Gen {
    pub(crate) rng: RefCell<ChaCha8Rng>,
    pub(crate) pid: String,
    pub(crate) pref: String,
    tz: UtcOffset,
    pub(crate) style: Style,
    n: u32,
    pub(crate) res: Vec<Res>,
    pub(crate) start: Date,
    pub(crate) end: Date,
    pub(crate) birth: Date,
    pub(crate) archetype: Archetype,
    pub(crate) variant: String,
    /// The patient's second stream: which resources name a resource of
    /// another message (`references`).
    pub(crate) references: ChaCha8Rng,
    /// The resources other messages name, waiting for their place among the lines.
    pub(crate) named: Vec<Named>,
}

/// The lines of patient `index` (0-based), drawn as `archetype`: its story,
/// cut at the horizon, corrections added, some drugs and sites named in
/// other messages, in `meta.lastUpdated` order, with the uses of catalogue
/// Medications the cohort resolves.
pub(crate) fn patient_lines(opts: &CohortOptions, index: usize, archetype: Archetype) -> Vec<Item> {
    let mut g = Gen::new(opts, index, archetype);
    g.build();
    let end = g.end;
    g.res.retain(|r| r.clinical <= end);
    g.corrections();
    g.refer_across_messages();
    g.res.sort_by_key(|r| r.lu_ms);
    let lines = g.package();
    g.place_named(lines)
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
            references: stream_rng(opts.seed, REFERENCE_STREAMS + index as u64),
            named: Vec::new(),
        }
    }

    // -- time -------------------------------------------------------------

    pub(crate) fn p(&self, p: f64) -> bool {
        self.rng.borrow_mut().gen_bool(p)
    }
    pub(crate) fn r<T: SampleUniform, R: SampleRange<T>>(&self, range: R) -> T {
        self.rng.borrow_mut().gen_range(range)
    }
    pub(crate) fn pick<T: Copy>(&self, xs: &[T]) -> T {
        *xs.choose(&mut *self.rng.borrow_mut()).expect("non-empty")
    }
    pub(crate) fn days(&self, lo: i64, hi: i64) -> Duration {
        Duration::days(self.r(lo..=hi))
    }
    /// A diagnosis date leaving `needed` days before the horizon (when possible).
    pub(crate) fn diagnosis_date(&mut self, needed: i64) -> Date {
        let latest = (SPAN_DAYS - 60 - needed).max(30);
        self.start + self.days(0, latest)
    }
    pub(crate) fn clock(&self, d: Date) -> PrimitiveDateTime {
        let t = Time::from_hms(self.r(7..18), self.r(0..60), 0).expect("valid time");
        PrimitiveDateTime::new(d, t)
    }
    pub(crate) fn local(&self, t: PrimitiveDateTime) -> String {
        format_dt(t, self.tz, false)
    }
    fn lu_after(&self, t: PrimitiveDateTime, delay_min: (i64, i64)) -> OffsetDateTime {
        let ms = self.r(delay_min.0 * 60_000..=delay_min.1 * 60_000);
        t.assume_offset(self.tz) + Duration::milliseconds(ms)
    }
    pub(crate) fn fmt_lu(&self, t: OffsetDateTime) -> String {
        let u = t.to_offset(UtcOffset::UTC);
        let s = format_dt(PrimitiveDateTime::new(u.date(), u.time()), UtcOffset::UTC, true);
        if self.style.lu_zulu {
            s
        } else {
            s.replace('Z', "+00:00")
        }
    }

    // -- versions ---------------------------------------------------------

    pub(crate) fn emit(
        &mut self,
        rtype: &'static str,
        tag: &str,
        t: PrimitiveDateTime,
        delay_min: (i64, i64),
        body: J,
    ) -> usize {
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
            referable: None,
            refers: None,
        });
        self.res.len() - 1
    }

    /// A new version of `res[i]` (changed by `edit`), `delay_min` after the previous one.
    pub(crate) fn revise(&mut self, i: usize, delay_min: (i64, i64), edit: impl FnOnce(&mut J)) -> usize {
        let prev = &self.res[i];
        let (rtype, id, clinical, referable, refers) =
            (prev.rtype, prev.id.clone(), prev.clinical, prev.referable, prev.refers);
        let version =
            self.res.iter().filter(|r| r.rtype == rtype && r.id == id).map(|r| r.version).max().unwrap_or(1) + 1;
        let last_ms = self.res.iter().filter(|r| r.rtype == rtype && r.id == id).map(|r| r.lu_ms).max().unwrap_or(0);
        let mut body = self.res[i].body.clone();
        edit(&mut body);
        let ms = last_ms + self.r(delay_min.0 * 60_000..=delay_min.1 * 60_000);
        let lu = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).expect("valid instant");
        body["meta"]["versionId"] = j!(version.to_string());
        body["meta"]["lastUpdated"] = j!(self.fmt_lu(lu));
        self.res.push(Res { rtype, id, version, lu_ms: ms, clinical, body, delete: false, referable, refers });
        self.res.len() - 1
    }

    pub(crate) fn delete(&mut self, i: usize, delay_min: (i64, i64)) {
        let j = self.revise(i, delay_min, |_| {});
        self.res[j].delete = true;
    }

    /// Move a resource's clinical date back to a day between `start` and
    /// `latest` (history recorded at this visit; `start` is the earliest
    /// clinical date of the cohort).
    pub(crate) fn backdate(&mut self, i: usize, latest: Date) {
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
}
