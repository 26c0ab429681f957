//! Unix seconds as a UTC calendar date and time (proleptic Gregorian), for
//! the places that print a date themselves (IMAP INTERNALDATE, the portal).
//! Howard Hinnant's `civil_from_days`, valid for every `i64` day count the
//! store can hold.

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
}
