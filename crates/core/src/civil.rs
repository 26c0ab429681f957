//! Unix seconds as a calendar date and time (proleptic Gregorian), for the
//! places that print a date themselves: in UTC for protocols (IMAP
//! INTERNALDATE), in Europe/Paris for people ([`Civil::paris`]). Howard
//! Hinnant's `civil_from_days` and `days_from_civil`, valid for every `i64`
//! day count the store can hold.

/// A moment in UTC, by its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: i64,
    /// 1 to 31.
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl Civil {
    /// The calendar fields of `unix` seconds.
    pub fn from_unix(unix: i64) -> Self {
        let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self { year, month, day, hour: secs / 3600, minute: secs % 3600 / 60, second: secs % 60 }
    }

    /// The calendar fields of `unix` seconds on a clock in France
    /// (Europe/Paris): UTC+1, and UTC+2 in summer time, from the last
    /// Sunday of March to the last Sunday of October, both at 01:00 UTC
    /// (the EU rule since 1996, applied to every year).
    pub fn paris(unix: i64) -> Self {
        Self::from_unix(unix.saturating_add(paris_offset(unix)))
    }
}

/// The unix seconds of midnight, Paris time, starting `year-month-day`
/// (a day of the proleptic calendar; months and days out of range roll
/// over as the calendar does: month 13 is January of the next year).
pub fn paris_midnight(year: i64, month: i64, day: i64) -> i64 {
    let (year, month) = (year + (month - 1).div_euclid(12), (month - 1).rem_euclid(12) + 1);
    let utc_midnight = days_from_civil(year, month, 1) * 86_400 + (day - 1) * 86_400;
    // Summer time changes at 01:00 UTC, never at local midnight: the
    // offset an hour before UTC midnight is the one in force.
    utc_midnight - paris_offset(utc_midnight - 3600)
}

/// Unix seconds of an ISO 8601 date and time as a pharmacy's software
/// writes it: `YYYY-MM-DD`, `YYYY-MM-DD[T| ]HH:MM[:SS]`, then `Z` or
/// `±HH:MM` for UTC or an offset; without one, a time in Paris. None for
/// anything else (a day or time out of range included).
pub fn parse_iso_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = |s: &str, n: usize| {
        (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i64>().ok()).flatten()
    };
    let (date, rest) = (text.get(..10)?, text.get(10..)?);
    let (year, month, day) = (digits(date.get(..4)?, 4)?, digits(date.get(5..7)?, 2)?, digits(date.get(8..10)?, 2)?);
    if date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' || !(1..=12).contains(&month) {
        return None;
    }
    let days_in_month = days_from_civil(year, month + 1, 1) - days_from_civil(year, month, 1);
    if day < 1 || day > days_in_month {
        return None;
    }
    let rest = rest.strip_prefix(['T', ' ']).unwrap_or(rest);
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let (hour, minute, second) = match time.split(':').collect::<Vec<_>>()[..] {
        [""] => (0, 0, 0),
        [h, m] => (digits(h, 2)?, digits(m, 2)?, 0),
        [h, m, s] => (digits(h, 2)?, digits(m, 2)?, digits(s.split('.').next()?, 2)?),
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    match zone {
        None => Some(local - paris_offset(local - 3600)),
        Some("Z" | "z") => Some(local),
        Some(offset) => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset[1..].split_once(':')?;
            let offset = sign * (digits(h, 2)? * 3600 + digits(m, 2)? * 60);
            (offset.abs() <= 14 * 3600).then_some(local - offset)
        }
    }
}

/// Seconds Paris is ahead of UTC at `unix`.
pub fn paris_offset(unix: i64) -> i64 {
    let year = Civil::from_unix(unix).year;
    let summer_from = last_sunday(year, 3) * 86_400 + 3600;
    let summer_until = last_sunday(year, 10) * 86_400 + 3600;
    if (summer_from..summer_until).contains(&unix) { 7200 } else { 3600 }
}

