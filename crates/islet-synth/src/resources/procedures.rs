//! Procedures done or under way, and planned interventions in the shapes the
//! contract reads as "planned" (ServiceRequest, Procedure in preparation).

use crate::chart::Gen;
use crate::coding::{islet_cc, pancreas_site};
use crate::json::j;
use crate::therapy::Proc;
use time::Date;

impl Gen {
    pub(crate) fn procedure(&mut self, d: Date, status: &'static str, p: Proc, outcome: Option<&'static str>) -> usize {
        let t = self.clock(d);
        let alt = self.p(0.5);
        let mut body = j!({
            "status": status,
            "code": p.code(alt),
            "subject": { "reference": (&self.pref) },
        });
        if status == "in-progress" {
            body["performedPeriod"] = j!({ "start": self.local(t) });
        } else {
            body["performedDateTime"] = j!(self.local(t));
        }
        if let Some(o) = outcome {
            body["outcome"] = islet_cc(
                o,
                if o == "curative" { "R0 resection, curative intent" } else { "Debulking (cytoreductive) resection" },
            );
        }
        if p == Proc::PrimaryResection {
            let text = self.pick(&[
                "Distal pancreatectomy with splenectomy",
                "Pancreaticoduodenectomy (Whipple)",
                "Enucleation",
                "Central pancreatectomy",
            ]);
            body["code"]["text"] = j!(text);
            body["bodySite"] = pancreas_site();
        }
        self.emit("Procedure", "proc", t, (60, 4 * 24 * 60), body)
    }

    fn service_request(&mut self, d: Date, status: &'static str, p: Proc) -> usize {
        let t = self.clock(d);
        let alt = self.p(0.5);
        let intent = if status == "active" { "order" } else { "plan" };
        let body = j!({
            "status": status,
            "intent": intent,
            "code": p.code(alt),
            "subject": { "reference": (&self.pref) },
            "authoredOn": self.local(t),
        });
        self.emit("ServiceRequest", "sr", t, (5, 24 * 60), body)
    }

    /// A planned intervention in one of the shapes the contract accepts as "planned".
    pub(crate) fn plan(&mut self, d: Date, p: Proc) -> usize {
        match self.r(0..10) {
            0..=5 => self.service_request(d, "active", p),
            6 | 7 => {
                let s = if self.p(0.5) { "draft" } else { "on-hold" };
                self.service_request(d, s, p)
            }
            _ => self.procedure(d, "preparation", p, None),
        }
    }
}
