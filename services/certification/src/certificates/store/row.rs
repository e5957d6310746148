//! A certificate as stored: the row, its columns, its name and code, and
//! its proto forms (the certificate as of a day, the verifier's answer).

use ocop_kit::Result;
use ocop_kit::date::{self, to_timestamp};
use ocop_proto::certification::v1::{
    Certificate, CertificateState, IssueKind, IssuingLevel, Revocation, RevocationReason, Verification,
    VerificationStatus,
};
use sqlx::types::Json;

use crate::keys;
use crate::rules::issuing::Kind;
use crate::rules::{grounds, validity};

/// A stored revocation. Those recorded before grounds (Decision 26/2026
/// Điều 8.1) have none of the fields marked `default`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredRevocation {
    /// `failed_mandatory_criteria`, ... (derived from the ground since 26/2026).
    pub reason: String,
    /// In words.
    pub text: String,
    /// Deciding document.
    pub document: String,
    /// Who.
    pub actor: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub time: time::OffsetDateTime,
    /// `false_dossier`, ... ([`grounds`]).
    #[serde(default)]
    pub ground: String,
    /// The conclusion it rests on.
    #[serde(default)]
    pub conclusion_document: String,
    /// The conclusion's date, `YYYY-MM-DD`.
    #[serde(default)]
    pub conclusion_date: String,
    /// Days from the conclusion to the revocation.
    #[serde(default)]
    pub days_after_conclusion: i32,
    /// Past the 15 days of Điều 8.4.
    #[serde(default)]
    pub late: bool,
    /// The inspection whose proposal it decided, if any.
    #[serde(default)]
    pub inspection: String,
}

/// A row of `certificates`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    /// Public code (the id).
    pub code: String,
    /// The result it was issued from.
    pub result: String,
    /// Registry product.
    pub product: String,
    subject: String,
    product_name: String,
    subject_name: String,
    /// Province code.
    pub province_code: String,
    province_name: String,
    commune_code: String,
    group_code: String,
    /// 3 to 5.
    pub stars: i32,
    /// `district`, `province` or `central`.
    pub issuing_level: String,
    authority: String,
    authority_name: String,
    decision_number: i32,
    decision_reference: String,
    decision_date: time::Date,
    issue_date: time::Date,
    /// The first day it is no longer valid, by its 36 months.
    pub expire_date: time::Date,
    /// Its last valid day while a re-rating filed under Điều 12.3 extends it.
    pub extended_until: Option<time::Date>,
    /// Stored state (`active` may read as expired: [`validity::effective_state`]).
    pub state: String,
    #[sqlx(try_from = "String")]
    kind: Kind,
    supersedes: Option<String>,
    superseded_by: Option<String>,
    revocation: Option<Json<StoredRevocation>>,
    key_id: String,
    signed_fields: Vec<u8>,
    signature: Vec<u8>,
    expiry_notice_time: Option<time::OffsetDateTime>,
    /// Etag number.
    pub version: i64,
    pub(super) create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
}

/// Columns of [`Row`].
pub const COLUMNS: &str = "code, result, product, subject, product_name, subject_name, province_code, province_name,
    commune_code, group_code, stars, issuing_level, authority, authority_name, decision_number, decision_reference,
    decision_date, issue_date, expire_date, state, kind, supersedes, superseded_by, revocation, key_id, signed_fields,
    signature, expiry_notice_time, version, create_time, update_time, extended_until";

/// The first day a certificate is no longer valid, in SQL: its 36 months, or
/// the day after its extension.
pub const ENDS: &str = "COALESCE(extended_until + 1, expire_date)";

/// The resource name of a code.
pub fn name_of(code: &str) -> String {
    format!("certificates/{code}")
}

/// The code of `certificates/{code}`.
pub fn parse_name(field: &str, name: &str) -> Result<String> {
    // A code may be typed in any case, with spaces around: it is normalised.
    const FORM: &str = "certificates/{code}";
    let what = "a certificate name (e.g. `certificates/38-K7M9Q2XA`)";
    let [code] = ocop_kit::names::parse(field, name, FORM, what)?;
    normalize_code(code).ok_or_else(|| ocop_kit::names::invalid(field, name, FORM, what))
}

/// Crockford base32: digits and capitals without I, L, O, U.
pub const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A code as typed (any case, spaces around) in canonical form, if it is one:
/// a 2-character issuer (province code or `TW`), `-`, 8 base32 characters.
pub fn normalize_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let (issuer, rest) = code.split_once('-')?;
    let issuer_ok = issuer == "TW" || (issuer.len() == 2 && issuer.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = rest.len() == 8 && rest.bytes().all(|b| ALPHABET.contains(&b));
    (issuer_ok && rest_ok).then_some(code)
}

fn level_of(level: &str) -> IssuingLevel {
    match level {
        "district" => IssuingLevel::District,
        "province" => IssuingLevel::Province,
        _ => IssuingLevel::Central,
    }
}

/// The stored spelling of a revocation reason.
pub fn reason_str(reason: RevocationReason) -> Option<&'static str> {
    Some(match reason {
        RevocationReason::Unspecified => return None,
        RevocationReason::FailedMandatoryCriteria => "failed_mandatory_criteria",
        RevocationReason::QualityOrFoodSafetyViolation => "quality_or_food_safety_violation",
        RevocationReason::FacilitySuspended => "facility_suspended",
        RevocationReason::ProducerRequest => "producer_request",
        RevocationReason::Other => "other",
    })
}

