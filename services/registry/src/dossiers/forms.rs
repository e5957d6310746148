//! The checks of a dossier's forms (Decision 26/2026 Phụ lục III, Mẫu 01 and
//! Mẫu 02, as `docs/law/forms-2026.md` lists their fields), and
//! the part of a dossier kept as recorded.
//!
//! Only what the procedure rests on is required: who files, for which
//! product, the undertaking and the signatures, and for an upgrade or a
//! re-rating the recognised certificate and the changes since. The rest of
//! the forms is free text the commune and the council read.

use ocop_kit::date;
use ocop_kit::error::Violations;
use ocop_proto::common::v1::Date;
use ocop_proto::registry::v1::{
    ChangeAspect, DossierKind, Evidence, ProductDossier, RegistrationForm, SelfAssessment, Sex, Signature,
};

/// What a checked dossier's dates are.
pub(super) struct Dates {
    /// Filed with the commune.
    pub submitted: time::Date,
    /// Received by the commune.
    pub received: time::Date,
}

/// A date field: required, a real date, not after `today`.
fn day(v: &mut Violations, field: &str, value: Option<&Date>, today: time::Date) -> Option<time::Date> {
    let Some(value) = value else {
        v.push(field, "required");
        return None;
    };
    match date::from_proto(field, value) {
        Ok(d) if d > today => {
            v.push(field, format!("{d} is in the future (today is {today})"));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            v.push(field, e.violations()[0].description.clone());
            None
        }
    }
}

fn required(v: &mut Violations, field: &str, value: &str) {
    if value.trim().is_empty() {
        v.push(field, "required");
    }
}

fn signature(v: &mut Violations, field: &str, s: Option<&Signature>, today: time::Date) {
    let Some(s) = s else {
        v.push(field, "required: the form is signed");
        return;
    };
    day(v, &format!("{field}.date"), s.date.as_ref(), today);
    required(v, &format!("{field}.signed_by"), &s.signed_by);
}

fn evidence(v: &mut Violations, field: &str, items: &[Evidence]) {
    for (i, e) in items.iter().enumerate() {
        required(v, &format!("{field}[{i}].kind"), &e.kind);
        if let Some(d) = &e.valid_until
            && let Err(err) = date::from_proto("", d)
        {
            v.push(
                format!("{field}[{i}].valid_until"),
                err.violations()[0].description.clone(),
            );
        }
    }
}

fn registration(v: &mut Violations, r: Option<&RegistrationForm>, today: time::Date) {
    let Some(r) = r else {
        v.push(
            "product_dossier.registration",
            "required: Mẫu 01, the registration form",
        );
        return;
    };
    let field = |f: &str| format!("product_dossier.registration.{f}");
    if !(2019..=today.year() + 1).contains(&r.year) {
        v.push(
            field("year"),
            format!(
                "{} is not a year to register for (2019 to {})",
                r.year,
                today.year() + 1
            ),
        );
    }
    required(v, &field("applicant_name"), &r.applicant_name);
    required(v, &field("representative_name"), &r.representative_name);
    required(v, &field("product_name"), &r.product_name);
    if r.sample_count < 0 {
        v.push(field("sample_count"), "not negative");
    }
    if !r.declaration_accepted {
        v.push(
            field("declaration_accepted"),
            "required: the applicant undertakes responsibility for the dossier (Mẫu 01, \"Cam đoan\")",
        );
    }
    signature(v, &field("signature"), r.signature.as_ref(), today);
}

