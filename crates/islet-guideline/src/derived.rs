//! Derived facts (spec "Derived facts"): computed once per evaluation from the
//! facts current at "now", then read by every rule.
//!
//! "Latest" always means latest clinical time, ties broken by the source
//! reference, so the result never depends on arrival order.

use crate::alert::Evidence;
use crate::calendar::{add_months, age_in_years, months_between};
use crate::config::Config;
use crate::facts::*;
use std::cell::OnceCell;

/// The patient's clinical picture at one instant.
pub struct Picture<'a> {
    pub now: Instant,
    pub config: &'a Config,
    /// Facts with clinical time ≤ now, in (time, source) order.
    pub facts: Vec<&'a Fact>,
    /// The earliest fact dated after `now`: the picture changes then.
    pub next_future_fact: Option<Instant>,
    pub pnet: Option<&'a Fact>,
    pub nec: Option<&'a Fact>,
    pub grade: Option<GradeAssessment<'a>>,
    pub deceased: Option<&'a Fact>,
    pub birth_date: Option<(&'a Fact, time::Date)>,
    /// Computed on first use: many rules ask.
    metastases: OnceCell<Vec<(&'a Fact, MetastasisSite)>>,
    course: OnceCell<Vec<(&'a Fact, Course)>>,
}

/// WHO 2010 grade with the facts it rests on.
#[derive(Debug, Clone)]
pub struct GradeAssessment<'a> {
    pub grade: Grade,
    pub ki67: Option<(&'a Fact, Ki67Percent)>,
    pub mitoses: Option<(&'a Fact, MitoticCount)>,
    pub reported: Option<(&'a Fact, Grade)>,
    /// Why the measures disagree (`data.grade-discordant`), if they do.
    pub discordance: Option<String>,
    pub evidence: Vec<&'a Fact>,
}

/// WHO 2010 grade from Ki-67 alone: G1 ≤ 2 %, G3 > 20 %, G2 otherwise
/// (Ki-67 strictly between 2 and 3 % is G2: the higher grade). [11]
pub fn grade_from_ki67(ki67: Ki67Percent) -> Grade {
    let k = ki67.get();
    if k <= 2.0 {
        Grade::G1
    } else if k <= 20.0 {
        Grade::G2
    } else {
        Grade::G3
    }
}

/// WHO 2010 grade from the mitotic count alone: G1 < 2, G2 2–20, G3 > 20 per 10 HPF. [11]
pub fn grade_from_mitoses(m: MitoticCount) -> Grade {
    let m = m.get();
    if m < 2.0 {
        Grade::G1
    } else if m <= 20.0 {
        Grade::G2
    } else {
        Grade::G3
    }
}

impl<'a> Picture<'a> {
    pub fn new(all: impl IntoIterator<Item = &'a Fact>, now: Instant, config: &'a Config) -> Self {
        let mut facts: Vec<&Fact> = Vec::new();
        let mut next_future_fact: Option<Instant> = None;
        for f in all {
            if f.at <= now {
                facts.push(f);
            } else {
                next_future_fact = Some(next_future_fact.map_or(f.at, |t| t.min(f.at)));
            }
        }
        // Clinical time, then source: never arrival order. Within one source
        // the decoder's order is deterministic, and the sort is stable.
        facts.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.source.cmp(&b.source)));
        let mut p = Picture {
            now,
            config,
            facts,
            next_future_fact,
            pnet: None,
            nec: None,
            grade: None,
            deceased: None,
            birth_date: None,
            metastases: OnceCell::new(),
            course: OnceCell::new(),
        };
        p.pnet = p.earliest(|k| matches!(k, FactKind::PnetDiagnosis));
        p.nec = p.earliest(|k| matches!(k, FactKind::NecDiagnosis));
        p.deceased = p.earliest(|k| matches!(k, FactKind::Deceased));
        p.birth_date = p.latest_map(|k| match k {
            FactKind::BirthDate(d) => Some(*d),
            _ => None,
        });
        p.grade = p.assess_grade();
        p
    }

    /// The newest fact matching `pred`.
    pub fn latest(&self, pred: impl Fn(&FactKind) -> bool) -> Option<&'a Fact> {
        self.facts.iter().rev().find(|f| pred(&f.kind)).copied()
    }

    /// The oldest fact matching `pred`.
    pub fn earliest(&self, pred: impl Fn(&FactKind) -> bool) -> Option<&'a Fact> {
        self.facts.iter().find(|f| pred(&f.kind)).copied()
    }

    /// The newest fact `pick` extracts a value from, with that value.
    pub fn latest_map<T>(&self, pick: impl Fn(&FactKind) -> Option<T>) -> Option<(&'a Fact, T)> {
        self.facts.iter().rev().find_map(|f| pick(&f.kind).map(|v| (*f, v)))
    }

    /// All facts matching `pred`, oldest first.
    pub fn all(&self, pred: impl Fn(&FactKind) -> bool) -> Vec<&'a Fact> {
        self.facts.iter().copied().filter(|f| pred(&f.kind)).collect()
    }

    fn assess_grade(&self) -> Option<GradeAssessment<'a>> {
        let ki67 = self.latest_map(|k| match k {
            FactKind::Ki67(v) => Some(*v),
            _ => None,
        });
        let mitoses = self.latest_map(|k| match k {
            FactKind::Mitoses(v) => Some(*v),
            _ => None,
        });
        let reported = self.latest_map(|k| match k {
            FactKind::ReportedGrade(g) => Some(*g),
            _ => None,
        });
        let by_ki67 = ki67.map(|(_, v)| grade_from_ki67(v));
        let by_mitoses = mitoses.map(|(_, v)| grade_from_mitoses(v));
        let measured = by_ki67.max(by_mitoses);
        let grade = measured.or(reported.map(|(_, g)| g)).or(self.nec.map(|_| Grade::G3))?;

        let mut discordance = Vec::new();
        if let (Some(k), Some(m)) = (by_ki67, by_mitoses) {
            if k != m {
                discordance.push(format!("Ki-67 gives {k}, mitotic count gives {m}"));
            }
        }
        if let (Some(m), Some((_, r))) = (measured, reported) {
            if m != r {
                discordance.push(format!("reported grade {r}, measured {m}"));
            }
        }
        if let (Some(m), Some(_)) = (measured, self.nec) {
            if m != Grade::G3 {
                discordance.push(format!("diagnosis of poorly differentiated carcinoma (G3), measured {m}"));
            }
        }
        let mut evidence: Vec<&Fact> = Vec::new();
        evidence.extend(ki67.map(|(f, _)| f));
        evidence.extend(mitoses.map(|(f, _)| f));
        if measured.is_none() || !discordance.is_empty() {
            evidence.extend(reported.map(|(f, _)| f));
            evidence.extend(self.nec);
        }
        Some(GradeAssessment {
            grade,
            ki67,
            mitoses,
            reported,
            discordance: (!discordance.is_empty()).then(|| discordance.join("; ")),
            evidence,
        })
    }

    pub fn grade(&self) -> Option<Grade> {
        self.grade.as_ref().map(|g| g.grade)
    }

    /// G1 or G2 (NET). G3 is treated as poorly differentiated NEC. [11,12]
    pub fn well_differentiated(&self) -> bool {
        matches!(self.grade(), Some(Grade::G1 | Grade::G2))
    }

    /// Metastasis facts: secondary-malignancy Conditions, plus liver lesions
    /// seen on imaging (a liver lesion size, a lesion count ≥ 1, or liver
    /// involvement > 0 % all mean the liver holds tumour).
    ///
    /// Imaging counts by its latest result only: a later count of 0 or
    /// involvement of 0 % means the liver is no longer known to hold tumour.
    /// (Conditions that resolved carry no facts at all.)
    pub fn metastases(&self) -> &[(&'a Fact, MetastasisSite)] {
        self.metastases.get_or_init(|| self.find_metastases())
    }

    fn find_metastases(&self) -> Vec<(&'a Fact, MetastasisSite)> {
        let mut found: Vec<(&'a Fact, MetastasisSite)> = self
            .facts
            .iter()
            .filter_map(|f| match &f.kind {
                FactKind::Metastasis(site) => Some((*f, *site)),
                _ => None,
            })
            .collect();
        let imaging = [
            self.largest_liver_lesion().filter(|(_, mm)| mm.get() > 0.0).map(|(f, _)| f),
            self.liver_lesion_count().filter(|(_, n)| *n > 0).map(|(f, _)| f),
            self.liver_involvement().filter(|(_, p)| p.get() > 0.0).map(|(f, _)| f),
        ];
        found.extend(imaging.into_iter().flatten().map(|f| (f, MetastasisSite::Liver)));
        found
    }

    pub fn metastatic(&self) -> bool {
        !self.metastases().is_empty()
    }

    pub fn metastasis_at(&self, site: MetastasisSite) -> Option<&'a Fact> {
        self.metastases().iter().find(|(_, s)| *s == site).map(|(f, _)| *f)
    }

    pub fn liver_metastases(&self) -> Option<&'a Fact> {
        self.metastasis_at(MetastasisSite::Liver)
    }

    /// Bone or any other metastasis outside the abdomen.
    pub fn extra_abdominal_metastasis(&self) -> Option<(&'a Fact, MetastasisSite)> {
        self.metastases().iter().find(|(_, s)| s.is_extra_abdominal()).copied()
    }

    /// Extrahepatic metastases (Milan criteria): any site other than the liver.
    pub fn extrahepatic_metastasis(&self) -> Option<&'a Fact> {
        self.extra_abdominal_metastasis().map(|(f, _)| f)
    }

    pub fn resectability(&self) -> Option<(&'a Fact, Resectability)> {
        self.latest_map(|k| match k {
            FactKind::Resectability(r) => Some(*r),
            _ => None,
        })
    }

    /// Latest multidisciplinary assessment of the liver metastases.
    pub fn liver_resectable(&self) -> Option<(&'a Fact, bool)> {
        self.latest_map(|k| match k {
            FactKind::LiverResectable(r) => Some(*r),
            _ => None,
        })
    }

    /// Liver metastases assessed as unresectable.
    pub fn liver_unresectable(&self) -> Option<&'a Fact> {
        self.liver_resectable().and_then(|(f, r)| (!r).then_some(f))
    }

    /// Resectability `lt-90`, `unresectable-vascular` or `unresectable`, or
    /// liver metastases assessed as unresectable.
    pub fn unresectable(&self) -> Option<&'a Fact> {
        match self.resectability() {
            Some((f, Resectability::Below90 | Resectability::UnresectableVascular | Resectability::Unresectable)) => {
                Some(f)
            }
            _ => self.liver_unresectable(),
        }
    }

    /// Metastatic or unresectable: the evidence for it.
    pub fn advanced(&self) -> Option<&'a Fact> {
        self.metastases().first().map(|(f, _)| *f).or_else(|| self.unresectable())
    }

    pub fn liver_involvement(&self) -> Option<(&'a Fact, LiverInvolvementPercent)> {
        self.latest_map(|k| match k {
            FactKind::LiverInvolvement(p) => Some(*p),
            _ => None,
        })
    }

    /// Disease-course observations (status or RECIST), oldest first, without
    /// `undetermined`, which says nothing about the course.
    fn course(&self) -> &[(&'a Fact, Course)] {
        self.course.get_or_init(|| self.find_course())
    }

    fn find_course(&self) -> Vec<(&'a Fact, Course)> {
        self.facts
            .iter()
            .filter_map(|f| {
                let c = match &f.kind {
                    FactKind::DiseaseStatus(DiseaseStatus::Worsened) => Course::Progression,
                    FactKind::DiseaseStatus(DiseaseStatus::Stable) => Course::Stable,
                    FactKind::DiseaseStatus(DiseaseStatus::Improved) => Course::Response,
                    FactKind::Recist(Recist::ProgressiveDisease) => Course::Progression,
                    FactKind::Recist(Recist::StableDisease) => Course::Stable,
                    FactKind::Recist(Recist::PartialResponse | Recist::CompleteResponse) => Course::Response,
                    _ => return None,
                };
                Some((*f, c))
            })
            .collect()
    }

    /// The latest disease-status or RECIST observation says progression.
    pub fn progression(&self) -> Option<&'a Fact> {
        match self.course().last() {
            Some((f, Course::Progression)) => Some(f),
            _ => None,
        }
    }

    /// Every progression observation, oldest first.
    pub fn progressions(&self) -> Vec<&'a Fact> {
        self.course().iter().filter(|(_, c)| *c == Course::Progression).map(|(f, _)| *f).collect()
    }

    /// How long the disease has been documented without progression: from the
    /// first to the last observation of the current run of stable (or
    /// responding) assessments. Documented span, not time since the last
    /// visit: stability nobody observed is not assumed.
    pub fn stable_span(&self) -> Option<(&'a Fact, &'a Fact, f64)> {
        let course = self.course();
        let (last, last_course) = *course.last()?;
        if last_course == Course::Progression {
            return None;
        }
        let start = course.iter().rev().take_while(|(_, c)| *c != Course::Progression).last()?.0;
        Some((start, last, months_between(start.at.date(), last.at.date())))
    }

    /// Stable (no progression) for at least `months` calendar months.
    pub fn stable_for(&self, months: u32) -> Option<(&'a Fact, &'a Fact)> {
        let (start, last, _) = self.stable_span()?;
        (add_months(start.at.date(), months) <= last.at.date()).then_some((start, last))
    }

    /// Primary-tumour largest diameters, oldest first.
    pub fn primary_sizes(&self) -> Vec<(&'a Fact, Millimetres)> {
        self.facts
            .iter()
            .filter_map(|f| match &f.kind {
                FactKind::TumourSize { site: TumourSite::Primary, largest } => Some((*f, *largest)),
                _ => None,
            })
            .collect()
    }

    /// The latest primary size (the largest reported on the latest imaging date).
    pub fn primary_size(&self) -> Option<(&'a Fact, Millimetres)> {
        let sizes = self.primary_sizes();
        let (last, _) = *sizes.last()?;
        sizes.into_iter().filter(|(f, _)| f.at.date() == last.at.date()).max_by(|a, b| a.1.get().total_cmp(&b.1.get()))
    }

    /// Growth of the primary's largest diameter in mm per year, between the
    /// latest result and the latest earlier one at least
    /// `growth_min_interval_months` before it *(project default: 6)*.
    pub fn growth_per_year(&self) -> Option<Growth<'a>> {
        let sizes = self.primary_sizes();
        let (latest, latest_mm) = self.primary_size()?;
        let min = self.config.thresholds.growth_min_interval_months;
        let (earlier, earlier_mm) =
            sizes.into_iter().rev().find(|(f, _)| add_months(f.at.date(), min) <= latest.at.date())?;
        let months = months_between(earlier.at.date(), latest.at.date());
        let mm_per_year = (latest_mm.get() - earlier_mm.get()) * 12.0 / months;
        Some(Growth { earlier, latest, mm_per_year })
    }

    /// The largest liver lesion on the latest imaging that measured liver lesions.
    pub fn largest_liver_lesion(&self) -> Option<(&'a Fact, Millimetres)> {
        let lesions: Vec<_> = self
            .facts
            .iter()
            .filter_map(|f| match &f.kind {
                FactKind::TumourSize { site: TumourSite::Liver, largest } => Some((*f, *largest)),
                _ => None,
            })
            .collect();
        let (last, _) = *lesions.last()?;
        lesions
            .into_iter()
            .filter(|(f, _)| f.at.date() == last.at.date())
            .max_by(|a, b| a.1.get().total_cmp(&b.1.get()))
    }

    pub fn liver_lesion_count(&self) -> Option<(&'a Fact, u32)> {
        self.latest_map(|k| match k {
            FactKind::LiverLesionCount(n) => Some(*n),
            _ => None,
        })
    }

    pub fn sstr_imaging(&self) -> Option<(&'a Fact, SstrImaging)> {
        self.latest_map(|k| match k {
            FactKind::SstrImaging(r) => Some(*r),
            _ => None,
        })
    }

    pub fn krenning(&self) -> Option<(&'a Fact, u8)> {
        self.latest_map(|k| match k {
            FactKind::KrenningScore(s) => Some(*s),
            _ => None,
        })
    }

    pub fn octreotide_test(&self) -> Option<(&'a Fact, bool)> {
        self.latest_map(|k| match k {
            FactKind::OctreotideTest { positive } => Some(*positive),
            _ => None,
        })
    }

    pub fn ecog(&self) -> Option<(&'a Fact, u8)> {
        self.latest_map(|k| match k {
            FactKind::Ecog(s) => Some(*s),
            _ => None,
        })
    }

    pub fn discovery_mode(&self) -> Option<(&'a Fact, DiscoveryMode)> {
        self.latest_map(|k| match k {
            FactKind::DiscoveryMode(m) => Some(*m),
            _ => None,
        })
    }

    pub fn hormonal_symptoms(&self) -> Option<(&'a Fact, HormonalSymptoms)> {
        self.latest_map(|k| match k {
            FactKind::HormonalSymptoms(s) => Some(*s),
            _ => None,
        })
    }

    /// A recorded functioning syndrome (insulinoma, gastrinoma, …).
    pub fn functioning_syndrome(&self) -> Option<(&'a Fact, Syndrome)> {
        self.latest_map(|k| match k {
            FactKind::Syndrome(s) if *s != Syndrome::NonFunctioning => Some(*s),
            _ => None,
        })
    }

    pub fn syndrome(&self, which: Syndrome) -> Option<&'a Fact> {
        self.latest(|k| *k == FactKind::Syndrome(which))
    }

    /// Non-functioning: recorded as such, or no syndrome recorded at all.
    pub fn non_functioning(&self) -> bool {
        self.functioning_syndrome().is_none()
    }

    pub fn hereditary(&self, which: Hereditary) -> Option<&'a Fact> {
        self.latest(|k| *k == FactKind::Hereditary(which))
    }

    pub fn portal_vein_occlusion(&self) -> Option<&'a Fact> {
        self.latest(|k| matches!(k, FactKind::PortalVeinOcclusion))
    }

    pub fn liver_failure(&self) -> Option<&'a Fact> {
        self.latest(|k| matches!(k, FactKind::LiverFailure))
    }

    pub fn biliary_reconstruction(&self) -> Option<&'a Fact> {
        self.latest(|k| matches!(k, FactKind::BiliaryReconstruction))
    }

    /// Therapy facts, oldest first.
    pub fn therapies(&self) -> impl Iterator<Item = (&'a Fact, Therapy)> + '_ {
        self.facts.iter().filter_map(|f| match &f.kind {
            FactKind::Therapy(t) => Some((*f, *t)),
            _ => None,
        })
    }

    /// The newest therapy of a class in one of the given tenses that is
    /// still current: a later record of the same class supersedes it when it
    /// moves the course on (planned → running → done). So an old "active"
    /// statement does not keep a therapy running once a later record says it
    /// was completed or stopped, and a plan is no longer "planned" once the
    /// therapy started.
    pub fn therapy(&self, class: impl Fn(TherapyClass) -> bool, tenses: &[Tense]) -> Option<(&'a Fact, Therapy)> {
        let of_class: Vec<(&'a Fact, Therapy)> = self.therapies().filter(|(_, t)| class(t.class)).collect();
        of_class
            .iter()
            .rev()
            .find(|(f, t)| {
                tenses.contains(&t.tense)
                    && !of_class
                        .iter()
                        .any(|(g, u)| u.class == t.class && g.at > f.at && superseded_by(t.tense, u.tense))
            })
            .copied()
    }

    pub fn running(&self, class: TherapyClass) -> Option<(&'a Fact, Therapy)> {
        self.therapy(|c| c == class, &[Tense::Running])
    }

    /// Planned or running (safety rules that say "planned" also fire on running therapy).
    pub fn planned_or_running(&self, class: TherapyClass) -> Option<(&'a Fact, Therapy)> {
        self.therapy(|c| c == class, &[Tense::Planned, Tense::Running])
    }

    pub fn planned(&self, class: TherapyClass) -> Option<(&'a Fact, Therapy)> {
        self.therapy(|c| c == class, &[Tense::Planned])
    }

    pub fn done(&self, class: TherapyClass) -> Option<(&'a Fact, Therapy)> {
        self.therapy(|c| c == class, &[Tense::Done])
    }

    /// Given or being given (running or done).
    pub fn received(&self, class: impl Fn(TherapyClass) -> bool) -> Option<(&'a Fact, Therapy)> {
        self.therapy(class, &[Tense::Running, Tense::Done])
    }

    /// Prior therapy failure: a course of a matching class (running or done)
    /// that started before a later progression. Returns (therapy, progression).
    pub fn failed(&self, class: impl Fn(TherapyClass) -> bool) -> Option<(&'a Fact, &'a Fact)> {
        let progressions = self.progressions();
        let last_progression = *progressions.last()?;
        self.therapies()
            .filter(|(f, t)| {
                class(t.class) && matches!(t.tense, Tense::Running | Tense::Done) && f.at < last_progression.at
            })
            .last()
            .map(|(f, _)| (f, last_progression))
    }

    /// A completed curative resection of the primary.
    pub fn curative_resection(&self) -> Option<&'a Fact> {
        self.therapies()
            .filter(|(_, t)| {
                t.class == TherapyClass::PrimaryResection
                    && t.tense == Tense::Done
                    && t.outcome == Some(ResectionOutcome::Curative)
            })
            .map(|(f, _)| f)
            .last()
    }

    /// Age in whole years at `now`.
    pub fn age(&self) -> Option<(&'a Fact, i32)> {
        self.birth_date.map(|(f, d)| (f, age_in_years(d, self.now.date())))
    }

    pub fn problems(&self) -> impl Iterator<Item = (&'a Fact, ProblemKind, &'a str)> + '_ {
        self.facts.iter().filter_map(|f| match &f.kind {
            FactKind::Problem { kind, detail } => Some((*f, *kind, detail.as_str())),
            _ => None,
        })
    }
}

/// A later record of tense `later` ends a course of tense `earlier`: a plan
/// ends when the therapy starts or is done; a running course ends when done.
/// A later plan does not end a running course (a next cycle, an escalation).
fn superseded_by(earlier: Tense, later: Tense) -> bool {
    match earlier {
        Tense::Planned => matches!(later, Tense::Running | Tense::Done),
        Tense::Running => later == Tense::Done,
        Tense::Done => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Course {
    Progression,
    Stable,
    Response,
}

#[derive(Debug, Clone, Copy)]
pub struct Growth<'a> {
    pub earlier: &'a Fact,
    pub latest: &'a Fact,
    pub mm_per_year: f64,
}

/// Evidence lines for a fact: the resource and the fact in words.
pub fn describe(f: &Fact) -> Evidence {
    Evidence {
        reference: f.source.clone(),
        fact: format!("{} on {}", crate::words::fact_in_words(&f.kind), f.at.date()),
    }
}
