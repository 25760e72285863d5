//! Stories of liver metastases: transplantation (Milan-NET criteria met or
//! not), ablation / embolization / SIRT, and embolization planned despite a
//! contraindication.

use crate::chart::Gen;
use crate::coding::{islet_cc, round1};
use crate::json::j;
use crate::resources::conditions::{Meta, Syn};
use crate::resources::observations::{Sstr, Status};
use crate::therapy::{Proc, EVEROLIMUS};
use rand::seq::SliceRandom;

impl Gen {
    /// Liver-only metastatic disease after curative resection of the primary,
    /// stable for months after a progression on SSA: the Milan-NET picture.
    /// `eligible` false breaks one or two criteria and refers the patient anyway.
    pub(super) fn transplant(&mut self, eligible: bool) {
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
    pub(super) fn liver_directed(&mut self) {
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
    pub(super) fn embolization_contraindicated(&mut self) {
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
}
