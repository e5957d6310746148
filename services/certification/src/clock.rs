//! Where "today" comes from. The rules read Vietnam's calendar day (UTC+7);
//! a deployment always does, and a test of a dated rule that the calendar
//! will outrun (the transition of 2026-05-22) runs the service on a fixed day.

use time::Date;

/// The day the service reads its rules on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// Today in Vietnam.
    #[default]
    Vietnam,
    /// Always this day (tests).
    Fixed(Date),
}

impl Clock {
    /// Today, by this clock.
    pub fn today(self) -> Date {
        match self {
            Clock::Vietnam => ocop_kit::date::today_vn(),
            Clock::Fixed(day) => day,
        }
    }
}
