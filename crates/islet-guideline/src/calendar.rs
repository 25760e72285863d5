//! Calendar arithmetic on the clinical time line.
//!
//! Calendar dates are taken in each instant's own UTC offset (`at.date()`),
//! the offset the resource was written with: `2024-01-31T20:00-05:00` is 31
//! January, although it is 1 February in UTC. Never convert to UTC before
//! taking a date. A date without an offset (a `YYYY-MM-DD` argument, a birth
//! date) starts at midnight UTC unless an offset is given.

use crate::facts::Instant;
use time::{Date, Duration, Month, Time, UtcOffset};

/// `date` plus `months` calendar months; the day is clamped to the month's
/// length (31 January + 1 month = 28/29 February), as clinicians count.
pub fn add_months(date: Date, months: u32) -> Date {
    let total = date.year() as i64 * 12 + (date.month() as i64 - 1) + months as i64;
    let year = total.div_euclid(12) as i32;
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).expect("1..=12");
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).expect("clamped day is valid")
}

/// Whole calendar months from `from` to `to` (0 when `to` is earlier).
pub fn whole_months_between(from: Date, to: Date) -> u32 {
    if to <= from {
        return 0;
    }
    let mut months = ((to.year() - from.year()) * 12 + (to.month() as i32 - from.month() as i32)) as u32;
    while months > 0 && add_months(from, months) > to {
        months -= 1;
    }
    months
}

/// Fractional months between two dates: whole calendar months plus the
/// remaining days over the length of the next month. Exactly 12 calendar
/// months is exactly 12.0, so "grew 5 mm in a year" is not inflated by leap days.
pub fn months_between(from: Date, to: Date) -> f64 {
    let whole = whole_months_between(from, to);
    let anchor = add_months(from, whole);
    let next = add_months(from, whole + 1);
    let rest = (to - anchor).whole_days() as f64;
    let span = (next - anchor).whole_days().max(1) as f64;
    whole as f64 + rest / span
}

/// Midnight UTC at the start of `date` (a date without an offset is UTC).
pub fn start_of(date: Date) -> Instant {
    start_of_in(date, UtcOffset::UTC)
}

/// Midnight at the start of `date` in `offset`: when a calendar date taken in
/// that offset begins.
pub fn start_of_in(date: Date, offset: UtcOffset) -> Instant {
    date.with_time(Time::MIDNIGHT).assume_offset(offset)
}

/// Age in whole years on `on`.
pub fn age_in_years(birth: Date, on: Date) -> i32 {
    whole_months_between(birth, on) as i32 / 12
}

/// The instant a person born on `birth` turns `years` old, for a clock in `offset`.
pub fn birthday(birth: Date, years: u32, offset: UtcOffset) -> Instant {
    start_of_in(add_months(birth, years * 12), offset)
}

pub fn days(n: u32) -> Duration {
    Duration::days(n as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn month_end_is_clamped() {
        assert_eq!(add_months(date!(2024 - 01 - 31), 1), date!(2024 - 02 - 29));
        assert_eq!(add_months(date!(2023 - 01 - 31), 1), date!(2023 - 02 - 28));
        assert_eq!(add_months(date!(2024 - 11 - 15), 3), date!(2025 - 02 - 15));
    }

    #[test]
    fn a_calendar_year_is_twelve_months() {
        assert_eq!(months_between(date!(2023 - 03 - 01), date!(2024 - 03 - 01)), 12.0);
        assert_eq!(months_between(date!(2024 - 02 - 29), date!(2025 - 02 - 28)), 12.0);
        assert!(months_between(date!(2024 - 01 - 01), date!(2024 - 01 - 16)) > 0.4);
        assert_eq!(whole_months_between(date!(2024 - 01 - 10), date!(2024 - 07 - 09)), 5);
        assert_eq!(whole_months_between(date!(2024 - 01 - 10), date!(2024 - 07 - 10)), 6);
    }

    #[test]
    fn dates_are_taken_in_the_instants_own_offset() {
        use time::macros::{datetime, offset};
        let evening_in_new_york = datetime!(2024-01-31 20:00 -05:00);
        assert_eq!(evening_in_new_york.date(), date!(2024 - 01 - 31));
        // The same instant in UTC is already 1 February: never convert first.
        assert_eq!(evening_in_new_york.to_offset(UtcOffset::UTC).date(), date!(2024 - 02 - 01));
        assert_eq!(add_months(evening_in_new_york.date(), 3), date!(2024 - 04 - 30));
        // Midnight where the clock is.
        let start = start_of_in(date!(2024 - 03 - 10), offset!(+02:00));
        assert_eq!(start, datetime!(2024-03-09 22:00 UTC));
        assert_eq!(start.date(), date!(2024 - 03 - 10));
        assert_eq!(birthday(date!(1970 - 06 - 15), 55, offset!(-05:00)), datetime!(2025-06-15 05:00 UTC));
    }

    #[test]
    fn age_counts_birthdays() {
        assert_eq!(age_in_years(date!(1970 - 06 - 15), date!(2025 - 06 - 14)), 54);
        assert_eq!(age_in_years(date!(1970 - 06 - 15), date!(2025 - 06 - 15)), 55);
    }
}
