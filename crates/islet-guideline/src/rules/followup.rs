//! Dated follow-up (spec "Follow-up (dated)").
//!
//! Paper, surgery section: for sporadic non-functioning pNETs < 2 cm "a
//! non-operative approach may be advocated" with close surveillance (8).
//! The spec's schedule: imaging 3, 6, 9 and 12 months after the baseline
//! imaging, then 18, 24, 30 and 36 months; CgA on the same dates (8,9).

use super::Finding;
use crate::alert::{Kind, RuleSpec, ScheduleItem, Severity, State};
use crate::calendar::{add_months, days, start_of_in};
use crate::config::Config;
use crate::derived::Picture;
use crate::facts::{Fact, FactKind, Instant, TumourSite};
use time::{Date, UtcOffset};

pub const SURVEILLANCE_IMAGING: RuleSpec = RuleSpec {
    id: "followup.surveillance-imaging",
    kind: Kind::FollowUp,
    severity: Severity::Info,
    summary: "Surveillance imaging of the small non-functioning pNET",
    detail: "Under the non-operative approach, measure the tumour by imaging every 3 months in the \
             first year, then every 6 months up to 3 years. Growth or new findings reopen the \
             question of resection.",
    citation: "Rossi et al. 2014, ref 8",
};

pub const CGA_SURVEILLANCE: RuleSpec = RuleSpec {
    id: "followup.cga-surveillance",
    kind: Kind::FollowUp,
    severity: Severity::Info,
    summary: "Chromogranin A during surveillance of the small non-functioning pNET",
    detail: "Measure chromogranin A with each surveillance imaging (every 3 months in the first \
             year, then every 6 months up to 3 years).",
    citation: "Rossi et al. 2014, refs 8, 9",
};

pub const RULES: &[&RuleSpec] = &[&SURVEILLANCE_IMAGING, &CGA_SURVEILLANCE];

/// Months after the baseline at which each item falls due.
pub const SCHEDULE_MONTHS: [u32; 8] = [3, 6, 9, 12, 18, 24, 30, 36];

pub fn evaluate(p: &Picture, out: &mut Vec<Finding>) {
    if super::surgery::surveillance_small_nonfunctioning(p).is_none() {
        return;
    }
    let Some(baseline) = baseline(p) else { return };
    out.extend(next_item(p, baseline, &SURVEILLANCE_IMAGING, |k| matches!(k, FactKind::TumourSize { .. })));
    out.extend(next_item(p, baseline, &CGA_SURVEILLANCE, |k| matches!(k, FactKind::ChromograninA { .. })));
}

/// "The first imaging result that established the tumour ≤ 20 mm" (v2:
/// exactly 20 mm is small). Its calendar date, in its own UTC offset, anchors
/// the due dates.
pub fn baseline<'a>(p: &Picture<'a>) -> Option<&'a Fact> {
    p.primary_sizes().into_iter().find(|(_, mm)| mm.get() <= super::surgery::SMALL_PRIMARY_MM).map(|(f, _)| f)
}

/// The earliest unsatisfied item of the schedule, or `None` once the 36-month
/// item is satisfied (the schedule has ended). An item due on `due` is
/// satisfied by a matching result dated on or after `due` minus
/// `followup_satisfaction_days` *(project default 30)*; a late result also
/// satisfies an overdue item.
fn next_item(
    p: &Picture,
    baseline: &Fact,
    spec: &'static RuleSpec,
    satisfies: impl Fn(&FactKind) -> bool,
) -> Option<Finding> {
    let results: Vec<&Fact> = p.all(satisfies);
    let t = &p.config.thresholds;
    let mut last_satisfier: Option<&Fact> = None;
    for months in SCHEDULE_MONTHS {
        let due = add_months(baseline.at.date(), months);
        let window_start = due - days(t.followup_satisfaction_days);
        if let Some(r) = results.iter().rev().find(|f| f.at.date() >= window_start && f.at > baseline.at) {
            last_satisfier = Some(r);
            continue;
        }
        let state = state_on(p.now.date(), due, p.config);
        let baseline_words = match &baseline.kind {
            FactKind::TumourSize { site: TumourSite::Primary, largest } => {
                format!("baseline imaging: primary {} mm", largest.get())
            }
            _ => "baseline imaging".to_string(),
        };
        let mut f = Finding::new(spec).derived(baseline, baseline_words).maybe(last_satisfier);
        f = f.note(format!("Item {months} months after baseline, due {due}."));
        f.schedule = Some(ScheduleItem { months, due, state });
        f.severity = Some(if state == State::Overdue { Severity::Warning } else { Severity::Info });
        return Some(f);
    }
    None
}

