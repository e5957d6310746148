//! The checks of a producer's fields, as a request or an import row gives them.

use ocop_kit::error::Violations;
use ocop_proto::registry::v1::Subject;

use super::store::{Kind, Row, State};
use crate::fields::check_len;

impl Row {
    /// Applies the proto's values (validated) to this row; `mask` limits which.
    pub(crate) fn apply(&mut self, s: &Subject, mask: Option<&[String]>, v: &mut Violations) {
        let wants = |f: &str| mask.is_none_or(|m| m.iter().any(|p| p == f || f.starts_with(&format!("{p}."))));
        if wants("kind") {
            match Kind::of_proto(s.kind()) {
                Some(k) => self.kind = k,
                None => v.push(
                    "subject.kind",
                    "required: cooperative, cooperative group, enterprise or household business",
                ),
            }
        }
        if wants("legal_name") {
            self.legal_name = s.legal_name.trim().to_owned();
            check_len(v, "subject.legal_name", &self.legal_name, 1, 300);
        }
        if wants("registration_number") {
            self.registration_number = s.registration_number.trim().to_owned();
            let ok = (5..=30).contains(&self.registration_number.len())
                && self
                    .registration_number
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-./".contains(c));
            if !ok {
                v.push(
                    "subject.registration_number",
                    "required: 5 to 30 of letters, digits, '-', '.', '/' (e.g. 2801234567)",
                );
            }
        }
        let rep = s.representative.clone().unwrap_or_default();
        if wants("representative.full_name") {
            self.representative_name = rep.full_name.trim().to_owned();
            check_len(v, "subject.representative.full_name", &self.representative_name, 1, 200);
        }
        if wants("representative.is_woman") {
            self.representative_is_woman = rep.is_woman;
        }
        if wants("representative.is_ethnic_minority") {
            self.representative_is_ethnic_minority = rep.is_ethnic_minority;
        }
        if wants("phone") {
            self.phone = s.phone.trim().to_owned();
            let digits = self.phone.chars().filter(char::is_ascii_digit).count();
            let ok = self.phone.is_empty()
                || ((8..=15).contains(&digits)
                    && self
                        .phone
                        .chars()
                        .enumerate()
                        .all(|(i, c)| c.is_ascii_digit() || " .-".contains(c) || (i == 0 && c == '+')));
            if !ok {
                v.push(
                    "subject.phone",
                    "8 to 15 digits, optionally with a leading + and spaces, dots or dashes",
                );
            }
        }
        if wants("email") {
            self.email = s.email.trim().to_owned();
            let ok = self.email.is_empty()
                || self
                    .email
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'));
            if !ok {
                v.push("subject.email", "not an e-mail address");
            }
        }
        if wants("address") {
            self.address = s.address.trim().to_owned();
            check_len(v, "subject.address", &self.address, 0, 500);
        }
        if wants("state") {
            match State::of_proto(s.state()) {
                Some(st) => self.state = st,
                None if mask.is_none() => self.state = State::Active,
                None => v.push(
                    "subject.state",
                    "required when in update_mask: active, suspended or dissolved",
                ),
            }
        }
    }
}
