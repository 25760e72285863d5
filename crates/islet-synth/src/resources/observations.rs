//! Observations: pathology (Ki-67, mitoses, WHO grade), tumour markers,
//! imaging (sizes, liver burden, SSTR imaging), response, performance status
//! and the board's coded judgements, in each patient's units and code style.

use crate::chart::Gen;
use crate::coding::{cc, coding, islet_cc, liver_structure, pancreas_structure, round1, ucum, LOINC, SCT};
use crate::json::{j, num, J};
use crate::references::{Referable, SizeSite};
use time::Date;

/// Result of somatostatin receptor imaging.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sstr {
    Positive,
    Negative,
    Equivocal,
}

/// Disease status at restaging (written as RECIST or as SNOMED CT).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Improved,
    Stable,
    Worsened,
    Undetermined,
}

impl Gen {
    pub(crate) fn obs(
        &mut self,
        d: Date,
        category: &'static str,
        code: J,
        value: (&'static str, J),
        delay_min: (i64, i64),
    ) -> usize {
        let t = self.clock(d);
        let mut body = j!({
            "status": "final",
            "category": [cc(vec![coding("http://terminology.hl7.org/CodeSystem/observation-category", category)], category)],
            "code": code,
            "subject": { "reference": (&self.pref) },
            "effectiveDateTime": self.local(t),
        });
        body[value.0] = value.1;
        self.emit("Observation", "obs", t, delay_min, body)
    }

    pub(crate) fn coded_obs(
        &mut self,
        d: Date,
        category: &'static str,
        code: &'static str,
        text: &'static str,
        value: &'static str,
    ) -> usize {
        self.obs(d, category, islet_cc(code, text), ("valueCodeableConcept", islet_cc(value, value)), (5, 2 * 24 * 60))
    }

    pub(crate) fn ki67(&mut self, d: Date, v: f64) -> usize {
        let code = if self.style.ki67_islet {
            islet_cc("ki67-index", "Ki-67 proliferation index")
        } else {
            cc(vec![coding(LOINC, "29593-1")], "Ki-67 proliferation index")
        };
        // Pathology: reported days after the biopsy.
        let i = self.obs(d, "laboratory", code, ("valueQuantity", ucum(v, "%", "%")), (2 * 24 * 60, 12 * 24 * 60));
        self.maybe_preliminary(i);
        i
    }

    pub(crate) fn mitoses(&mut self, d: Date, v: f64) -> usize {
        let q = if self.style.mitoses_hpf {
            ucum(v, "mitoses/HPF", "/[HPF]")
        } else {
            ucum(v, "mitoses per 10 HPF", "{#}")
        };
        let i = self.obs(
            d,
            "laboratory",
            islet_cc("mitotic-count", "Mitotic count per 10 HPF"),
            ("valueQuantity", q),
            (2 * 24 * 60, 12 * 24 * 60),
        );
        self.res[i].body["method"] = j!({ "text": "Count per 10 high-power fields" });
        i
    }

    pub(crate) fn who_grade(&mut self, d: Date, g: u8) -> usize {
        let code = format!("G{g}");
        self.obs(
            d,
            "laboratory",
            islet_cc("who-grade", "WHO 2010 grade"),
            ("valueCodeableConcept", islet_cc(&code, &code)),
            (2 * 24 * 60, 12 * 24 * 60),
        )
    }

    /// Chromogranin A, `ng_ml` in ng/mL, converted to the patient's lab unit.
    pub(crate) fn cga(&mut self, d: Date, ng_ml: f64) -> usize {
        let (code, value, high, unit, ucum_code) = match self.style.cga {
            0 => ("9811-1", round1(ng_ml), 100.0, "ng/mL", "ng/mL"),
            1 => ("9811-1", round1(ng_ml), 98.1, "µg/L", "ug/L"),
            2 => ("25587-7", (ng_ml / 49.0 * 100.0).round() / 100.0, 3.0, "nmol/L", "nmol/L"),
            _ => ("30169-7", round1(ng_ml / 5.5), 18.0, "U/L", "U/L"),
        };
        let value = if value <= 0.0 { 0.1 } else { value };
        let i = self.obs(
            d,
            "laboratory",
            cc(vec![coding(LOINC, code)], "Chromogranin A"),
            ("valueQuantity", ucum(value, unit, ucum_code)),
            (60, 2 * 24 * 60),
        );
        self.res[i].body["referenceRange"] = j!([{ "high": ucum(high, unit, ucum_code) }]);
        i
    }

    pub(crate) fn pp(&mut self, d: Date, pg_ml: f64) -> usize {
        let i = self.obs(
            d,
            "laboratory",
            cc(vec![coding(LOINC, "2721-9")], "Pancreatic polypeptide"),
            ("valueQuantity", ucum(pg_ml.round(), "pg/mL", "pg/mL")),
            (60, 3 * 24 * 60),
        );
        self.res[i].body["referenceRange"] = j!([{ "high": ucum(300.0, "pg/mL", "pg/mL") }]);
        i
    }

    /// Largest diameter of the primary (`liver` false) or of a liver lesion.
    pub(crate) fn size(&mut self, d: Date, mm: f64, liver: bool) -> usize {
        let q = if self.style.size_cm { ucum(round1(mm / 10.0), "cm", "cm") } else { ucum(mm.round(), "mm", "mm") };
        let i = match self.style.size_form {
            0 => self.obs(
                d,
                "imaging",
                cc(vec![coding(LOINC, "33728-7")], "Tumour size, greatest dimension"),
                ("valueQuantity", q),
                (60, 3 * 24 * 60),
            ),
            1 => {
                let comp =
                    j!([{ "code": cc(vec![coding(LOINC, "33728-7")], "Greatest dimension"), "valueQuantity": q }]);
                self.obs(
                    d,
                    "imaging",
                    cc(vec![coding(LOINC, "21889-1")], "Tumour size"),
                    ("component", comp),
                    (60, 3 * 24 * 60),
                )
            }
            _ => self.obs(
                d,
                "imaging",
                cc(vec![coding(LOINC, "21889-1")], "Tumour size"),
                ("valueQuantity", q),
                (60, 3 * 24 * 60),
            ),
        };
        if liver {
            self.res[i].body["bodySite"] = liver_structure();
        } else if self.style.pancreas_site {
            self.res[i].body["bodySite"] = pancreas_structure();
        }
        self.res[i].referable = Some(Referable::Site(if liver { SizeSite::Liver } else { SizeSite::Primary }));
        self.res[i].body["method"] =
            j!({ "text": self.pick(&["Contrast-enhanced CT", "MRI", "Endoscopic ultrasound"]) });
        self.maybe_preliminary(i);
        i
    }

    pub(crate) fn liver_lesions(&mut self, d: Date, n: i64) -> usize {
        self.obs(
            d,
            "imaging",
            islet_cc("liver-lesion-count", "Number of liver lesions"),
            ("valueInteger", j!(n)),
            (60, 3 * 24 * 60),
        )
    }

    pub(crate) fn liver_involvement(&mut self, d: Date, pct: f64) -> usize {
        self.obs(
            d,
            "imaging",
            islet_cc("liver-involvement", "Liver volume replaced by tumour"),
            ("valueQuantity", ucum(pct.round(), "%", "%")),
            (60, 3 * 24 * 60),
        )
    }

    pub(crate) fn sstr(&mut self, d: Date, s: Sstr, krenning: Option<u8>) {
        let v = match s {
            Sstr::Positive => "positive",
            Sstr::Negative => "negative",
            Sstr::Equivocal => "equivocal",
        };
        let i = self.coded_obs(d, "imaging", "sstr-imaging", "Somatostatin receptor imaging", v);
        let method = self.pick(&[
            "68Ga-DOTATATE PET/CT",
            "68Ga-DOTATOC PET/CT",
            "111In-pentetreotide scintigraphy (Octreoscan)",
        ]);
        self.res[i].body["method"] = j!({ "text": method });
        if let Some(k) = krenning {
            self.obs(
                d,
                "imaging",
                islet_cc("krenning-score", "Krenning uptake score"),
                ("valueInteger", j!(k)),
                (60, 3 * 24 * 60),
            );
        }
    }

    pub(crate) fn status(&mut self, d: Date, s: Status) -> usize {
        if self.style.recist && s != Status::Undetermined {
            let v = match s {
                Status::Improved => "PR",
                Status::Stable => "SD",
                _ => "PD",
            };
            self.coded_obs(d, "imaging", "recist-response", "RECIST 1.1 response", v)
        } else {
            let (code, text) = match s {
                Status::Improved => ("268910001", "Patient's condition improved"),
                Status::Stable => ("359746009", "Patient's condition stable"),
                Status::Worsened => ("271299001", "Patient's condition worsened"),
                Status::Undetermined => ("709137006", "Patient condition undetermined"),
            };
            self.obs(
                d,
                "exam",
                cc(vec![coding(LOINC, "97509-4")], "Cancer disease status"),
                ("valueCodeableConcept", cc(vec![coding(SCT, code)], text)),
                (30, 2 * 24 * 60),
            )
        }
    }

    pub(crate) fn ecog(&mut self, d: Date, v: u8) -> usize {
        self.obs(
            d,
            "survey",
            cc(vec![coding(LOINC, "89247-1")], "ECOG performance status"),
            ("valueInteger", j!(v)),
            (5, 24 * 60),
        )
    }

    pub(crate) fn resectability(&mut self, d: Date, v: &'static str) -> usize {
        self.coded_obs(d, "exam", "resectability", "Resectability (multidisciplinary board)", v)
    }

    pub(crate) fn liver_resectability(&mut self, d: Date, resectable: bool) -> usize {
        self.coded_obs(
            d,
            "exam",
            "liver-resectability",
            "Liver metastases resectable",
            if resectable { "resectable" } else { "unresectable" },
        )
    }

    /// Octreotide suppression test (functioning tumours, before SSA).
    pub(crate) fn octreotide_test(&mut self, d: Date, positive: bool) -> usize {
        self.coded_obs(
            d,
            "procedure",
            "octreotide-test",
            "Octreotide suppression test",
            if positive { "positive" } else { "negative" },
        )
    }

    pub(crate) fn hormonal(&mut self, d: Date, v: &'static str) -> usize {
        self.coded_obs(d, "exam", "hormonal-symptoms", "Hormonal symptoms", v)
    }

    /// 1 in 20 pathology or imaging results arrives `preliminary` and is made final later.
    fn maybe_preliminary(&mut self, i: usize) {
        if self.p(0.05) {
            self.res[i].body["status"] = j!("preliminary");
            if self.p(0.8) {
                self.revise(i, (6 * 60, 6 * 24 * 60), |b| b["status"] = j!("final"));
            }
        }
    }
}

/// Set the value of a size or lab result, plain or in its first component.
pub(crate) fn set_quantity_value(b: &mut J, v: f64) {
    if b.get("valueQuantity").is_some() {
        b["valueQuantity"]["value"] = num(v);
    } else if b.get("component").is_some() {
        b["component"][0]["valueQuantity"]["value"] = num(v);
    }
}

#[cfg(test)]
mod tests {
    use crate::coding::{ISLET, LOINC, UCUM};
    use crate::test_support::{codes, cohort, resources};
    use serde_json::Value;
    use std::collections::BTreeSet;

