//! How long a certificate is valid, and what state it is in on a given day.
//!
//! A certificate is valid for 36 months from its issue date (ocop-domain.md
//! §1): from `issue_date` through the day before the same calendar day 36
//! months later. When that day does not exist (issued on 29 February, or on
//! the 31st of a month whose 36th successor is shorter) the month's last day
//! is taken. So issued 2026-03-15 → valid through 2029-03-14, expired from
//! 2029-03-15; issued 2024-02-29 → expired from 2027-02-28. Dates are
//! Vietnamese calendar days (UTC+7).
//!
//! Re-rating (Decision 26/2026/QĐ-TTg Điều 7.6.a): the dossier is filed not
//! earlier than 180 and not later than 120 days before the certificate's end,
//! read as its last valid day: valid through 2027-06-14 → filed from
//! 2026-12-16 through 2027-02-14. Under the transition (Điều 12.3) a
//! certificate whose window opened before 2026-05-22, when that rule did not
//! exist yet, may still file after its window closed, while it is valid; it
//! then stays valid until the re-rating's result, at most 180 days after its
//! last valid day.

use ocop_kit::regime::DECISION_26_2026;
use time::{Date, Duration, Month};

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

/// Days before the last valid day that the re-rating window opens (Điều 7.6.a).
pub const WINDOW_OPENS_DAYS: i64 = 180;
/// Days before the last valid day that it closes.
pub const WINDOW_CLOSES_DAYS: i64 = 120;
/// Days past the last valid day that a transition extension lasts at most (Điều 12.3).
pub const EXTENSION_DAYS: i64 = 180;
/// Days from a complete re-rating dossier to its result (Điều 7.6.g).
pub const RE_RATING_DAYS: i64 = 45;

/// The days a re-rating dossier may be filed, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// 180 days before the last valid day.
    pub start: Date,
    /// 120 days before it.
    pub end: Date,
}

/// The re-rating window of a certificate valid through `valid_until`.
pub fn re_rating_window(valid_until: Date) -> Window {
    Window {
        start: valid_until - Duration::days(WINDOW_OPENS_DAYS),
        end: valid_until - Duration::days(WINDOW_CLOSES_DAYS),
    }
}

/// What filing a re-rating dossier on `day` is, for a certificate valid through `valid_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filing {
    /// Before 2026-05-22: no window applied (the rules of 2021–2025).
    BeforeTheWindowRule,
    /// Inside its window.
    InWindow,
    /// Before its window opens.
    TooEarly,
    /// After its window, under the transition: valid until the result, at most through `extended_until`.
    Transition {
        /// The last day the extension may reach.
        extended_until: Date,
    },
    /// After its window, which opened under 26/2026: refused.
    Closed,
}

/// Whether a re-rating dossier filed on `day` is accepted, and how.
pub fn filing(valid_until: Date, day: Date) -> Filing {
    let window = re_rating_window(valid_until);
    if day < DECISION_26_2026 {
        Filing::BeforeTheWindowRule
    } else if day < window.start {
        Filing::TooEarly
    } else if day <= window.end {
        Filing::InWindow
    } else if window.start < DECISION_26_2026 && day <= valid_until {
        Filing::Transition {
            extended_until: valid_until + Duration::days(EXTENSION_DAYS),
        }
    } else {
        Filing::Closed
    }
}

/// What a verifier is told of a certificate extended through `until` at most.
pub fn extension_note(until: Date) -> String {
    format!(
        "Còn hiệu lực đến khi có kết quả đánh giá, phân hạng lại, chậm nhất đến hết ngày {:02}/{:02}/{} \
         (khoản 3 Điều 12 Quyết định 26/2026/QĐ-TTg)",
        until.day(),
        u8::from(until.month()),
        until.year()
    )
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
    fn the_re_rating_window_is_180_to_120_days_before_the_last_valid_day() {
        let until = date!(2027 - 06 - 14);
        let window = re_rating_window(until);
        assert_eq!(
            (window.start, window.end),
            (date!(2026 - 12 - 16), date!(2027 - 02 - 14))
        );
        assert_eq!(filing(until, date!(2026 - 12 - 15)), Filing::TooEarly);
        assert_eq!(filing(until, date!(2026 - 12 - 16)), Filing::InWindow);
        assert_eq!(filing(until, date!(2027 - 02 - 14)), Filing::InWindow);
        assert_eq!(filing(until, date!(2027 - 02 - 15)), Filing::Closed);
    }

    #[test]
    fn a_window_opened_before_26_2026_may_be_missed_until_the_last_valid_day() {
        // Valid through 2026-07-31: the window was 2026-02-01 to 2026-04-02.
        let until = date!(2026 - 07 - 31);
        let extended = Filing::Transition {
            extended_until: date!(2027 - 01 - 27),
        };
        assert_eq!(filing(until, date!(2026 - 07 - 10)), extended);
        assert_eq!(filing(until, until), extended);
        assert_eq!(filing(until, date!(2026 - 08 - 01)), Filing::Closed, "no longer valid");
        // Partly before: 2026-05-20 to 2026-07-19, missed.
        let until = date!(2026 - 11 - 16);
        assert_eq!(filing(until, date!(2026 - 07 - 19)), Filing::InWindow);
        assert!(matches!(
            filing(until, date!(2026 - 07 - 20)),
            Filing::Transition { .. }
        ));
        // Opened on 2026-05-22: the rule was known, so a missed window is closed.
        let until = date!(2026 - 11 - 18);
        assert_eq!(re_rating_window(until).start, DECISION_26_2026);
        assert_eq!(filing(until, date!(2026 - 07 - 22)), Filing::Closed);
        assert_eq!(filing(until, date!(2026 - 05 - 21)), Filing::BeforeTheWindowRule);
    }

    #[test]
    fn the_extension_is_told_as_the_page_says_it() {
        assert_eq!(
            extension_note(date!(2027 - 01 - 27)),
            "Còn hiệu lực đến khi có kết quả đánh giá, phân hạng lại, chậm nhất đến hết ngày 27/01/2027 \
             (khoản 3 Điều 12 Quyết định 26/2026/QĐ-TTg)"
        );
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