fn reason_of(reason: &str) -> RevocationReason {
    match reason {
        "failed_mandatory_criteria" => RevocationReason::FailedMandatoryCriteria,
        "quality_or_food_safety_violation" => RevocationReason::QualityOrFoodSafetyViolation,
        "facility_suspended" => RevocationReason::FacilitySuspended,
        "producer_request" => RevocationReason::ProducerRequest,
        _ => RevocationReason::Other,
    }
}

fn state_of(state: &str) -> CertificateState {
    match state {
        "active" => CertificateState::Active,
        "superseded" => CertificateState::Superseded,
        "revoked" => CertificateState::Revoked,
        _ => CertificateState::Expired,
    }
}

impl Row {
    /// The first day it is no longer valid: the day after its extension, if
    /// any, or the end of its 36 months.
    pub fn ends(&self) -> time::Date {
        self.extended_until
            .and_then(|d| d.next_day())
            .unwrap_or(self.expire_date)
    }

    /// Its last day of validity by its 36 months.
    pub fn valid_until(&self) -> time::Date {
        validity::valid_until(self.issue_date)
    }

    /// Its issue date.
    pub fn issue_date(&self) -> time::Date {
        self.issue_date
    }

    /// The state on `today`.
    pub fn state_on(&self, today: time::Date) -> &str {
        validity::effective_state(&self.state, self.ends(), today)
    }

    /// The proto form as of `today`, with its QR payload under `public_url`.
    pub fn to_proto(&self, public_url: &str, today: time::Date) -> Certificate {
        let mut kind = Certificate::default();
        kind.set_kind(match self.kind {
            Kind::Renewal => IssueKind::Renewal,
            Kind::Upgrade => IssueKind::Upgrade,
            Kind::New => IssueKind::New,
        });
        Certificate {
            name: name_of(&self.code),
            code: self.code.clone(),
            result: self.result.clone(),
            product: self.product.clone(),
            subject: self.subject.clone(),
            product_name: self.product_name.clone(),
            subject_name: self.subject_name.clone(),
            province_code: self.province_code.clone(),
            province_name: self.province_name.clone(),
            commune_code: self.commune_code.clone(),
            group_code: self.group_code.clone(),
            stars: self.stars,
            issuing_level: level_of(&self.issuing_level) as i32,
            authority: self.authority.clone(),
            authority_name: self.authority_name.clone(),
            decision_number: self.decision_number,
            decision_reference: self.decision_reference.clone(),
            decision_date: Some(date::to_proto(self.decision_date)),
            issue_date: Some(date::to_proto(self.issue_date)),
            valid_until: Some(date::to_proto(validity::valid_until(self.issue_date))),
            state: state_of(self.state_on(today)) as i32,
            kind: kind.kind,
            supersedes: self.supersedes.as_deref().map(name_of).unwrap_or_default(),
            superseded_by: self.superseded_by.as_deref().map(name_of).unwrap_or_default(),
            revocation: self.revocation.as_ref().map(|r| Revocation {
                reason: reason_of(&r.reason) as i32,
                text: r.text.clone(),
                document: r.document.clone(),
                actor: r.actor.clone(),
                revoke_time: Some(to_timestamp(r.time)),
                ground: grounds::of(&r.ground) as i32,
                conclusion_document: r.conclusion_document.clone(),
                conclusion_date: date::parse_iso("conclusion_date", &r.conclusion_date)
                    .ok()
                    .map(date::to_proto),
                days_after_conclusion: r.days_after_conclusion,
                late: r.late,
                inspection: r.inspection.clone(),
            }),
            qr_payload: keys::qr_payload(
                public_url,
                &self.code,
                &self.signed_fields,
                &self.signature,
                &self.key_id,
            ),
            key_id: self.key_id.clone(),
            expiry_notice_time: self.expiry_notice_time.map(to_timestamp),
            etag: ocop_kit::etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            extended_until: self.extended_until.map(date::to_proto),
        }
    }

    /// What a verifier is shown, with the status as stored (VALID for
    /// active): [`crate::verify`] turns VALID into EXPIRED at read time.
    pub fn to_verification(&self) -> Verification {
        let status = match self.state.as_str() {
            "active" => VerificationStatus::Valid,
            "superseded" => VerificationStatus::Superseded,
            "revoked" => VerificationStatus::Revoked,
            _ => VerificationStatus::Expired,
        };
        Verification {
            code: self.code.clone(),
            status: status as i32,
            stars: self.stars,
            product_name: self.product_name.clone(),
            subject_name: self.subject_name.clone(),
            province_code: self.province_code.clone(),
            province_name: self.province_name.clone(),
            issue_date: Some(date::to_proto(self.issue_date)),
            valid_until: Some(date::to_proto(validity::valid_until(self.issue_date))),
            decision_reference: self.decision_reference.clone(),
            authority_name: self.authority_name.clone(),
            superseded_by_code: self.superseded_by.clone().unwrap_or_default(),
            revocation_text: self.revocation.as_ref().map(|r| r.text.clone()).unwrap_or_default(),
            extended_until: self.extended_until.map(date::to_proto),
            validity_note: self
                .extended_until
                .filter(|_| self.state == "active")
                .map(validity::extension_note)
                .unwrap_or_default(),
            revocation_ground: self
                .revocation
                .as_ref()
                .map(|r| grounds::of(&r.ground) as i32)
                .unwrap_or_default(),
        }
    }
}
