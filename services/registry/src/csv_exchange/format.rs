//! A file's cells as values, and values as cells: booleans, kinds, states,
//! standards; and the checks a decoded request passes, run on the cells.

use ocop_kit::error::Violations;
use ocop_proto::boundary::{Sanitize, Walk};
use ocop_proto::registry::v1::{Standard, SubjectKind, SubjectState};

use crate::products;

/// Maps a validation field of the domain to the CSV column it came from.
pub(super) fn column_of(field: &str) -> &str {
    match field {
        "subject.kind" => "subject_kind",
        "subject.state" => "subject_state",
        "subject.representative.full_name" => "representative_name",
        "product.display_name" => "product_name",
        "product.state" => "product_state",
        f if f.starts_with("product.standards") => "standards",
        f => f.rsplit('.').next().unwrap_or(f),
    }
}

/// The checks a request passes where it is decoded (NFC, control and
/// bidirectional characters, lengths), for a message built from a file's
/// cells, which no codec decoded.
pub(super) fn check_cells<M: Sanitize>(message: &mut M, prefix: &str, v: &mut Violations) {
    let mut walk = Walk::default();
    message.sanitize(&mut walk);
    for (field, why) in walk.violations() {
        v.push(format!("{prefix}.{field}"), why.clone());
    }
}

pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" => Some(false),
        "true" | "1" | "yes" => Some(true),
        _ => None,
    }
}

pub(super) fn kind_of(text: &str) -> SubjectKind {
    match text.trim() {
        "cooperative" => SubjectKind::Cooperative,
        "cooperative_group" => SubjectKind::CooperativeGroup,
        "enterprise" => SubjectKind::Enterprise,
        "household_business" => SubjectKind::HouseholdBusiness,
        _ => SubjectKind::Unspecified,
    }
}

pub(super) fn subject_state_of(text: &str) -> Option<SubjectState> {
    match text.trim() {
        "" | "active" => Some(SubjectState::Active),
        "suspended" => Some(SubjectState::Suspended),
        "dissolved" => Some(SubjectState::Dissolved),
        _ => None,
    }
}

/// `type|number|issuer|valid_until` entries joined by `;`.
pub(super) fn parse_standards(text: &str) -> std::result::Result<Vec<Standard>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.split('|').map(str::trim).collect();
            if !(2..=4).contains(&parts.len()) {
                return Err(format!("`{entry}` is not type|number|issuer|valid_until"));
            }
            let kind =
                products::standard_type_of(parts[0]).ok_or_else(|| format!("`{}` is not a standard type", parts[0]))?;
            let valid_until = match parts.get(3).filter(|d| !d.is_empty()) {
                Some(d) => Some(ocop_kit::date::to_proto(
                    ocop_kit::date::parse_iso("standards", d).map_err(|e| e.violations()[0].description.clone())?,
                )),
                None => None,
            };
            Ok(Standard {
                r#type: kind as i32,
                number: parts[1].to_owned(),
                issuer: parts.get(2).unwrap_or(&"").to_string(),
                valid_until,
            })
        })
        .collect()
}

pub(super) fn format_standards(standards: &[products::StoredStandard]) -> String {
    standards
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}|{}",
                s.kind,
                s.number,
                s.issuer,
                s.valid_until.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}
