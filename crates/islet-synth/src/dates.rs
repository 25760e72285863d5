//! Calendar arithmetic and the FHIR `dateTime` / `instant` text, written by
//! hand because it runs for every timestamp of every resource.

use time::{Date, Month, PrimitiveDateTime, UtcOffset};

/// `d` plus `months` calendar months, the day clamped to the month's length.
pub(crate) fn add_months(d: Date, months: u32) -> Date {
    let total = d.year() * 12 + (d.month() as i32 - 1) + months as i32;
    let (y, m) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u8);
    let month = Month::try_from(m).expect("valid month");
    let day = d.day().min(month.length(y));
    Date::from_calendar_date(y, month, day).expect("valid date")
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)`.
pub(crate) fn format_dt(t: PrimitiveDateTime, off: UtcOffset, millis: bool) -> String {
    fn digits(s: &mut String, v: u32, width: u32) {
        for p in (0..width).rev() {
            s.push(char::from(b'0' + (v / 10u32.pow(p) % 10) as u8));
        }
    }
    let mut s = String::with_capacity(29);
    let d = t.date();
    digits(&mut s, d.year().unsigned_abs(), 4);
    s.push('-');
    digits(&mut s, u32::from(d.month() as u8), 2);
    s.push('-');
    digits(&mut s, u32::from(d.day()), 2);
    s.push('T');
    digits(&mut s, u32::from(t.hour()), 2);
    s.push(':');
    digits(&mut s, u32::from(t.minute()), 2);
    s.push(':');
    digits(&mut s, u32::from(t.second()), 2);
    if millis {
        s.push('.');
        digits(&mut s, u32::from(t.millisecond()), 3);
    }
    if off.is_utc() {
        s.push('Z');
    } else {
        let (h, m, _) = off.as_hms();
        s.push(if off.is_negative() { '-' } else { '+' });
        digits(&mut s, u32::from(h.unsigned_abs()), 2);
        s.push(':');
        digits(&mut s, u32::from(m.unsigned_abs()), 2);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_months_clamps_to_month_end() {
        let d = Date::from_calendar_date(2023, Month::January, 31).unwrap();
        assert_eq!(add_months(d, 1).to_string(), "2023-02-28");
        assert_eq!(add_months(d, 13).to_string(), "2024-02-29");
        assert_eq!(add_months(d, 36).to_string(), "2026-01-31");
    }
}
