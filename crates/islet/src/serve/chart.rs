//! A patient's record as a clinician reads it: the series the dashboard
//! plots (Ki-67 with the grade bands, chromogranin A as a multiple of its
//! upper limit of normal, tumour size) with therapy courses, and the
//! timeline of every fact. Pure: built from the stored record.

use islet_engine::record::PatientRecord;
use islet_guideline::facts::{CgaValue, Fact, FactKind, Tense, TumourSite};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

/// One measured value at its clinical time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// RFC 3339.
    pub at: String,
    /// Seconds since 1970 (the plot's x).
    pub t: i64,
    pub value: f64,
    /// The resource that states it (`Observation/…`).
    pub source: String,
}

/// A chromogranin A result: plotted as × the upper limit of normal when the
/// lab gave one; listed, not plotted, otherwise (units differ between labs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CgaPoint {
    pub at: String,
    pub t: i64,
    pub value: f64,
    pub unit: &'static str,
    /// value / upper limit of normal.
    pub times_uln: Option<f64>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizePoint {
    pub at: String,
    pub t: i64,
    pub mm: f64,
    /// `primary` or `liver`.
    pub site: &'static str,
    pub source: String,
}

/// A therapy course: its start, and its end when known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Course {
    pub therapy: &'static str,
    /// `planned`, `running` or `done`.
    pub tense: &'static str,
    pub start: String,
    pub t_start: i64,
    pub end: Option<String>,
    pub t_end: Option<i64>,
    pub source: String,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub at: String,
    pub date: String,
    pub text: String,
    pub source: String,
    pub preliminary: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Chart {
    pub ki67: Vec<Point>,
    pub cga: Vec<CgaPoint>,
    pub size: Vec<SizePoint>,
    pub therapies: Vec<Course>,
    pub timeline: Vec<Entry>,
    /// The grade bands drawn on the Ki-67 plot (WHO 2010: G1 ≤ 2 %, G3 > 20 %).
    pub ki67_bands: [f64; 2],
}

fn when(f: &Fact) -> (String, i64) {
    (f.at.format(&Rfc3339).unwrap_or_default(), f.at.unix_timestamp())
}

impl Chart {
    /// The chart of a record: every fact on the timeline (oldest first), the
    /// plotted series in time order.
    pub fn of(record: &PatientRecord) -> Chart {
        let mut facts: Vec<&Fact> = record.facts().collect();
        facts.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.source.0.cmp(&b.source.0)));
        let mut chart = Chart {
            ki67_bands: [islet_guideline::derived::KI67_G1_MAX, islet_guideline::derived::KI67_G2_MAX],
            ..Chart::default()
        };
        for f in facts {
            let (at, t) = when(f);
            let source = f.source.0.clone();
            match &f.kind {
                FactKind::Ki67(k) => {
                    chart.ki67.push(Point { at: at.clone(), t, value: k.get(), source: source.clone() })
                }
                FactKind::ChromograninA { value, upper_limit } => {
                    let (v, unit) = match value {
                        CgaValue::NgPerMl(c) => (c.get(), "ng/mL"),
                        CgaValue::NmolPerL(c) => (c.get(), "nmol/L"),
                        CgaValue::UPerL(c) => (c.get(), "U/L"),
                    };
                    let times_uln = upper_limit.map(|u| u.get()).filter(|u| *u > 0.0).map(|u| v / u);
                    chart.cga.push(CgaPoint { at: at.clone(), t, value: v, unit, times_uln, source: source.clone() });
                }
                FactKind::TumourSize { site, largest } => chart.size.push(SizePoint {
                    at: at.clone(),
                    t,
                    mm: largest.get(),
                    site: match site {
                        TumourSite::Primary => "primary",
                        TumourSite::Liver => "liver",
                    },
                    source: source.clone(),
                }),
                FactKind::Therapy(therapy) => chart.therapies.push(Course {
                    therapy: therapy.class.label(),
                    tense: match therapy.tense {
                        Tense::Planned => "planned",
                        Tense::Running => "running",
                        Tense::Done => "done",
                    },
                    start: at.clone(),
                    t_start: t,
                    end: therapy.until.and_then(|u| u.format(&Rfc3339).ok()),
                    t_end: therapy.until.map(|u| u.unix_timestamp()),
                    source: source.clone(),
                }),
                _ => {}
            }
            chart.timeline.push(Entry {
                date: f.at.date().to_string(),
                at,
                text: islet_guideline::words::fact_in_words(&f.kind),
                source,
                preliminary: f.preliminary,
            });
        }
        chart
    }

    /// The chromogranin results that can be plotted (those with a limit).
    pub fn cga_plotted(&self) -> usize {
        self.cga.iter().filter(|c| c.times_uln.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use islet_guideline::facts::*;

    fn fact(source: &str, at: time::OffsetDateTime, kind: FactKind) -> Fact {
        Fact { source: SourceRef(source.into()), at, preliminary: false, kind }
    }

    fn record(facts: Vec<Fact>) -> PatientRecord {
        use islet_engine::record::{StoredResource, VersionStamp};
        let mut r = PatientRecord::default();
        for f in facts {
            let resource = StoredResource {
                stamp: VersionStamp::deletion(Some("1".into())),
                gone: false,
                moved: false,
                conflict: false,
                facts: vec![f.clone()],
                pending: Vec::new(),
                definition: None,
            };
            r.resources.insert(f.source.0.clone(), resource);
        }
        r
    }

    #[test]
    fn series_are_in_time_order_and_cga_is_relative_to_its_limit() {
        use time::macros::datetime;
        let r = record(vec![
            fact("Observation/k2", datetime!(2024-05-01 0:00 UTC), FactKind::Ki67(Ki67Percent::new(12.0).unwrap())),
            fact("Observation/k1", datetime!(2024-01-01 0:00 UTC), FactKind::Ki67(Ki67Percent::new(1.5).unwrap())),
            fact(
                "Observation/c1",
                datetime!(2024-02-01 0:00 UTC),
                FactKind::ChromograninA {
                    value: CgaValue::NgPerMl(Concentration::new(300.0).unwrap()),
                    upper_limit: Some(Concentration::new(100.0).unwrap()),
                },
            ),
            fact(
                "Observation/c2",
                datetime!(2024-03-01 0:00 UTC),
                FactKind::ChromograninA {
                    value: CgaValue::NmolPerL(Concentration::new(5.0).unwrap()),
                    upper_limit: None,
                },
            ),
            fact(
                "Observation/s1",
                datetime!(2024-01-01 0:00 UTC),
                FactKind::TumourSize { site: TumourSite::Liver, largest: Millimetres::new(31.0).unwrap() },
            ),
        ]);
        let c = Chart::of(&r);
        assert_eq!(c.ki67.iter().map(|p| p.value).collect::<Vec<_>>(), [1.5, 12.0]);
        assert_eq!(c.cga[0].times_uln, Some(3.0));
        assert_eq!(c.cga[1].times_uln, None, "no limit: listed, not plotted");
        assert_eq!(c.cga_plotted(), 1);
        assert_eq!(c.size[0].site, "liver");
        assert_eq!(c.timeline.len(), 5);
        assert_eq!(c.timeline[0].date, "2024-01-01");
        assert_eq!(c.ki67_bands, [2.0, 20.0]);
    }
}
