//! Stories of systemic therapy in advanced disease: somatostatin analogues,
//! chemotherapy, targeted drugs, G3 NEC on platinum, PRRT without uptake.

use super::blocks::Workup;
use crate::chart::Gen;
use crate::coding::{cc, coding, coding_d, pancreas_site, round1, ICD10, ICDO3, SCT};
use crate::resources::conditions::{Meta, Syn};
use crate::resources::observations::{Sstr, Status};
use crate::therapy::{
    Drug, Proc, CAPECITABINE, CARBOPLATIN, CISPLATIN, DOXORUBICIN, ETOPOSIDE, EVEROLIMUS, FLUOROURACIL, INTERFERON,
    LU177, STREPTOZOCIN, SUNITINIB, TEMOZOLOMIDE,
};

impl Gen {
    /// Metastatic G1 on a somatostatin analogue.
    pub(super) fn metastatic_g1_ssa(&mut self) {
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
    pub(super) fn g2_after_chemo(&mut self) {
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
    pub(super) fn targeted_first_line(&mut self) {
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
    pub(super) fn g3_nec(&mut self) {
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

    /// PRRT planned while uptake is below liver or unknown.
    pub(super) fn prrt_without_uptake(&mut self) {
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
}