/// `scheduled` until `followup_due_window_days` before the due date, then
/// `due` through the due date, then `overdue`.
pub fn state_on(today: Date, due: Date, config: &Config) -> State {
    if today > due {
        State::Overdue
    } else if today >= due - days(config.thresholds.followup_due_window_days) {
        State::Due
    } else {
        State::Scheduled
    }
}

/// The instants at which an item changes state without new data: the
/// starts of the days it turns due and overdue, for a clock in `offset`
/// ([`state_on`] takes today's date in the offset of "now").
pub fn transitions(item: &ScheduleItem, config: &Config, offset: UtcOffset) -> [Instant; 2] {
    [
        start_of_in(item.due - days(config.thresholds.followup_due_window_days), offset),
        start_of_in(item.due + days(1), offset),
    ]
}

#[cfg(test)]
mod tests {
    use crate::alert::State;
    use crate::facts::{DiscoveryMode, FactKind, ResectionOutcome};
    use crate::rules::testkit::*;

    const IMAGING: &str = "followup.surveillance-imaging";

    /// Sporadic non-functioning 14 mm pNET found incidentally; baseline imaging 2024-01-10.
    fn small() -> Patient {
        Patient::pnet()
            .on("2024-01-10", primary_mm(14.0))
            .on("2024-01-10", FactKind::DiscoveryMode(DiscoveryMode::Incidental))
    }

    fn item(p: &Patient, now: &str) -> Option<(u32, String, State)> {
        p.alerts(now, IMAGING).first().map(|a| (a.schedule_item.unwrap(), a.due.unwrap().to_string(), a.state))
    }

    #[test]
    fn due_dates_are_calendar_months_from_baseline() {
        let mut p = small();
        let expected = [
            (3, "2024-04-10"),
            (6, "2024-07-10"),
            (9, "2024-10-10"),
            (12, "2025-01-10"),
            (18, "2025-07-10"),
            (24, "2026-01-10"),
            (30, "2026-07-10"),
            (36, "2027-01-10"),
        ];
        for (months, due) in expected {
            let now = super::add_months(date("2024-01-10"), months) - time::Duration::days(20);
            let (m, d, state) = item(&p, &now.to_string()).expect("an item is open");
            assert_eq!((m, d.as_str(), state), (months, due, State::Scheduled));
            // Imaging on the due date satisfies the item.
            p = p.on(due, primary_mm(14.0));
        }
        // After the 36-month item the schedule has ended.
        assert_eq!(item(&p, "2027-02-01"), None);
        assert_eq!(item(&p, "2030-01-01"), None);
    }

    #[test]
    fn scheduled_due_overdue() {
        let p = small();
        assert_eq!(item(&p, "2024-03-26").unwrap().2, State::Scheduled); // 15 days before
        assert_eq!(item(&p, "2024-03-27").unwrap().2, State::Due); // 14 days before
        assert_eq!(item(&p, "2024-04-10").unwrap().2, State::Due); // due date
        assert_eq!(item(&p, "2024-04-11").unwrap().2, State::Overdue);
        assert_eq!(item(&p, "2024-06-01").unwrap().2, State::Overdue);
        assert_eq!(p.alerts("2024-04-11", IMAGING)[0].severity, crate::Severity::Warning);
    }

    #[test]
    fn satisfied_by_imaging_within_30_days_before_due() {
        // 30 days before 2024-04-10 is 2024-03-11.
        let on_edge = small().on("2024-03-11", primary_mm(14.0));
        assert_eq!(item(&on_edge, "2024-04-01").unwrap().0, 6);
        let too_early = small().on("2024-03-10", primary_mm(14.0));
        assert_eq!(item(&too_early, "2024-04-01").unwrap().0, 3);
        // A late scan satisfies the overdue item.
        let late = small().on("2024-05-20", primary_mm(14.0));
        assert_eq!(item(&late, "2024-05-21").unwrap().0, 6);
    }

