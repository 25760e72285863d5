//! Corrections added to a finished story: amended or corrected results,
//! results and diagnoses marked entered-in-error or refuted, and a deleted
//! duplicate — the revisions the decoder and record keeping must handle.

use crate::chart::Gen;
use crate::coding::{cc, coding, round1};
use crate::json::{j, J};
use crate::resources::conditions::Meta;
use crate::resources::observations::set_quantity_value;

impl Gen {
    /// Amended versions, entered-in-error and deleted resources.
    pub(crate) fn corrections(&mut self) {
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
