//! Conversions between `ocop.common.v1.Date` and [`time::Date`].

use ocop_proto::common::v1::Date as ProtoDate;

use crate::error::{Error, Result};

/// The proto form of a date.
pub fn to_proto(date: time::Date) -> ProtoDate {
    ProtoDate {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

/// Reads a proto date, naming `field` when it is not a real calendar day.
pub fn from_proto(field: &str, date: &ProtoDate) -> Result<time::Date> {
    let month = u8::try_from(date.month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok());
    let day = u8::try_from(date.day).ok();
    match (month, day) {
        (Some(month), Some(day)) if (1..=9999).contains(&date.year) => {
            time::Date::from_calendar_date(date.year, month, day).map_err(|_| {
                Error::invalid(
                    field,
                    format!(
                        "{}-{:02}-{:02} is not a day of the calendar",
                        date.year, date.month, date.day
                    ),
                )
            })
        }
        _ => Err(Error::invalid(
            field,
            format!(
                "{}-{:02}-{:02} is not a valid date (year 1-9999, month 1-12, day 1-31)",
                date.year, date.month, date.day
            ),
        )),
    }
}

/// Parses `YYYY-MM-DD`, naming `field` on error.
pub fn parse_iso(field: &str, text: &str) -> Result<time::Date> {
    time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::invalid(field, format!("`{text}` is not a date in the form YYYY-MM-DD")))
}

/// The proto form of an instant.
pub fn to_timestamp(t: time::OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// Today in Vietnam (UTC+7), the calendar legal dates are read in.
pub fn today_vn() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(7)).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let d = time::macros::date!(2025 - 07 - 01);
        assert_eq!(from_proto("at", &to_proto(d)).unwrap(), d);
        let err = from_proto(
            "at",
            &ProtoDate {
                year: 2025,
                month: 2,
                day: 30,
            },
        )
        .unwrap_err();
        assert_eq!(err.violations()[0].field, "at");
        assert!(
            from_proto(
                "at",
                &ProtoDate {
                    year: 2025,
                    month: 13,
                    day: 1
                }
            )
            .is_err()
        );
        assert!(parse_iso("f", "2025-7-1").is_err());
        assert_eq!(parse_iso("f", "2025-07-01").unwrap(), d);
    }
}
