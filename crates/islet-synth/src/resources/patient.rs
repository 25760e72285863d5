//! The Patient resource: registration, the test-data and archetype tags,
//! and death as a new version.

use crate::chart::Gen;
use crate::coding::{coding_d, ARCHETYPE_SYSTEM};
use crate::json::j;
use time::Date;

impl Gen {
    pub(crate) fn patient(&mut self, registered: Date) {
        let t = self.clock(registered);
        let gender = if self.p(0.5) { "female" } else { "male" };
        let body = j!({
            "identifier": [{ "system": "https://islet.dev/fhir/synthetic-patient", "value": self.pid.to_uppercase() }],
            "active": true,
            "gender": gender,
            "birthDate": self.birth.to_string(),
        });
        let i = self.emit("Patient", "pat", t, (0, 30), body);
        // The Patient's id is the bare synthetic id.
        let pid = self.pid.clone();
        self.res[i].id = pid.clone();
        self.res[i].body["id"] = j!(pid);
    }

    /// Tag every Patient version as test data and with its archetype and variant.
    pub(crate) fn tag_patient(&mut self) {
        let tags = j!([
            coding_d("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST", "test health data"),
            { "system": ARCHETYPE_SYSTEM, "code": self.archetype.code(), "display": (&self.variant) },
        ]);
        for r in self.res.iter_mut().filter(|r| r.rtype == "Patient") {
            r.body["meta"]["tag"] = tags.clone();
        }
    }

    pub(crate) fn decease(&mut self) {
        let Some(i) = self.res.iter().position(|r| r.rtype == "Patient") else {
            return;
        };
        let last = self.res.iter().map(|r| r.clinical).max().unwrap_or(self.start);
        let death = last + self.days(10, 200);
        if death > self.end {
            return;
        }
        let t = self.clock(death);
        let when = self.local(t);
        let boolean = self.p(0.3);
        let delay = (death - self.res[i].clinical).whole_minutes().max(60);
        let j = self.revise(i, (delay, delay + 5 * 24 * 60), |b| {
            if boolean {
                b["deceasedBoolean"] = j!(true);
            } else {
                b["deceasedDateTime"] = j!(when);
            }
            b["active"] = j!(false);
        });
        self.res[j].clinical = death;
    }
}
