//! Stories of hereditary and functioning tumours: MEN1, insulinoma,
//! gastrinoma, and glucagonoma / VIPoma / somatostatinoma.

use crate::chart::Gen;
use crate::coding::round1;
use crate::resources::conditions::{Meta, Syn};
use crate::resources::observations::Sstr;
use crate::therapy::{Proc, DIAZOXIDE, ESOMEPRAZOLE, PANTOPRAZOLE};

impl Gen {
    /// MEN1 with pancreatic tumour(s) measured yearly.
    pub(super) fn men1_patient(&mut self) {
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

    pub(super) fn insulinoma(&mut self) {
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

    pub(super) fn gastrinoma(&mut self) {
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

    pub(super) fn other_functioning(&mut self) {
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
}
