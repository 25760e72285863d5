//! What patients are treated with: the drugs (ATC codes current and
//! retired, Islet class, dosing text) and the procedures and planned
//! interventions (Islet codes, SNOMED CT for liver transplantation).

use crate::coding::{cc, coding, coding_d, islet_cc, ISLET, SCT};
use crate::json::J;

/// A drug, as a reference to its description: small enough to ride along
/// on every resource version that could name it in another message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drug(&'static DrugInfo);

/// A drug as a source system may code it.
#[derive(Debug)]
pub(crate) struct DrugInfo {
    pub(crate) atc: &'static str,
    /// Older ATC code still sent by some systems.
    pub(crate) atc_old: Option<&'static str>,
    pub(crate) name: &'static str,
    /// Islet's class code, sometimes sent instead of ATC.
    pub(crate) islet: &'static str,
    pub(crate) dose: &'static str,
}

pub(crate) const OCTREOTIDE: Drug = Drug(&DrugInfo {
    atc: "H01CB02",
    atc_old: None,
    name: "octreotide",
    islet: "ssa",
    dose: "Octreotide LAR 30 mg i.m. every 28 days",
});
pub(crate) const LANREOTIDE: Drug = Drug(&DrugInfo {
    atc: "H01CB03",
    atc_old: None,
    name: "lanreotide",
    islet: "ssa",
    dose: "Lanreotide autogel 120 mg deep s.c. every 28 days",
});
pub(crate) const PASIREOTIDE: Drug = Drug(&DrugInfo {
    atc: "H01CB05",
    atc_old: None,
    name: "pasireotide",
    islet: "ssa",
    dose: "Pasireotide LAR 60 mg i.m. every 28 days",
});
pub(crate) const EVEROLIMUS: Drug = Drug(&DrugInfo {
    atc: "L01EG02",
    atc_old: Some("L01XE10"),
    name: "everolimus",
    islet: "everolimus",
    dose: "Everolimus 10 mg orally once daily",
});
pub(crate) const SUNITINIB: Drug = Drug(&DrugInfo {
    atc: "L01EX01",
    atc_old: Some("L01XE04"),
    name: "sunitinib",
    islet: "sunitinib",
    dose: "Sunitinib 37.5 mg orally once daily",
});
pub(crate) const STREPTOZOCIN: Drug = Drug(&DrugInfo {
    atc: "L01AD04",
    atc_old: None,
    name: "streptozocin",
    islet: "chemotherapy",
    dose: "Streptozocin 500 mg/m² i.v. days 1–5, every 6 weeks",
});
pub(crate) const FLUOROURACIL: Drug = Drug(&DrugInfo {
    atc: "L01BC02",
    atc_old: None,
    name: "fluorouracil",
    islet: "chemotherapy",
    dose: "5-FU 400 mg/m² i.v. days 1–5, every 6 weeks",
});
pub(crate) const DOXORUBICIN: Drug = Drug(&DrugInfo {
    atc: "L01DB01",
    atc_old: None,
    name: "doxorubicin",
    islet: "chemotherapy",
    dose: "Doxorubicin 40 mg/m² i.v. every 3 weeks",
});
pub(crate) const CAPECITABINE: Drug = Drug(&DrugInfo {
    atc: "L01BC06",
    atc_old: None,
    name: "capecitabine",
    islet: "chemotherapy",
    dose: "Capecitabine 750 mg/m² b.i.d. days 1–14, every 28 days",
});
pub(crate) const TEMOZOLOMIDE: Drug = Drug(&DrugInfo {
    atc: "L01AX03",
    atc_old: None,
    name: "temozolomide",
    islet: "chemotherapy",
    dose: "Temozolomide 200 mg/m² days 10–14, every 28 days",
});
pub(crate) const CISPLATIN: Drug = Drug(&DrugInfo {
    atc: "L01XA01",
    atc_old: None,
    name: "cisplatin",
    islet: "chemotherapy",
    dose: "Cisplatin 75 mg/m² i.v. day 1, every 21 days",
});
pub(crate) const CARBOPLATIN: Drug = Drug(&DrugInfo {
    atc: "L01XA02",
    atc_old: None,
    name: "carboplatin",
    islet: "chemotherapy",
    dose: "Carboplatin AUC 5 i.v. day 1, every 21 days",
});
pub(crate) const ETOPOSIDE: Drug = Drug(&DrugInfo {
    atc: "L01CB01",
    atc_old: None,
    name: "etoposide",
    islet: "chemotherapy",
    dose: "Etoposide 100 mg/m² i.v. days 1–3, every 21 days",
});
pub(crate) const INTERFERON: Drug = Drug(&DrugInfo {
    atc: "L03AB05",
    atc_old: Some("L03AB04"),
    name: "interferon alfa",
    islet: "interferon",
    dose: "Interferon alfa 3 MU s.c. three times a week",
});
pub(crate) const LU177: Drug = Drug(&DrugInfo {
    atc: "V10XX04",
    atc_old: None,
    name: "lutetium (177Lu) oxodotreotide",
    islet: "prrt",
    dose: "177Lu-oxodotreotide 7.4 GBq i.v. every 8 weeks, 4 cycles",
});
pub(crate) const ESOMEPRAZOLE: Drug = Drug(&DrugInfo {
    atc: "A02BC05",
    atc_old: None,
    name: "esomeprazole",
    islet: "",
    dose: "Esomeprazole 80 mg orally twice daily",
});
pub(crate) const PANTOPRAZOLE: Drug = Drug(&DrugInfo {
    atc: "A02BC02",
    atc_old: None,
    name: "pantoprazole",
    islet: "",
    dose: "Pantoprazole 80 mg orally twice daily",
});
pub(crate) const DIAZOXIDE: Drug = Drug(&DrugInfo {
    atc: "V03AH01",
    atc_old: None,
    name: "diazoxide",
    islet: "",
    dose: "Diazoxide 100 mg orally three times daily",
});

impl std::ops::Deref for Drug {
    type Target = DrugInfo;
    fn deref(&self) -> &DrugInfo {
        self.0
    }
}

/// A drug is its current ATC code.
impl PartialEq for Drug {
    fn eq(&self, other: &Drug) -> bool {
        self.atc == other.atc
    }
}
impl Eq for Drug {}

/// Procedures and planned interventions (islet codes, SCT for transplantation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proc {
    PrimaryResection,
    LiverAblation,
    Tae,
    Tace,
    Sirt,
    Prrt,
    LiverTransplant,
    BiliaryReconstruction,
}

impl Proc {
    pub(crate) fn code(self, alt: bool) -> J {
        let (code, text) = match self {
            Proc::PrimaryResection => ("primary-resection", "Resection of the pancreatic primary"),
            Proc::LiverAblation => ("liver-ablation", "Radiofrequency ablation of liver metastases"),
            Proc::Tae => ("tae", "Transarterial embolization of liver metastases"),
            Proc::Tace => ("tace", "Transarterial chemoembolization of liver metastases"),
            Proc::Sirt => ("sirt", "Selective internal radiation therapy (90Y)"),
            Proc::Prrt => ("prrt", "Peptide receptor radionuclide therapy"),
            Proc::LiverTransplant => {
                return if alt {
                    cc(vec![coding(ISLET, "liver-transplant")], "Liver transplantation")
                } else {
                    cc(vec![coding_d(SCT, "18027006", "Transplantation of liver")], "Liver transplantation")
                }
            }
            Proc::BiliaryReconstruction => ("biliary-reconstruction", "Biliary reconstruction (hepaticojejunostomy)"),
        };
        islet_cc(code, text)
    }
}
