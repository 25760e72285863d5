//! FHIR `date`, `dateTime` and `instant` strings → instants.
//!
//! Written by hand (no regex, no allocation) after the FHIR R4 grammar:
//! `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm:ss[.fff…](Z|±hh:mm)`.
//! A time keeps the UTC offset it was written with, so its calendar date is
//! the one written (`2024-01-31T20:00-05:00` is 31 January; guideline.md v2,
//! "calendar date"); instants compare by the moment they denote, whatever
//! their offsets. A partial date means the start of its period; a date
//! without a time means 00:00 UTC. A time without a time zone is an error (the FHIR rule; fhir-sdk
//! silently drops such an `effectiveDateTime`). Errors are short static texts
//! that name the expected shape, never the value.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Why a date or time string was refused.
pub(crate) type Why = &'static str;

const DATE_SHAPE: Why = "must be a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)";
const DATE_TIME_SHAPE: Why =
    "must be a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone)";
const NEEDS_ZONE: Why = "has a time but no time zone (FHIR requires Z or ±hh:mm)";
const INSTANT_SHAPE: Why = "must be a FHIR instant (YYYY-MM-DDThh:mm:ss[.sss] with Z or ±hh:mm)";

/// A parsed FHIR date: the first day of the period it names.
pub(crate) fn parse_date(s: &str) -> Result<Date, Why> {
    let b = s.as_bytes();
    let (date, rest) = date_prefix(b).ok_or(DATE_SHAPE)?;
    if rest.is_empty() {
        Ok(date)
    } else {
        Err(DATE_SHAPE)
    }
}

/// A parsed FHIR dateTime in its own offset (start of the period for partial dates).
pub(crate) fn parse_date_time(s: &str) -> Result<OffsetDateTime, Why> {
    let b = s.as_bytes();
    let (date, rest) = date_prefix(b).ok_or(DATE_TIME_SHAPE)?;
    if rest.is_empty() {
        return Ok(date.midnight().assume_utc());
    }
    if rest[0] != b'T' || b.len() != 10 + rest.len() {
        return Err(DATE_TIME_SHAPE);
    }
    time_and_zone(date, &rest[1..], DATE_TIME_SHAPE)
}

