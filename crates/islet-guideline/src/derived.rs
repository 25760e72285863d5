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
    therapies: OnceCell<Vec<(&'a Fact, Therapy)>>,
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

/// The highest Ki-67 (%) of a G1 tumour (WHO 2010). [11]
pub const KI67_G1_MAX: f64 = 2.0;
/// The highest Ki-67 (%) of a G2 tumour; above it, G3 (WHO 2010). [11]
pub const KI67_G2_MAX: f64 = 20.0;

/// WHO 2010 grade from Ki-67 alone: G1 ≤ 2 %, G3 > 20 %, G2 otherwise
/// (Ki-67 strictly between 2 and 3 % is G2: the higher grade). [11]
pub fn grade_from_ki67(ki67: Ki67Percent) -> Grade {
    let k = ki67.get();
    if k <= KI67_G1_MAX {
        Grade::G1
    } else if k <= KI67_G2_MAX {
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
        // Each fact keyed by its instant as a plain number: comparing two
        // offset times converts both on every comparison.
        let mut keyed: Vec<(i128, &'a Fact)> = Vec::new();
        let mut next_future_fact: Option<Instant> = None;
        for f in all {
            if f.at <= now {
                keyed.push((f.at.unix_timestamp_nanos(), f));
            } else {
                next_future_fact = Some(next_future_fact.map_or(f.at, |t| t.min(f.at)));
            }
        }
        // Clinical time, then source: never arrival order. Within one source
        // the decoder's order is deterministic, and the sort is stable.
        keyed.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.source.cmp(&b.source)));
        let facts = keyed.into_iter().map(|(_, f)| f).collect();
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
            therapies: OnceCell::new(),
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

    /// Metastasis facts: secondary-malignancy Conditions with or without a
    /// site (the decoder gives a Condition without a site the site `other`),
    /// plus liver lesions seen on imaging (a liver lesion size, a lesion count
    /// ≥ 1, or liver involvement > 0 % all mean the liver holds tumour).
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

    /// Extra-abdominal metastases: bone, lung or distant lymph nodes (not
    /// the liver, regional nodes or other sites).
    pub fn extra_abdominal_metastasis(&self) -> Option<(&'a Fact, MetastasisSite)> {
        self.metastases().iter().find(|(_, s)| s.is_extra_abdominal()).copied()
    }

    /// Extrahepatic metastases (Milan criteria): any site other than the liver.
    pub fn extrahepatic_metastasis(&self) -> Option<&'a Fact> {
        self.metastases().iter().find(|(_, s)| s.is_extrahepatic()).map(|(f, _)| *f)
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

    /// Unresectable (v2): the latest resectability assessment is `lt-90` or
    /// `unresectable`, or liver metastases are assessed as unresectable.
    /// `unresectable-vascular` is not unresectable: it means "explore
    /// surgically first" (`surgery.vascular-exploration`).
    pub fn unresectable(&self) -> Option<&'a Fact> {
        match self.resectability() {
            Some((f, Resectability::Below90 | Resectability::Unresectable)) => Some(f),
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

    /// Progression (v2): the latest disease-status or RECIST observation that
    /// is not `undetermined` says worsening / progressive disease. An
    /// `undetermined` result neither makes nor ends progression.
    pub fn progression(&self) -> Option<&'a Fact> {
        match self.course().last() {
            Some((f, Course::Progression)) => Some(f),
            _ => None,
        }
    }

    /// The last progression observation, whatever came after it.
    pub fn last_progression(&self) -> Option<&'a Fact> {
        self.course().iter().rev().find(|(_, c)| *c == Course::Progression).map(|(f, _)| *f)
    }

    /// The current run of non-progressing assessments (v2): when the latest
    /// determined assessment is stable or a response, the first and the last
    /// assessment of the run of such assessments since the last progression.
    /// `undetermined` results neither break nor extend it.
    pub fn stable_run(&self) -> Option<(&'a Fact, &'a Fact)> {
        let course = self.course();
        let (last, last_course) = *course.last()?;
        if last_course == Course::Progression {
            return None;
        }
        let first = course.iter().rev().take_while(|(_, c)| *c != Course::Progression).last()?.0;
        Some((first, last))
    }

    /// Stable for at least `months` calendar months (v2): the current stable
    /// run, counted from its first assessment to now. Returns the run.
    pub fn stable_for(&self, months: u32) -> Option<(&'a Fact, &'a Fact)> {
        let (first, last) = self.stable_run()?;
        (add_months(first.at.date(), months) <= self.now.date()).then_some((first, last))
    }

    /// When the current stable run reaches `months` months, if that is still ahead.
    pub fn stable_for_from(&self, months: u32) -> Option<time::Date> {
        let (first, _) = self.stable_run()?;
        Some(add_months(first.at.date(), months)).filter(|d| *d > self.now.date())
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

    /// Growth of the primary's largest diameter in mm per year (v2): for the
    /// latest size result, the largest growth to it from any earlier result
    /// at least `growth_min_interval_months` *(project default: 6)* before
    /// it, each scaled to 12 months. So 10 → 16 mm in 6 months → 17 mm at 12
    /// months is 7 mm/year (from the first result), not 2 (from the middle
    /// one). "Largest" compares the scaled rates: a fast recent rise is not
    /// diluted by a long quiet stretch before it. Unknown with no earlier
    /// result far enough back.
    pub fn growth_per_year(&self) -> Option<Growth<'a>> {
        let (latest, latest_mm) = self.primary_size()?;
        let min = self.config.thresholds.growth_min_interval_months;
        let mut fastest: Option<Growth<'a>> = None;
        for f in &self.facts {
            let FactKind::TumourSize { site: TumourSite::Primary, largest: earlier_mm } = &f.kind else {
                continue;
            };
            if add_months(f.at.date(), min) > latest.at.date() {
                // Sorted by time: every later result is closer still.
                break;
            }
            let months = months_between(f.at.date(), latest.at.date());
            let mm_per_year = (latest_mm.get() - earlier_mm.get()) * 12.0 / months;
            if fastest.is_none_or(|g| mm_per_year > g.mm_per_year) {
                fastest = Some(Growth { earlier: f, latest, mm_per_year });
            }
        }
        fastest
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
        self.latest(|k| matches!(k, FactKind::Syndrome(s) if *s == which))
    }

    /// Non-functioning: recorded as such, or no syndrome recorded at all.
    pub fn non_functioning(&self) -> bool {
        self.functioning_syndrome().is_none()
    }

    pub fn hereditary(&self, which: Hereditary) -> Option<&'a Fact> {
        self.latest(|k| matches!(k, FactKind::Hereditary(h) if *h == which))
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

    /// Therapy facts, oldest first, each with its tense at `now` (v2): a done
    /// course whose recorded period contains now (`at ≤ now < until`) is
    /// running.
    pub fn therapies(&self) -> impl Iterator<Item = (&'a Fact, Therapy)> + '_ {
        self.therapy_records().iter().copied()
    }

    fn therapy_records(&self) -> &[(&'a Fact, Therapy)] {
        self.therapies.get_or_init(|| {
            self.facts
                .iter()
                .filter_map(|f| match &f.kind {
                    FactKind::Therapy(t) => Some((*f, Therapy { tense: tense_at(t, self.now), ..*t })),
                    _ => None,
                })
                .collect()
        })
    }

    /// The newest therapy of a class in one of the given tenses that is
    /// still current: a later record of the same class supersedes it when it
    /// moves the course on (planned → running → done). So an old "active"
    /// statement does not keep a therapy running once a later record says it
    /// was completed or stopped, and a plan is no longer "planned" once the
    /// therapy started. Tenses are those at `now` (see [`Picture::therapies`]).
    pub fn therapy(&self, class: impl Fn(TherapyClass) -> bool, tenses: &[Tense]) -> Option<(&'a Fact, Therapy)> {
        let records = self.therapy_records();
        records
            .iter()
            .rev()
            .find(|(f, t)| {
                class(t.class)
                    && tenses.contains(&t.tense)
                    && !records
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

    /// The start of the current course of a running class (v2): the
    /// earliest of its running records that follow the class's last done
    /// record (at the same time or later: a record at the same instant does
    /// not supersede, see [`Picture::therapy`]). `None` when the class does
    /// not run now.
    pub fn course_start(&self, class: TherapyClass) -> Option<&'a Fact> {
        self.running(class)?;
        let records = self.therapy_records().iter().filter(|(_, t)| t.class == class);
        let last_done = records.clone().filter(|(_, t)| t.tense == Tense::Done).map(|(f, _)| f.at).max();
        records
            .filter(|(f, t)| t.tense == Tense::Running && last_done.is_none_or(|done| f.at >= done))
            .map(|(f, _)| *f)
            .next()
    }

    /// Prior therapy failure: a course of a matching class (running or done)
    /// that started before a later progression. Returns (the newest such
    /// course record, the last progression). The classes that failed are the
    /// spec's "failed classes": a recommendation for one is not raised again.
    pub fn failed(&self, class: impl Fn(TherapyClass) -> bool) -> Option<(&'a Fact, &'a Fact)> {
        let last_progression = self.last_progression()?;
        self.therapies()
            .filter(|(f, t)| {
                class(t.class) && matches!(t.tense, Tense::Running | Tense::Done) && f.at < last_progression.at
            })
            .last()
            .map(|(f, _)| (f, last_progression))
    }

    /// Curatively resected (v2): a completed resection of the primary with
    /// outcome curative, dated at or before now. Debulking, an unknown
    /// outcome or a planned resection do not count (nor one whose recorded
    /// period has not ended yet: it is still running).
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

    /// Transplanted (v2): a completed liver transplantation dated at or before now.
    pub fn transplanted(&self) -> Option<&'a Fact> {
        self.therapies()
            .filter(|(_, t)| t.class == TherapyClass::LiverTransplant && t.tense == Tense::Done)
            .map(|(f, _)| f)
            .last()
    }

    /// The ends of the done courses that run at `now` because their period
    /// contains it: each turns "done" at that instant.
    pub fn course_ends(&self) -> impl Iterator<Item = Instant> + use<'_, 'a> {
        self.facts.iter().filter_map(|f| match &f.kind {
            FactKind::Therapy(t) if tense_at(t, self.now) != t.tense => t.until,
            _ => None,
        })
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

/// The tense of a therapy record at `now`: a done course whose recorded
/// period contains now (`until` after now; its start, the fact's time, is at
/// or before now, or the fact would not be known yet) is still running.
fn tense_at(t: &Therapy, now: Instant) -> Tense {
    match (t.tense, t.until) {
        (Tense::Done, Some(until)) if now < until => Tense::Running,
        (tense, _) => tense,
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