fn self_assessment(v: &mut Violations, s: Option<&SelfAssessment>, today: time::Date) {
    let Some(s) = s else {
        v.push(
            "product_dossier.self_assessment",
            "required: Mẫu 02, the self-assessment report",
        );
        return;
    };
    let field = |f: &str| format!("product_dossier.self_assessment.{f}");
    required(v, &field("subject_name"), &s.subject_name);
    required(v, &field("product_specification"), &s.product_specification);
    match &s.legal_representative {
        None => v.push(field("legal_representative"), "required"),
        Some(r) => {
            required(v, &field("legal_representative.full_name"), &r.full_name);
            if r.sex() == Sex::Unspecified {
                v.push(field("legal_representative.sex"), "required: MALE or FEMALE");
            }
        }
    }
    if let Some(d) = &s.founded_date {
        day(v, &field("founded_date"), Some(d), today);
    }
    for (i, y) in s.results_by_year.iter().enumerate() {
        if !(1900..=today.year()).contains(&y.year) {
            v.push(format!("{}[{i}].year", field("results_by_year")), "a past year");
        }
        if y.revenue_vnd < 0 {
            v.push(format!("{}[{i}].revenue_vnd", field("results_by_year")), "not negative");
        }
    }
    for (i, score) in s.self_scores.iter().enumerate() {
        let at = format!("{}[{i}]", field("self_scores"));
        required(v, &format!("{at}.criterion"), &score.criterion);
        if !(0..=100).contains(&score.points) {
            v.push(format!("{at}.points"), "0 to 100");
        }
        evidence(v, &format!("{at}.evidence"), &score.evidence);
    }
    signature(v, &field("signature"), s.signature.as_ref(), today);
}

/// Checks `d` as filed on or before `today`, pushing every problem; its dates
/// when they are sound.
pub(super) fn check(d: &ProductDossier, today: time::Date, v: &mut Violations) -> Option<Dates> {
    let kind = d.kind();
    if kind == DossierKind::Unspecified {
        v.push("product_dossier.kind", "required: FIRST_RATING, UPGRADE or RE_RATING");
    }
    let submitted = day(v, "product_dossier.submitted_date", d.submitted_date.as_ref(), today);
    let received = match &d.received_date {
        None => submitted,
        Some(r) => day(v, "product_dossier.received_date", Some(r), today),
    };
    let dates = match (submitted, received) {
        (Some(s), Some(r)) if r < s => {
            v.push(
                "product_dossier.received_date",
                format!("{r} is before the dossier was submitted ({s})"),
            );
            None
        }
        (Some(submitted), Some(received)) => Some(Dates { submitted, received }),
        _ => None,
    };
    if d.receipt_number.chars().count() > 100 {
        v.push("product_dossier.receipt_number", "at most 100 characters");
    }
    registration(v, d.registration.as_ref(), today);
    self_assessment(v, d.self_assessment.as_ref(), today);
    let certificate = d.recognised_certificate.trim();
    let recognised = kind == DossierKind::Upgrade || kind == DossierKind::ReRating;
    if recognised {
        let code = certificate.strip_prefix("certificates/").unwrap_or_default();
        if code.is_empty() || code.contains('/') {
            v.push(
                "product_dossier.recognised_certificate",
                "required for an upgrade or a re-rating: the certificate of the recognised version, `certificates/{code}`",
            );
        }
        if d.changes.is_empty() {
            v.push(
                "product_dossier.changes",
                if kind == DossierKind::Upgrade {
                    "required for an upgrade: what changed since the recognised version, with evidence (Điều 6.1.b)"
                } else {
                    "required for a re-rating: the updates since recognition (Điều 6.1.c)"
                },
            );
        }
    } else if kind == DossierKind::FirstRating {
        if !certificate.is_empty() {
            v.push(
                "product_dossier.recognised_certificate",
                "a first rating has no recognised version; leave it empty",
            );
        }
        if !d.changes.is_empty() {
            v.push(
                "product_dossier.changes",
                "a first rating has no recognised version to change from; leave it empty",
            );
        }
    }
    for (i, c) in d.changes.iter().enumerate() {
        let at = format!("product_dossier.changes[{i}]");
        if c.aspect() == ChangeAspect::Unspecified {
            v.push(format!("{at}.aspect"), "required");
        }
        required(v, &format!("{at}.description"), &c.description);
        if kind == DossierKind::Upgrade && c.evidence.is_empty() {
            v.push(
                format!("{at}.evidence"),
                "required for an upgrade: the evidence of the change (Điều 6.1.b)",
            );
        }
        evidence(v, &format!("{at}.evidence"), &c.evidence);
    }
    dates
}

/// The part of `d` stored as recorded (the `forms` column).
pub(super) fn forms(d: &ProductDossier) -> ProductDossier {
    ProductDossier {
        registration: d.registration.clone(),
        self_assessment: d.self_assessment.clone(),
        recognised_certificate: d.recognised_certificate.trim().to_owned(),
        changes: d.changes.clone(),
        ..Default::default()
    }
}
