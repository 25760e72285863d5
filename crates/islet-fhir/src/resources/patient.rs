//! Patient: birth date and death.

use super::{field, ClinicalTime, Ctx, Element, Result, Said};
use crate::datetime::parse_date;
use crate::json::{parse_raw, F};
use crate::reject::RejectReason;
use islet_guideline::{FactKind, Instant};
use time::macros::datetime;

/// The instant a `deceasedBoolean: true` Patient is deceased from when
/// `meta.lastUpdated` is absent. A flag without a date must hold at every
/// instant Islet may evaluate (facts dated after "now" are not yet known), so
/// it is dated before any clinical fact Islet handles.
const DECEASED_SINCE_UNKNOWN: Instant = datetime!(1900-01-01 0:00 UTC);

impl<'c, 'a> Ctx<'c, 'a> {
    pub(super) fn patient_facts(&self, last_updated: Option<Instant>) -> Result<Said> {
        let mut said = Said::default();
        if let Some(s) = self.obj.str(F::BirthDate).map_err(field)? {
            let date = parse_date(&s)
                .map_err(|why| RejectReason::MalformedField { field: "birthDate".into(), problem: why.into() })?;
            let born =
                ClinicalTime { at: date.midnight().assume_utc(), element: Element::named("birthDate"), happened: true };
            said.timed.push((born, FactKind::BirthDate(date)));
        }
        match self.choice("deceased", &["Boolean", "DateTime"])? {
            Some(("Boolean", raw)) => {
                let dead: bool = parse_raw(raw, "deceasedBoolean").map_err(field)?;
                if dead {
                    // Not a time of death: the flag holds from when it was recorded.
                    let at = last_updated.unwrap_or(DECEASED_SINCE_UNKNOWN);
                    let since = ClinicalTime { at, element: Element::named("meta.lastUpdated"), happened: false };
                    said.timed.push((since, FactKind::Deceased));
                }
            }
            Some((kind, raw)) => {
                if let Some(at) = self.choice_time("deceased", kind, raw)? {
                    let died = ClinicalTime { at, element: Element::choice("deceased", kind), happened: true };
                    said.timed.push((died, FactKind::Deceased));
                }
            }
            None => {}
        }
        Ok(said)
    }
}
