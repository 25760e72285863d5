//! MedicationStatements (running, stopped, completed, intended) and
//! MedicationRequests (ordered or planned), coded by ATC or Islet class, and
//! the pharmacy catalogues' Medications some of them name instead.

use crate::catalogue::CatalogueEntry;
use crate::chart::Gen;
use crate::coding::{cc, coding, coding_d, ATC, ISLET};
use crate::json::{j, J};
use crate::references::Referable;
use crate::therapy::Drug;
use time::Date;

/// Version `version` of a catalogue entry's Medication. Versions differ in
/// their text only, never in the drug code.
pub(crate) fn catalogue_medication(entry: CatalogueEntry, version: u32, last_updated: String) -> J {
    let drug = entry.drug;
    let text = if version == 1 {
        J::from(drug.name)
    } else {
        J::from(format!("{} (pharmacy {}, catalogue text revision {version})", drug.name, entry.pharmacy))
    };
    j!({
        "resourceType": "Medication",
        "id": (entry.id()),
        "meta": { "versionId": (version.to_string()), "lastUpdated": last_updated },
        "code": { "coding": [(coding_d(ATC, entry.atc(), drug.name))], "text": text },
        "status": "active",
    })
}

impl Gen {
    fn drug_cc(&mut self, drug: Drug, escalated: bool) -> J {
        let mut cs = Vec::new();
        if self.style.drug_islet && !drug.islet.is_empty() {
            cs.push(coding(ISLET, drug.islet));
        } else if let (Some(old), true) = (drug.atc_old, self.p(0.2)) {
            cs.push(coding_d(ATC, old, drug.name));
        } else {
            cs.push(coding_d(ATC, drug.atc, drug.name));
        }
        if escalated {
            cs.push(coding(ISLET, "ssa-escalated"));
        }
        cc(cs, drug.name)
    }

    fn dosage(drug: Drug, interval_days: Option<i64>) -> J {
        match interval_days {
            Some(p) => {
                j!([{ "text": drug.dose.replace("every 28 days", &format!("every {p} days")), "timing": { "repeat": { "frequency": 1, "period": p, "periodUnit": "d" } } }])
            }
            None => j!([{ "text": drug.dose }]),
        }
    }

    /// MedicationStatement; `escalated` SSA is written as the islet code or a ≤ 21-day interval.
    pub(crate) fn med_statement(
        &mut self,
        from: Date,
        to: Option<Date>,
        status: &'static str,
        drug: Drug,
        escalated: bool,
    ) -> usize {
        let t = self.clock(from);
        let ssa = drug.islet == "ssa";
        let (code_escalated, interval) = match (ssa, escalated) {
            (true, true) if self.p(0.5) => (true, None),
            (true, true) => (false, Some(self.pick(&[14, 21]))),
            (true, false) => (false, Some(28)),
            _ => (false, None),
        };
        let mut period = j!({ "start": self.local(t) });
        if let Some(end) = to {
            let te = self.clock(end);
            period["end"] = j!(self.local(te));
        }
        let body = j!({
            "status": status,
            "medicationCodeableConcept": self.drug_cc(drug, code_escalated),
            "subject": { "reference": (&self.pref) },
            "effectivePeriod": period,
            "dateAsserted": self.local(t),
            "dosage": Self::dosage(drug, interval),
        });
        let i = self.emit("MedicationStatement", "ms", t, (30, 5 * 24 * 60), body);
        // Escalation said by the code stays in the code: a shared catalogue
        // Medication cannot say this patient's dose is escalated.
        self.res[i].referable = (!code_escalated).then_some(Referable::Drug(drug));
        i
    }

    /// Stop a running MedicationStatement: a new version, `completed` or `stopped`, with an end.
    pub(crate) fn stop(&mut self, i: usize, end: Date, status: &'static str) -> usize {
        let te = self.clock(end);
        let end_s = self.local(te);
        let delay = (end - self.res[i].clinical).whole_minutes().max(60);
        let j = self.revise(i, (delay, delay + 3 * 24 * 60), |b| {
            b["status"] = j!(status);
            b["effectivePeriod"]["end"] = j!(end_s);
        });
        self.res[j].clinical = end;
        j
    }

    pub(crate) fn med_request(&mut self, d: Date, status: &'static str, drug: Drug) -> usize {
        let t = self.clock(d);
        let intent = if status == "active" { "order" } else { "plan" };
        let body = j!({
            "status": status,
            "intent": intent,
            "medicationCodeableConcept": self.drug_cc(drug, false),
            "subject": { "reference": (&self.pref) },
            "authoredOn": self.local(t),
            "dosageInstruction": Self::dosage(drug, None),
        });
        let i = self.emit("MedicationRequest", "mr", t, (5, 24 * 60), body);
        self.res[i].referable = Some(Referable::Drug(drug));
        i
    }
}