/// The day number (days since 1970-01-01) of the last Sunday of a month
/// of 31 days.
fn last_sunday(year: i64, month: i64) -> i64 {
    let last = days_from_civil(year, month, 31);
    // 1970-01-01 was a Thursday: weekday 0 is Sunday.
    last - (last + 4).rem_euclid(7)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_leap_days_and_before_1970() {
        let at = |y, mo, d, h, mi, s| Civil { year: y, month: mo, day: d, hour: h, minute: mi, second: s };
        assert_eq!(Civil::from_unix(0), at(1970, 1, 1, 0, 0, 0));
        assert_eq!(Civil::from_unix(951_782_400), at(2000, 2, 29, 0, 0, 0));
        assert_eq!(Civil::from_unix(1_795_744_029), at(2026, 11, 27, 1, 47, 9));
        assert_eq!(Civil::from_unix(-1), at(1969, 12, 31, 23, 59, 59));
    }

    #[test]
    fn paris_is_one_hour_ahead_in_winter_two_in_summer() {
        let at = |y, mo, d, h, mi| Civil { year: y, month: mo, day: d, hour: h, minute: mi, second: 0 };
        let at_59 = |y, mo, d, h, mi| Civil { second: 59, ..at(y, mo, d, h, mi) };
        // 27 Nov 2026 09:30 UTC is 10:30 in Paris.
        assert_eq!(Civil::paris(1_795_771_800), at(2026, 11, 27, 10, 30));
        // Summer time 2026: from Sunday 29 March 01:00 UTC (02:00 -> 03:00)
        // to Sunday 25 October 01:00 UTC (03:00 -> 02:00).
        let march_29 = days_from_civil(2026, 3, 29) * 86_400;
        assert_eq!(Civil::paris(march_29 + 3599), at_59(2026, 3, 29, 1, 59));
        assert_eq!(Civil::paris(march_29 + 3600), at(2026, 3, 29, 3, 0));
        let october_25 = days_from_civil(2026, 10, 25) * 86_400;
        assert_eq!(Civil::paris(october_25 + 3599), at_59(2026, 10, 25, 2, 59));
        assert_eq!(Civil::paris(october_25 + 3600), at(2026, 10, 25, 2, 0));
        // New Year's Eve in Paris is still the old year in UTC.
        assert_eq!(Civil::paris(days_from_civil(2027, 1, 1) * 86_400 - 1800), at(2027, 1, 1, 0, 30));
        assert_eq!(paris_offset(days_from_civil(2026, 7, 14) * 86_400), 7200);
        // Local midnights, winter and summer, and months rolling over.
        assert_eq!(Civil::paris(paris_midnight(2026, 1, 1)), at(2026, 1, 1, 0, 0));
        assert_eq!(Civil::paris(paris_midnight(2026, 7, 1)), at(2026, 7, 1, 0, 0));
        assert_eq!(paris_midnight(2026, 13, 1), paris_midnight(2027, 1, 1));
        assert_eq!(paris_midnight(2026, 7, 1) - paris_midnight(2026, 6, 30), 86_400);
    }

    #[test]
    fn iso_dates_read_with_their_offset_or_as_paris_time() {
        let utc = |y: i64, mo: i64, d: i64, h: i64, mi: i64| -> i64 {
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
        };
        assert_eq!(parse_iso_datetime("2026-11-30T14:05:00Z"), Some(utc(2026, 11, 30, 14, 5)));
        assert_eq!(parse_iso_datetime("2026-11-30T14:05:00+01:00"), Some(utc(2026, 11, 30, 13, 5)));
        assert_eq!(parse_iso_datetime("2026-11-30 14:05"), Some(utc(2026, 11, 30, 13, 5)), "Paris, winter");
        assert_eq!(parse_iso_datetime("2026-07-14T10:00"), Some(utc(2026, 7, 14, 8, 0)), "Paris, summer");
        assert_eq!(parse_iso_datetime("2026-11-30"), Some(utc(2026, 11, 29, 23, 0)));
        assert_eq!(parse_iso_datetime("2026-11-30T14:05:09.123-03:30"), Some(utc(2026, 11, 30, 17, 35) + 9));
        for bad in
            ["", "2026-02-30", "2026-13-01", "2026-11-30T24:00", "30/11/2026", "2026-11-30T14:05+99:00", "2026-1-30"]
        {
            assert_eq!(parse_iso_datetime(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_not_without_panic(s in ".{0,40}") {
            let _ = parse_iso_datetime(&s);
        }

        #[test]
        fn days_and_dates_round_trip(days in -1_000_000i64..1_000_000) {
            let c = Civil::from_unix(days * 86_400);
            proptest::prop_assert_eq!(days_from_civil(c.year, c.month, c.day), days);
            let offset = paris_offset(days * 86_400);
            proptest::prop_assert!(offset == 3600 || offset == 7200);
        }
    }
}