/// A parsed FHIR instant (date, time to the second and a zone are all required).
pub(crate) fn parse_instant(s: &str) -> Result<OffsetDateTime, Why> {
    let b = s.as_bytes();
    match date_prefix(b) {
        Some((date, rest)) if b.len() == 10 + rest.len() && rest.first() == Some(&b'T') => {
            time_and_zone(date, &rest[1..], INSTANT_SHAPE)
        }
        _ => Err(INSTANT_SHAPE),
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `YYYY[-MM[-DD]]` at the start of `b`; returns the date and the rest.
fn date_prefix(b: &[u8]) -> Option<(Date, &[u8])> {
    let year = i32::try_from(digits(b.get(..4)?)?).ok()?;
    if year == 0 {
        return None;
    }
    let rest = &b[4..];
    if rest.is_empty() {
        return Some((Date::from_calendar_date(year, Month::January, 1).ok()?, rest));
    }
    if rest[0] != b'-' {
        return None;
    }
    let month = u8::try_from(digits(rest.get(1..3)?)?).ok()?;
    let month = Month::try_from(month).ok()?;
    let rest = &rest[3..];
    if rest.is_empty() {
        return Some((Date::from_calendar_date(year, month, 1).ok()?, rest));
    }
    if rest[0] != b'-' {
        return None;
    }
    let day = u8::try_from(digits(rest.get(1..3)?)?).ok()?;
    Some((Date::from_calendar_date(year, month, day).ok()?, &rest[3..]))
}

/// `hh:mm:ss[.f+](Z|±hh:mm)` after the `T`.
fn time_and_zone(date: Date, b: &[u8], shape: Why) -> Result<OffsetDateTime, Why> {
    let two = |at: usize| -> Result<u8, Why> {
        b.get(at..at + 2).and_then(digits).and_then(|n| u8::try_from(n).ok()).ok_or(shape)
    };
    let hour = two(0)?;
    if b.get(2) != Some(&b':') {
        return Err(shape);
    }
    let minute = two(3)?;
    if b.get(5) != Some(&b':') {
        return Err(shape);
    }
    let mut second = two(6)?;
    let mut nanos: u32 = 0;
    let mut i = 8;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err(shape);
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    if second == 60 {
        // A leap second: the last representable instant of that minute.
        second = 59;
        nanos = 999_999_999;
    }
    let time = Time::from_hms_nano(hour, minute, second, nanos).map_err(|_| shape)?;
    let zone = &b[i..];
    let offset = match zone {
        [] => return Err(NEEDS_ZONE),
        [b'Z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = i8::try_from(digits(&[*h1, *h2]).ok_or(shape)?).map_err(|_| shape)?;
            let m = i8::try_from(digits(&[*m1, *m2]).ok_or(shape)?).map_err(|_| shape)?;
            if h > 14 || m > 59 {
                return Err(shape);
            }
            let (h, m) = if *sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).map_err(|_| shape)?
        }
        _ => return Err(shape),
    };
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// The exclusive end of a period whose inclusive end is the FHIR dateTime
/// `s`: a time is its own instant; a date (or a year, a month) includes that
/// whole day (year, month), so the end is the start of the next one, at
/// midnight in `offset` (the offset of the period's start).
pub(crate) fn parse_period_end(s: &str, offset: UtcOffset) -> Result<OffsetDateTime, Why> {
    let b = s.as_bytes();
    let (date, rest) = date_prefix(b).ok_or(DATE_TIME_SHAPE)?;
    if !rest.is_empty() {
        return parse_date_time(s);
    }
    let next = match b.len() {
        4 => Date::from_calendar_date(date.year() + 1, Month::January, 1).ok(),
        7 => {
            let (year, month) = match date.month() {
                Month::December => (date.year() + 1, Month::January),
                m => (date.year(), m.next()),
            };
            Date::from_calendar_date(year, month, 1).ok()
        }
        _ => date.next_day(),
    };
    Ok(next.ok_or(DATE_TIME_SHAPE)?.midnight().assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn partial_dates_are_the_start_of_their_period() {
        assert_eq!(parse_date_time("2024"), Ok(datetime!(2024-01-01 0:00 UTC)));
        assert_eq!(parse_date_time("2024-03"), Ok(datetime!(2024-03-01 0:00 UTC)));
        assert_eq!(parse_date_time("2024-03-15"), Ok(datetime!(2024-03-15 0:00 UTC)));
        assert_eq!(parse_date("1961-07"), Ok(time::macros::date!(1961 - 07 - 01)));
    }

    #[test]
    fn times_keep_their_offset() {
        assert_eq!(parse_date_time("2024-01-10T09:00:00+01:00"), Ok(datetime!(2024-01-10 8:00 UTC)));
        let evening = parse_date_time("2024-01-31T20:00:00-05:00").unwrap();
        assert_eq!(evening.offset(), time::macros::offset!(-5));
        assert_eq!(evening.date(), time::macros::date!(2024 - 01 - 31), "the calendar date as written");
        let instant = parse_instant("2024-01-10T23:30:00.123456789123-02:30").unwrap();
        assert_eq!(instant, datetime!(2024-01-11 2:00:00.123456789 UTC));
        assert_eq!(instant.date(), time::macros::date!(2024 - 01 - 10));
        assert_eq!(parse_instant("2016-12-31T23:59:60Z"), Ok(datetime!(2016-12-31 23:59:59.999999999 UTC)));
    }

    #[test]
    fn period_ends_are_exclusive_at_their_precision() {
        let utc = UtcOffset::UTC;
        assert_eq!(parse_period_end("2024-06-30", utc), Ok(datetime!(2024-07-01 0:00 UTC)));
        assert_eq!(parse_period_end("2024-12", utc), Ok(datetime!(2025-01-01 0:00 UTC)));
        assert_eq!(parse_period_end("2024-02", utc), Ok(datetime!(2024-03-01 0:00 UTC)));
        assert_eq!(parse_period_end("2024", utc), Ok(datetime!(2025-01-01 0:00 UTC)));
        let minus5 = time::macros::offset!(-5);
        let end = parse_period_end("2024-06-30", minus5).unwrap();
        assert_eq!(end, datetime!(2024-07-01 0:00 -5));
        assert_eq!(end.offset(), minus5);
        assert_eq!(parse_period_end("2024-06-30T17:00:00+02:00", utc), Ok(datetime!(2024-06-30 15:00 UTC)));
        assert!(parse_period_end("2024-06-31", utc).is_err());
        assert!(parse_period_end("9999-12-31", utc).is_err(), "no day after the last one");
    }

    #[test]
    fn refuses_what_fhir_refuses() {
        assert_eq!(parse_date_time("2024-01-10T09:00:00"), Err(NEEDS_ZONE));
        assert_eq!(parse_instant("2024-01-10T09:00:00"), Err(NEEDS_ZONE));
        for bad in [
            "",
            "24",
            "2024-1",
            "2024-13",
            "2024-02-30",
            "2024-01-10T09:00Z",
            "2024-01-10 09:00:00Z",
            "2024-01-10T25:00:00Z",
            "0000",
            "2024-01-10T09:00:00+15:00",
            "2024-01-10T09:00:00.Z",
            "2024-01-10T09:00:00z",
            "２０２４",
            "2024-01-10T09:00:00+0100",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad}");
        }
        assert!(parse_instant("2024-01-10").is_err());
        assert!(parse_date("2024-01-10T09:00:00Z").is_err());
    }
}