    #[test]
    fn wake_time_is_the_next_transition() {
        let a = small().eval("2024-02-01");
        assert_eq!(a.wake_at, Some(instant("2024-03-27")));
        let a = small().eval("2024-04-01");
        assert_eq!(a.wake_at, Some(instant("2024-04-11")));
    }

    #[test]
    fn cga_schedule_has_the_same_dates() {
        let p = small().on("2024-04-01", primary_mm(14.0));
        let cga_alert = &p.alerts("2024-04-05", "followup.cga-surveillance")[0];
        assert_eq!(cga_alert.due.unwrap().to_string(), "2024-04-10");
        let p = p.on("2024-04-02", cga(70.0));
        assert_eq!(p.alerts("2024-04-05", "followup.cga-surveillance")[0].schedule_item, Some(6));
    }

    #[test]
    fn a_baseline_of_exactly_20_mm_starts_the_schedule() {
        let p = Patient::pnet()
            .on("2024-01-10", primary_mm(20.0))
            .on("2024-01-10", FactKind::DiscoveryMode(DiscoveryMode::Incidental));
        assert_eq!(item(&p, "2024-02-01"), Some((3, "2024-04-10".into(), State::Scheduled)));
    }

    /// Calendar dates are taken in the resource's own UTC offset: a scan at
    /// 20:00 in New York on 31 January is dated 31 January (in UTC it is
    /// already 1 February), so the 3-month item is due on 30 April, not 1 May.
    #[test]
    fn due_dates_from_a_result_in_its_own_offset() {
        let p = Patient::pnet()
            .on("2024-01-31T20:00:00-05:00", primary_mm(14.0))
            .on("2024-01-31T20:00:00-05:00", FactKind::DiscoveryMode(DiscoveryMode::Incidental));
        let a = &p.alerts("2024-02-15", IMAGING)[0];
        assert_eq!(a.due.unwrap().to_string(), "2024-04-30");
        assert!(a.evidence[0].fact.ends_with("(2024-01-31)"), "{:?}", a.evidence);
        assert!(a.detail.contains("due 2024-04-30"), "{}", a.detail);
        // `since` is the instant, shown in UTC.
        assert_eq!(a.since, instant("2024-02-01T01:00:00Z"));
        assert_eq!(a.since.offset(), time::UtcOffset::UTC);
        // The satisfaction window opens 30 days before the due date, on the
        // scan's own calendar date: 31 March 21:00 in New York is 31 March.
        let early_evening = p.clone().on("2024-03-31T21:00:00-04:00", primary_mm(14.0));
        assert_eq!(item(&early_evening, "2024-04-15").unwrap().0, 6);
        // 30 March 23:00 in Tokyo is 30 March 14:00 UTC: too early either way.
        let too_early = p.clone().on("2024-03-30T23:00:00+09:00", primary_mm(14.0));
        assert_eq!(item(&too_early, "2024-04-15").unwrap().0, 3);
        // 31 March 07:00 in Tokyo is 30 March 22:00 UTC: dated 31 March, inside the window.
        let tokyo_morning = p.on("2024-03-31T07:00:00+09:00", primary_mm(14.0));
        assert_eq!(item(&tokyo_morning, "2024-04-15").unwrap().0, 6);
    }

    /// Today's date and the wake times are taken where the clock ("now") is.
    #[test]
    fn state_and_wake_time_in_the_offset_of_now() {
        let p = small();
        // Due on 2024-04-10: overdue from 11 April in the clock's own offset.
        assert_eq!(item(&p, "2024-04-10T23:30:00-05:00").unwrap().2, State::Due);
        assert_eq!(item(&p, "2024-04-11T00:30:00+02:00").unwrap().2, State::Overdue);
        let a = p.eval("2024-04-10T12:00:00-05:00");
        assert_eq!(a.wake_at, Some(instant("2024-04-11T00:00:00-05:00")));
    }

    #[test]
    fn ends_at_resection_or_growth() {
        let resected = small().on("2024-02-01", resection(ResectionOutcome::Curative));
        assert_eq!(item(&resected, "2024-04-01"), None);
        let grown = small().on("2024-03-20", primary_mm(21.0));
        assert_eq!(item(&grown, "2024-04-01"), None);
    }
}