    #[test]
    fn codes_come_from_the_contract() {
        let (text, _) = cohort(300, 4, 0.0);
        let loinc: BTreeSet<&str> =
            ["29593-1", "9811-1", "25587-7", "30169-7", "2721-9", "33728-7", "21889-1", "97509-4", "89247-1"].into();
        let islet_obs: BTreeSet<&str> = [
            "ki67-index",
            "mitotic-count",
            "who-grade",
            "liver-lesion-count",
            "liver-involvement",
            "sstr-imaging",
            "krenning-score",
            "recist-response",
            "resectability",
            "liver-resectability",
            "discovery-mode",
            "hormonal-symptoms",
            "octreotide-test",
        ]
        .into();
        let allowed_units: BTreeSet<&str> =
            ["%", "{#}", "/[HPF]", "ng/mL", "ug/L", "nmol/L", "U/L", "pg/mL", "mm", "cm", "[IU]/mL"].into();
        for line in text.lines() {
            let msg: Value = serde_json::from_str(line).unwrap();
            for r in resources(&msg).into_iter().flatten() {
                if r["resourceType"] != "Observation" {
                    continue;
                }
                for (system, code) in codes(&r["code"]) {
                    match system.as_str() {
                        LOINC => assert!(loinc.contains(code.as_str()), "LOINC {code}"),
                        ISLET => assert!(islet_obs.contains(code.as_str()), "islet {code}"),
                        other => panic!("observation code system {other}"),
                    }
                }
                let q = if r.get("component").is_some() {
                    &r["component"][0]["valueQuantity"]
                } else {
                    &r["valueQuantity"]
                };
                if !q.is_null() {
                    assert_eq!(q["system"], UCUM);
                    assert!(allowed_units.contains(q["code"].as_str().unwrap()), "unit {}", q["code"]);
                }
                if let Some(site) = r.get("bodySite") {
                    let c = &codes(site)[0].1;
                    assert!(c == "15776009" || c == "10200004", "bodySite {c}");
                }
            }
        }
    }
}
