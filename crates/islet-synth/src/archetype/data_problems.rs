//! The data-quality story: discordant grading, implausible values, unknown
//! units, and an amendment that changes the grade.

use crate::chart::Gen;
use crate::coding::{cc, coding, coding_d, pancreas_site, round1, ucum, ICD10, LOINC};
use crate::json::j;
use crate::resources::observations::{set_quantity_value, Sstr};

impl Gen {
    /// Discordant grading, implausible values, unknown units, a grade-changing amendment.
    pub(super) fn data_problems(&mut self) {
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
}
