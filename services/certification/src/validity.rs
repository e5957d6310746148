//! How long a certificate is valid, and what state it is in on a given day.
//!
//! A certificate is valid for 36 months from its issue date (ocop-domain.md
//! §1): from `issue_date` through the day before the same calendar day 36
//! months later. When that day does not exist (issued on 29 February, or on
//! the 31st of a month whose 36th successor is shorter) the month's last day
//! is taken. So issued 2026-03-15 → valid through 2029-03-14, expired from
//! 2029-03-15; issued 2024-02-29 → expired from 2027-02-28. Dates are
//! Vietnamese calendar days (UTC+7).

use time::{Date, Month};

/// Months of validity.
pub const MONTHS: u8 = 36;

/// Days before expiry when the notice is due.
pub const NOTICE_DAYS: i64 = 30;

/// The first day a certificate issued on `issue` is no longer valid.
pub fn expire_date(issue: Date) -> Date {
    let months = issue.month() as i32 - 1 + i32::from(MONTHS);
    let year = issue.year() + months / 12;
    let month = Month::try_from((months % 12 + 1) as u8).expect("1..=12");
    let last = month.length(year);
    Date::from_calendar_date(year, month, issue.day().min(last)).expect("a day of the month")
}

/// The last day of validity.
pub fn valid_until(issue: Date) -> Date {
    expire_date(issue)
        .previous_day()
        .expect("far from the calendar's start")
}

/// The state shown on `today`: a stored `active` past its validity reads as
/// `expired` even before the sweep records it.
pub fn effective_state(stored: &str, expire: Date, today: Date) -> &str {
    if stored == "active" && today >= expire {
        "expired"
    } else {
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn valid_for_36_months_through_the_day_before() {
        assert_eq!(expire_date(date!(2026 - 03 - 15)), date!(2029 - 03 - 15));
        assert_eq!(valid_until(date!(2026 - 03 - 15)), date!(2029 - 03 - 14));
        assert_eq!(expire_date(date!(2025 - 12 - 31)), date!(2028 - 12 - 31));
        assert_eq!(expire_date(date!(2025 - 01 - 01)), date!(2028 - 01 - 01));
    }

    #[test]
    fn a_day_missing_from_the_month_is_its_last() {
        assert_eq!(expire_date(date!(2024 - 02 - 29)), date!(2027 - 02 - 28));
        assert_eq!(valid_until(date!(2024 - 02 - 29)), date!(2027 - 02 - 27));
        assert_eq!(expire_date(date!(2023 - 05 - 31)), date!(2026 - 05 - 31));
        assert_eq!(expire_date(date!(2022 - 08 - 31)), date!(2025 - 08 - 31));
        assert_eq!(expire_date(date!(2021 - 10 - 31)), date!(2024 - 10 - 31));
        assert_eq!(expire_date(date!(2023 - 03 - 31)), date!(2026 - 03 - 31));
        assert_eq!(expire_date(date!(2026 - 12 - 31)), date!(2029 - 12 - 31));
    }

    #[test]
    fn expiry_is_read_at_the_boundary_without_a_sweep() {
        let issue = date!(2026 - 03 - 15);
        let expire = expire_date(issue);
        assert_eq!(effective_state("active", expire, date!(2029 - 03 - 14)), "active");
        assert_eq!(effective_state("active", expire, date!(2029 - 03 - 15)), "expired");
        assert_eq!(effective_state("revoked", expire, date!(2029 - 03 - 15)), "revoked");
        assert_eq!(effective_state("active", expire, issue), "active");
    }
}
