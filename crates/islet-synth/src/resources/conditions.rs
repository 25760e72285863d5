//! Conditions: the pNET diagnosis, hormonal syndromes, MEN1, metastases and
//! the liver conditions that contraindicate embolization, each in several of
//! the coding styles the contract accepts (SNOMED CT, ICD-10-CM, ICD-O-3, Islet).

use crate::chart::Gen;
use crate::coding::{cc, coding, coding_d, islet_cc, liver_site, pancreas_site, ICD10, ICDO3, ISLET, SCT};
use crate::json::{j, J};
use time::Date;

/// Site of a distant metastasis.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meta {
    Liver,
    Bone,
    Lung,
    Nodes,
}

/// The hormonal syndrome of the tumour, or none (non-functioning).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syn {
    NonFunctioning,
    Insulinoma,
    Gastrinoma,
    Glucagonoma,
    Vipoma,
    Somatostatinoma,
}

impl Gen {
    pub(crate) fn condition(&mut self, d: Date, code: J, body_site: Option<J>, onset_date_only: bool) -> usize {
        let t = self.clock(d);
        let onset = if onset_date_only { d.to_string() } else { self.local(t) };
        let mut body = j!({
            "clinicalStatus": cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active")], "Active"),
            "verificationStatus": cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed")], "Confirmed"),
            "category": [cc(vec![coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")], "Problem list item")],
            "code": code,
            "subject": { "reference": (&self.pref) },
            "onsetDateTime": onset,
            "recordedDate": self.local(t),
        });
        if let Some(site) = body_site {
            body["bodySite"] = site;
        }
        self.emit("Condition", "cond", t, (10, 3 * 24 * 60), body)
    }

    /// The pNET diagnosis, in one of the coding styles the contract accepts.
    pub(crate) fn pnet(&mut self, d: Date, grade: u8) -> usize {
        let date_only = self.p(0.4);
        let pick = self.r(0..100);
        let text = "Pancreatic neuroendocrine tumour";
        let (code, site) = if pick < 35 {
            let mut cs = vec![coding(SCT, "735735001")];
            if self.p(0.5) {
                cs.push(coding_d(ICD10, "C25.4", "Malignant neoplasm of endocrine pancreas"));
            }
            (cc(cs, text), None)
        } else if pick < 65 {
            (cc(vec![coding_d(ICD10, "C25.4", "Malignant neoplasm of endocrine pancreas")], text), None)
        } else if pick < 85 {
            let m = if grade >= 2 { "8249/3" } else { "8240/3" };
            (cc(vec![coding(ICDO3, m)], text), Some(pancreas_site()))
        } else if pick < 95 {
            (cc(vec![coding(ICD10, "C7A.8")], text), Some(pancreas_site()))
        } else {
            let c = self.pick(&["254611009", "187794005", "254612002", "93843007"]);
            (cc(vec![coding(SCT, c)], text), None)
        };
        self.condition(d, code, site, date_only)
    }

    pub(crate) fn syndrome(&mut self, d: Date, s: Syn) -> usize {
        let alt = self.p(0.5);
        let (code, site) = match s {
            Syn::NonFunctioning => {
                if alt {
                    (cc(vec![coding(SCT, "703816006")], "Non-functioning pancreatic NET"), None)
                } else {
                    (islet_cc("non-functioning", "Non-functioning pancreatic NET"), None)
                }
            }
            Syn::Insulinoma => match self.r(0..3) {
                0 => (cc(vec![coding(SCT, "713189001")], "Insulinoma"), None),
                1 => (cc(vec![coding_d(ICD10, "E16.1", "Other hypoglycemia")], "Insulinoma with hypoglycaemia"), None),
                _ => (cc(vec![coding(ICDO3, "8151/3")], "Malignant insulinoma"), Some(pancreas_site())),
            },
            Syn::Gastrinoma => {
                if alt {
                    (
                        cc(
                            vec![coding_d(ICD10, "E16.4", "Increased secretion of gastrin")],
                            "Zollinger-Ellison syndrome",
                        ),
                        None,
                    )
                } else {
                    (cc(vec![coding(ICDO3, "8153/3")], "Gastrinoma"), Some(pancreas_site()))
                }
            }
            Syn::Glucagonoma => {
                if alt {
                    (
                        cc(vec![coding_d(ICD10, "E16.3", "Increased secretion of glucagon")], "Glucagonoma syndrome"),
                        None,
                    )
                } else {
                    (cc(vec![coding(ICDO3, "8152/3")], "Glucagonoma"), Some(pancreas_site()))
                }
            }
            Syn::Vipoma => {
                if alt {
                    (
                        cc(vec![coding(ICD10, "E16.8"), coding(ISLET, "vipoma")], "VIPoma (Verner-Morrison syndrome)"),
                        None,
                    )
                } else {
                    (cc(vec![coding(ICDO3, "8155/3")], "VIPoma"), Some(pancreas_site()))
                }
            }
            Syn::Somatostatinoma => {
                if alt {
                    (islet_cc("somatostatinoma", "Somatostatinoma"), None)
                } else {
                    (cc(vec![coding(ICDO3, "8156/3")], "Somatostatinoma"), Some(pancreas_site()))
                }
            }
        };
        self.condition(d, code, site, false)
    }

    pub(crate) fn men1(&mut self, d: Date) -> usize {
        let code = if self.p(0.5) {
            cc(vec![coding_d(ICD10, "E31.21", "Multiple endocrine neoplasia [MEN] type I")], "MEN1")
        } else {
            cc(vec![coding(SCT, "30664006")], "Multiple endocrine neoplasia, type 1")
        };
        let onset = d - self.days(30, 3000);
        let i = self.condition(d, code, None, true);
        self.backdate(i, onset);
        i
    }

    pub(crate) fn metastasis(&mut self, d: Date, m: Meta) -> usize {
        let pick = self.r(0..10);
        let (code, site) = match m {
            Meta::Liver => match pick {
                0..=4 => (cc(vec![coding(SCT, "94381002")], "Liver metastases"), None),
                5 | 6 => (
                    cc(
                        vec![coding_d(
                            ICD10,
                            "C78.7",
                            "Secondary malignant neoplasm of liver and intrahepatic bile duct",
                        )],
                        "Liver metastases",
                    ),
                    None,
                ),
                7 | 8 => (
                    cc(
                        vec![coding_d(ICD10, "C7B.02", "Secondary carcinoid tumors of liver")],
                        "Liver metastases of NET",
                    ),
                    None,
                ),
                _ => (cc(vec![coding(SCT, "128462008")], "Metastatic disease, liver"), Some(liver_site())),
            },
            Meta::Bone => match pick {
                0..=4 => (cc(vec![coding(SCT, "94222008")], "Bone metastases"), None),
                5..=7 => (
                    cc(vec![coding_d(ICD10, "C79.51", "Secondary malignant neoplasm of bone")], "Bone metastases"),
                    None,
                ),
                _ => (
                    cc(vec![coding_d(ICD10, "C7B.03", "Secondary carcinoid tumors of bone")], "Bone metastases of NET"),
                    None,
                ),
            },
            Meta::Lung => match pick {
                0..=4 => (cc(vec![coding(SCT, "94391008")], "Lung metastases"), None),
                5..=7 => (cc(vec![coding(ICD10, "C78.01")], "Lung metastases"), None),
                _ => (cc(vec![coding(ICD10, "C78.00")], "Lung metastases"), None),
            },
            Meta::Nodes => match pick {
                0..=4 => (
                    cc(
                        vec![coding_d(ICD10, "C7B.01", "Secondary carcinoid tumors of distant lymph nodes")],
                        "Distant nodal metastases",
                    ),
                    None,
                ),
                5..=7 => (cc(vec![coding(SCT, "94392001")], "Distant nodal metastases"), None),
                _ => (cc(vec![coding(ICD10, "C77.2")], "Intra-abdominal nodal metastases"), None),
            },
        };
        self.condition(d, code, site, false)
    }

    pub(crate) fn portal_vein_occlusion(&mut self, d: Date) -> usize {
        let code = if self.p(0.5) {
            cc(vec![coding(SCT, "17920008")], "Portal vein occlusion")
        } else {
            cc(vec![coding_d(ICD10, "I81", "Portal vein thrombosis")], "Portal vein thrombosis")
        };
        self.condition(d, code, None, false)
    }

    pub(crate) fn liver_failure(&mut self, d: Date) -> usize {
        let code = if self.p(0.5) {
            cc(vec![coding(SCT, "59927004")], "Hepatic failure")
        } else {
            cc(vec![coding(ICD10, "K72.10")], "Chronic hepatic failure")
        };
        self.condition(d, code, None, false)
    }
}
