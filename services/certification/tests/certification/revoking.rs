//! Revocation under Decision 26/2026/QĐ-TTg Điều 8: a ground of Điều 8.1,
//! the conclusion's document and date, the province's officers for 3 and 4
//! stars (the ministry's 5 stars are revoked on the national deployment, see
//! tests/e2e/tests/e2e/national.rs), and a revocation later than 15 days after
//! the conclusion recorded and flagged.

use crate::support::world;

use ocop_proto::certification::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use time::Duration;
use tonic::Code;
use world::*;

fn revocation(cert: &Certificate, concluded: time::Date) -> RevokeCertificateRequest {
    RevokeCertificateRequest {
        name: cert.name.clone(),
        etag: cert.etag.clone(),
        ground: RevocationGround::LawViolation as i32,
        text: "Vi phạm quy định ghi nhãn hàng hóa".into(),
        document: "Quyết định 123/QĐ-UBND".into(),
        conclusion_document: "Kết luận thanh tra 9/KL-TTr".into(),
        conclusion_date: from_date(concluded),
        ..Default::default()
    }
}

/// What, the request, whose token, and the status, reason and fields expected.
type Case<'a> = (&'a str, RevokeCertificateRequest, &'a str, Code, &'a str, Vec<&'a str>);

impl World {
    async fn revoke(&mut self, token: &str, request: RevokeCertificateRequest) -> Result<Certificate, tonic::Status> {
        self.certification
            .revoke_certificate(authorized(request, token))
            .await
            .map(|r| r.into_inner().certificate.unwrap())
    }
}

#[tokio::test]
async fn a_revocation_names_its_ground_and_conclusion_and_is_flagged_past_15_days() {
    let mut w = world().await;
    let (a, b) = (w.product("Nem chua").await, w.product("Giò lụa").await);
    let results = w.results(&[&a, &b], RoundPlan::province_2026(1, 4)).await;
    let on_time = w
        .issue(issue_request(&results[0].name, day(2026, 6, 15)))
        .await
        .unwrap();
    let late = w
        .issue(issue_request(&results[1].name, day(2026, 6, 15)))
        .await
        .unwrap();
    let today = ocop_kit::date::today_vn();
    let officer = w.officer.clone();
    let ministry = w.env.token("national_officer", None, None);
    let member = w.env.token("council_member", Some("38"), None);
    let before = w.written().await;

    let good = revocation(&on_time, today - Duration::days(15));
    let cases: Vec<Case> = vec![
        (
            "no conclusion",
            RevokeCertificateRequest {
                conclusion_document: String::new(),
                conclusion_date: None,
                ..good.clone()
            },
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["conclusion_document", "conclusion_date"],
        ),
        (
            "a ground that does not exist",
            RevokeCertificateRequest {
                ground: 0,
                ..good.clone()
            },
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["ground"],
        ),
        (
            "a conclusion yet to come",
            revocation(&on_time, today + Duration::days(1)),
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["conclusion_date"],
        ),
        (
            "a conclusion before the certificate",
            revocation(&on_time, time::macros::date!(2026 - 06 - 01)),
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["conclusion_date"],
        ),
        (
            "the ministry, for 4 stars (Điều 8.2.a)",
            good.clone(),
            ministry.as_str(),
            Code::PermissionDenied,
            "NOT_THE_COMPETENT_AUTHORITY",
            vec![],
        ),
        (
            "a council member",
            good.clone(),
            member.as_str(),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
            vec![],
        ),
    ];
    for (what, request, token, code, why, expected) in cases {
        let err = w.revoke(token, request).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str(), fields(&err)),
            (code, why, expected.iter().map(|f| f.to_string()).collect::<Vec<_>>()),
            "{what}: {}",
            err.message()
        );
    }
    let err = w.revoke(&ministry, good.clone()).await.unwrap_err();
    assert!(
        err.message().contains("Điều 8.2") && err.message().contains("province officer"),
        "{}",
        err.message()
    );
    assert_eq!(w.written().await, before, "every refusal changed nothing");

    // On the 15th day: in time.
    let revoked = w.revoke(&officer, good).await.unwrap();
    let r = revoked.revocation.clone().unwrap();
    assert_eq!(
        (r.ground(), r.reason(), r.days_after_conclusion, r.late),
        (
            RevocationGround::LawViolation,
            RevocationReason::QualityOrFoodSafetyViolation,
            15,
            false
        )
    );
    assert_eq!(
        (r.conclusion_document.as_str(), r.conclusion_date),
        ("Kết luận thanh tra 9/KL-TTr", from_date(today - Duration::days(15)))
    );
    // On the 16th: recorded, and flagged on the revocation and in the audit.
    let flagged = w
        .revoke(
            &officer,
            RevokeCertificateRequest {
                ground: RevocationGround::MarkMisuse as i32,
                ..revocation(&late, today - Duration::days(16))
            },
        )
        .await
        .unwrap();
    let r = flagged.revocation.clone().unwrap();
    assert_eq!(
        (r.ground(), r.days_after_conclusion, r.late),
        (RevocationGround::MarkMisuse, 16, true)
    );
    let db = w.db().await;
    let notes: Vec<(String, String)> = sqlx::query_as(
        "SELECT resource, note FROM certification.audit_events WHERE method = 'RevokeCertificate' ORDER BY sequence",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let concluded = today - Duration::days(16);
    assert_eq!(
        notes,
        vec![
            (on_time.name.clone(), String::new()),
            (
                late.name.clone(),
                format!("late: revoked 16 days after the conclusion of {concluded}, where Điều 8.4 gives 15")
            ),
        ]
    );
    let reason_of_history: String =
        sqlx::query_scalar("SELECT reason FROM certification.certificate_events WHERE code = $1 AND kind = 'revoked'")
            .bind(&late.code)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(reason_of_history.starts_with("Điều 8.1.d: "), "{reason_of_history}");
    let v = w.verify(&late.code).await.unwrap();
    assert_eq!(
        (v.status(), v.revocation_ground()),
        (VerificationStatus::Revoked, RevocationGround::MarkMisuse)
    );
}
