//! Stories about the primary tumour: surveillance of small tumours, gaps in
//! the work-up, and the board's surgical decisions (resection, vascular
//! involvement, surgery planned against advice).

use crate::chart::Gen;
use crate::coding::{cc, coding_d, round1, ICD10};
use crate::dates::add_months;
use crate::resources::conditions::{Meta, Syn};
use crate::resources::observations::Sstr;
use crate::therapy::Proc;
use crate::SPAN_DAYS;
use time::Duration;

impl Gen {
    /// Small incidental non-functioning tumour, surveillance schedule with
    /// attendance that is good, patchy, or stops.
    pub(super) fn surveillance(&mut self) {
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
    pub(super) fn workup_gaps(&mut self) {
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
    pub(super) fn resectable(&mut self) {
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

    pub(super) fn vascular_unresectable(&mut self) {
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
    pub(super) fn surgery_against_advice(&mut self) {
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
}
