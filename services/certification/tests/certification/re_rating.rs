//! Re-rating after 36 months (Decision 26/2026/QĐ-TTg Điều 7.6): a dossier
//! accepted only from 180 to 120 days before the certificate's last valid
//! day, refused outside with the window's dates; the transition (Điều 12.3),
//! under which a late filing keeps the certificate valid until the result, at
//! most 180 days past its end, as VerifyCertificate and the page say; every
//! refusal changing nothing.

use crate::support::{browser, world};

use ocop_certification::clock::Clock;
use ocop_certification::rules::validity;
use ocop_kit::server::{Context, Surface};
use ocop_proto::certification::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use time::macros::date;
use time::{Date, Duration};
use tonic::Code;
use world::*;

fn on_2026_07_10(context: &Context) -> anyhow::Result<Surface> {
    ocop_certification::routes_with(context, Clock::Fixed(date!(2026 - 07 - 10)))
}

fn on_2026_09_01(context: &Context) -> anyhow::Result<Surface> {
    ocop_certification::routes_with(context, Clock::Fixed(date!(2026 - 09 - 01)))
}

fn on_2027_01_27(context: &Context) -> anyhow::Result<Surface> {
    ocop_certification::routes_with(context, Clock::Fixed(date!(2027 - 01 - 27)))
}

fn on_2027_01_28(context: &Context) -> anyhow::Result<Surface> {
    ocop_certification::routes_with(context, Clock::Fixed(date!(2027 - 01 - 28)))
}

fn application(parent: &str) -> CreateReRatingApplicationRequest {
    CreateReRatingApplicationRequest {
        parent: parent.into(),
        dossier_reference: "Tờ trình 12/TTr-UBND".into(),
    }
}

/// The day 36 months before `last + 1`: a certificate issued then is valid
/// through about `last` (a day later where the month is shorter).
fn issued_for(last: Date) -> Date {
    let after = last + Duration::days(1);
    after
        .replace_year(after.year() - 3)
        .unwrap_or_else(|_| after.replace_day(28).unwrap().replace_year(after.year() - 3).unwrap())
}

fn to_date(d: &Option<ocop_proto::common::v1::Date>) -> Date {
    let d = d.unwrap();
    Date::from_calendar_date(d.year, (d.month as u8).try_into().unwrap(), d.day as u8).unwrap()
}

/// VerifyCertificate at another deployment's service.
async fn verify_at(
    client: &certification_service_client::CertificationServiceClient<tonic::transport::Channel>,
    code: &str,
) -> Verification {
    client
        .clone()
        .verify_certificate(VerifyCertificateRequest { code: code.into() })
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap()
}

async fn create(
    w: &mut World,
    token: &str,
    request: CreateReRatingApplicationRequest,
) -> Result<ReRatingApplication, tonic::Status> {
    w.certification
        .create_re_rating_application(authorized(request, token))
        .await
        .map(|r| r.into_inner().re_rating_application.unwrap())
}

async fn close(w: &mut World, request: RecordReRatingOutcomeRequest) -> Result<ReRatingApplication, tonic::Status> {
    let officer = w.officer.clone();
    w.certification
        .record_re_rating_outcome(authorized(request, &officer))
        .await
        .map(|r| r.into_inner().re_rating_application.unwrap())
}

#[tokio::test]
async fn a_re_rating_is_filed_only_inside_its_window_and_a_renewal_closes_it() {
    let mut w = world().await;
    let today = ocop_kit::date::today_vn();
    let (early, inside, late) = (
        w.product("Mật ong bạc hà").await,
        w.product("Chè Shan tuyết").await,
        w.product("Nước mắm Ba Làng").await,
    );
    let round = RoundPlan {
        date: (2023, 3, 1),
        ..RoundPlan::province_2026(1, 4)
    };
    let results = w.results(&[&early, &inside, &late], round).await;
    let mut certs = Vec::new();
    for (result, days) in results.iter().zip([200, 150, 100]) {
        let issued = issued_for(today + Duration::days(days));
        certs.push(w.issue(issue_request(&result.name, from_date(issued))).await.unwrap());
    }
    let officer = w.officer.clone();
    let before = w.written().await;

    // Too early and too late: refused with the window's dates.
    for (cert, reason, days) in [
        (&certs[0], "RE_RATING_WINDOW_NOT_OPEN", 200),
        (&certs[2], "RE_RATING_WINDOW_CLOSED", 100),
    ] {
        let err = create(&mut w, &officer, application(&cert.name)).await.unwrap_err();
        assert_eq!(
            (err.code(), world::reason(&err).as_str()),
            (Code::FailedPrecondition, reason),
            "{days} days before: {}",
            err.message()
        );
        let window = validity::re_rating_window(to_date(&cert.valid_until));
        let meta = metadata(&err);
        assert_eq!(meta["window_start"], window.start.to_string());
        assert_eq!(meta["window_end"], window.end.to_string());
        assert!(
            err.message()
                .contains(&format!("from {} to {}", window.start, window.end))
                && err.message().contains(&format!("today is {today}")),
            "{}",
            err.message()
        );
    }

    // Every other refusal, each with its status and reason.
    let stranger = w.env.token("province_officer", Some("01"), None);
    let ministry = w.env.token("national_officer", None, None);
    let member = w.env.token("council_member", Some("38"), None);
    let good = application(&certs[1].name);
    let cases: Vec<(&str, CreateReRatingApplicationRequest, &str, Code, &str)> = vec![
        (
            "not a certificate",
            application("certificates/x"),
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "no dossier",
            CreateReRatingApplicationRequest {
                dossier_reference: " ".into(),
                ..good.clone()
            },
            officer.as_str(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "no such certificate",
            application("certificates/38-00000000"),
            officer.as_str(),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
        (
            "another province's officer",
            good.clone(),
            stranger.as_str(),
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
        ),
        (
            "the ministry, for a 4-star certificate",
            good.clone(),
            ministry.as_str(),
            Code::PermissionDenied,
            "NOT_THE_COMPETENT_AUTHORITY",
        ),
        (
            "a council member",
            good.clone(),
            member.as_str(),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        ),
    ];
    for (what, request, token, code, why) in cases {
        let err = create(&mut w, token, request).await.unwrap_err();
        assert_eq!(
            (err.code(), world::reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
    }
    let err = w
        .certification
        .create_re_rating_application(good.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(w.written().await, before, "every refusal changed nothing");

    // Inside: filed, due 45 days from the complete dossier.
    let filed = create(&mut w, &officer, good.clone()).await.unwrap();
    let window = validity::re_rating_window(to_date(&certs[1].valid_until));
    assert_eq!(filed.name, format!("{}/reRating", certs[1].name));
    assert_eq!(filed.state(), ReRatingState::Filed);
    assert_eq!(
        (filed.filed_date, filed.decide_by),
        (from_date(today), from_date(today + Duration::days(45)))
    );
    assert_eq!(
        (filed.window_start, filed.window_end),
        (from_date(window.start), from_date(window.end))
    );
    assert!(!filed.transition && filed.extended_until.is_none() && !filed.overdue);
    assert_eq!(filed.product, inside.name);
    let got = w
        .certification
        .get_re_rating_application(authorized(
            GetReRatingApplicationRequest {
                name: filed.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .re_rating_application
        .unwrap();
    assert_eq!(got, filed);
    assert_eq!(
        w.get(&certs[1].name).await,
        certs[1],
        "the certificate itself is unchanged"
    );
    assert_eq!(
        w.outbox().await.last().unwrap(),
        &(filed.name.clone(), "created".to_owned())
    );
    let err = create(&mut w, &officer, good.clone()).await.unwrap_err();
    assert_eq!(
        (err.code(), world::reason(&err).as_str()),
        (Code::AlreadyExists, "RE_RATING_ALREADY_FILED")
    );
    for (name, code) in [
        (format!("{}/reRating", certs[0].name), Code::NotFound),
        ("certificates/38-00000000/reRatings".to_owned(), Code::InvalidArgument),
    ] {
        let err = w
            .certification
            .get_re_rating_application(authorized(
                GetReRatingApplicationRequest { name: name.clone() },
                &officer,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{name}");
    }

    // The product's next certificate is the result: a renewal, RE_CERTIFIED.
    let again = w.results(&[&inside], RoundPlan::province_2026(2, 4)).await.remove(0);
    let renewed = w.issue(issue_request(&again.name, day(2026, 6, 20))).await.unwrap();
    assert_eq!(
        (renewed.kind(), renewed.supersedes.as_str()),
        (IssueKind::Renewal, certs[1].name.as_str())
    );
    let closed = w
        .certification
        .get_re_rating_application(authorized(
            GetReRatingApplicationRequest {
                name: filed.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .re_rating_application
        .unwrap();
    assert_eq!(
        (closed.state(), closed.result_certificate.as_str(), closed.outcome_date),
        (ReRatingState::ReCertified, renewed.name.as_str(), from_date(today))
    );
    let err = close(
        &mut w,
        RecordReRatingOutcomeRequest {
            name: closed.name.clone(),
            etag: closed.etag.clone(),
            outcome: ReRatingState::Withdrawn as i32,
            outcome_date: from_date(today),
            text: "Rút hồ sơ".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code(), world::reason(&err).as_str()),
        (Code::FailedPrecondition, "RE_RATING_CLOSED")
    );
}

#[tokio::test]
async fn a_withdrawal_is_recorded_once_and_bad_outcomes_change_nothing() {
    let mut w = world().await;
    let today = ocop_kit::date::today_vn();
    let product = w.product("Bưởi Luận Văn").await;
    let round = RoundPlan {
        date: (2023, 3, 1),
        ..RoundPlan::province_2026(1, 4)
    };
    let result = w.results(&[&product], round).await.remove(0);
    let issued = issued_for(today + Duration::days(150));
    let cert = w.issue(issue_request(&result.name, from_date(issued))).await.unwrap();
    let officer = w.officer.clone();
    let filed = create(&mut w, &officer, application(&cert.name)).await.unwrap();
    let before = w.written().await;
    let good = RecordReRatingOutcomeRequest {
        name: filed.name.clone(),
        etag: filed.etag.clone(),
        outcome: ReRatingState::Withdrawn as i32,
        outcome_date: from_date(today),
        text: "Chủ thể rút hồ sơ".into(),
    };
    let cases: Vec<(&str, RecordReRatingOutcomeRequest, Code, &str)> = vec![
        (
            "RE_CERTIFIED is the next certificate's to set",
            RecordReRatingOutcomeRequest {
                outcome: ReRatingState::ReCertified as i32,
                ..good.clone()
            },
            Code::InvalidArgument,
            "outcome",
        ),
        (
            "no date",
            RecordReRatingOutcomeRequest {
                outcome_date: None,
                ..good.clone()
            },
            Code::InvalidArgument,
            "outcome_date",
        ),
        (
            "a future date",
            RecordReRatingOutcomeRequest {
                outcome_date: from_date(today + Duration::days(1)),
                ..good.clone()
            },
            Code::InvalidArgument,
            "outcome_date",
        ),
        (
            "before the filing",
            RecordReRatingOutcomeRequest {
                outcome_date: from_date(today - Duration::days(1)),
                ..good.clone()
            },
            Code::InvalidArgument,
            "outcome_date",
        ),
        (
            "no words",
            RecordReRatingOutcomeRequest {
                text: String::new(),
                ..good.clone()
            },
            Code::InvalidArgument,
            "text",
        ),
        (
            "a stale etag",
            RecordReRatingOutcomeRequest {
                etag: "v9".into(),
                ..good.clone()
            },
            Code::Aborted,
            "",
        ),
        (
            "no such application",
            RecordReRatingOutcomeRequest {
                name: "certificates/38-00000000/reRating".into(),
                ..good.clone()
            },
            Code::NotFound,
            "",
        ),
    ];
    for (what, request, code, field) in cases {
        let err = close(&mut w, request).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        if !field.is_empty() {
            assert_eq!(fields(&err), vec![field.to_owned()], "{what}");
        }
    }
    let err = w
        .certification
        .record_re_rating_outcome(authorized(good.clone(), &w.env.token("national_officer", None, None)))
        .await
        .unwrap_err();
    assert_eq!(world::reason(&err), "NOT_THE_COMPETENT_AUTHORITY");
    assert_eq!(w.written().await, before, "every refusal changed nothing");

    let withdrawn = close(&mut w, good.clone()).await.unwrap();
    assert_eq!(withdrawn.state(), ReRatingState::Withdrawn);
    assert_eq!(
        (withdrawn.outcome_date, withdrawn.text.as_str()),
        (from_date(today), "Chủ thể rút hồ sơ")
    );
    assert_eq!(
        w.get(&cert.name).await,
        cert,
        "no extension, so the certificate is untouched"
    );
    let err = close(
        &mut w,
        RecordReRatingOutcomeRequest {
            etag: withdrawn.etag.clone(),
            ..good
        },
    )
    .await
    .unwrap_err();
    assert_eq!(world::reason(&err), "RE_RATING_CLOSED");
}

#[tokio::test]
async fn under_the_transition_a_late_filing_keeps_the_certificate_valid_until_the_result() {
    // Today is 2026-07-10, seven weeks into Decision 26/2026.
    let mut w = world_built(|_| {}, on_2026_07_10).await;
    let names = [
        "Nem chua Vĩnh Lộc",
        "Bánh lá răng bừa",
        "Chè lam Phủ Quảng",
        "Mắm tôm Hậu Lộc",
        "Gạo Nam Mỹ",
    ];
    let mut products = Vec::new();
    for name in names {
        products.push(w.product(name).await);
    }
    let round = RoundPlan {
        date: (2023, 3, 1),
        ..RoundPlan::province_2026(1, 4)
    };
    let results = w.results(&products.iter().collect::<Vec<_>>(), round).await;
    // Valid through 2026-07-31 (a window of 2026-02-01 to 2026-04-02, before
    // 26/2026), three times; through 2026-11-16 (a window of 2026-05-20 to
    // 2026-07-19, open today); and an older one, valid through 2027-04-30.
    let issued = [
        date!(2023 - 08 - 01),
        date!(2023 - 08 - 01),
        date!(2023 - 08 - 01),
        date!(2023 - 11 - 17),
        date!(2024 - 05 - 01),
    ];
    let mut certs = Vec::new();
    for (result, day) in results.iter().zip(issued) {
        certs.push(w.issue(issue_request(&result.name, from_date(day))).await.unwrap());
    }
    let officer = w.officer.clone();
    assert_eq!(certs[0].valid_until, day(2026, 7, 31));
    // Certificates issued before 26/2026 stay valid to their end (Điều 12.1).
    let older = w.verify(&certs[4].code).await.unwrap();
    assert_eq!(
        (older.status(), older.valid_until),
        (VerificationStatus::Valid, day(2027, 4, 30))
    );

    // Inside a window partly before 26/2026: an ordinary filing.
    let ordinary = create(&mut w, &officer, application(&certs[3].name)).await.unwrap();
    assert!(!ordinary.transition && ordinary.extended_until.is_none());
    // Its window missed under the old rules: accepted under Điều 12.3.
    let late = create(&mut w, &officer, application(&certs[0].name)).await.unwrap();
    assert!(late.transition);
    assert_eq!(
        (late.window_start, late.window_end, late.extended_until),
        (day(2026, 2, 1), day(2026, 4, 2), day(2027, 1, 27))
    );
    let extended = w.get(&certs[0].name).await;
    assert_eq!(extended.extended_until, day(2027, 1, 27));
    assert_eq!(extended.valid_until, day(2026, 7, 31), "the signed 36 months are kept");
    assert_eq!(w.history(&certs[0].name).await, vec!["issued", "extended"]);
    let note = "Còn hiệu lực đến khi có kết quả đánh giá, phân hạng lại, chậm nhất đến hết ngày 27/01/2027 \
                (khoản 3 Điều 12 Quyết định 26/2026/QĐ-TTg)";
    let v = w.verify(&certs[0].code).await.unwrap();
    assert_eq!(
        (v.status(), v.extended_until, v.validity_note.as_str()),
        (VerificationStatus::Valid, day(2027, 1, 27), note)
    );
    let third = create(&mut w, &officer, application(&certs[2].name)).await.unwrap();
    assert!(third.transition);
    let outbox = w.outbox().await;
    assert!(
        outbox.ends_with(&[
            (late.name.clone(), "created".into()),
            (certs[0].name.clone(), "extended".into()),
            (third.name.clone(), "created".into()),
            (certs[2].name.clone(), "extended".into()),
        ]),
        "{outbox:?}"
    );

    // 2026-09-01: past the 36 months, still valid while the result is awaited.
    let (september, later) = w.another(on_2026_09_01).await;
    let v = verify_at(&later, &certs[0].code).await;
    assert_eq!(
        (v.status(), v.validity_note.as_str()),
        (VerificationStatus::Valid, note)
    );
    let lapsed = verify_at(&later, &certs[1].code).await;
    assert_eq!(
        lapsed.status(),
        VerificationStatus::Expired,
        "no re-rating filed: expired on 2026-08-01"
    );
    let dom = browser::browse_page(&format!("http://{}/verify/{}", september.http_addr, certs[0].code))
        .await
        .dom;
    assert!(dom.contains("data-state=\"valid\"") && dom.contains(note), "{dom}");
    assert!(
        dom.contains("Hết thời hạn 36 tháng vào ngày") && dom.contains("31/07/2026"),
        "{dom}"
    );
    // Filing is for a certificate still valid: the lapsed one cannot now.
    let err = later
        .clone()
        .create_re_rating_application(authorized(application(&certs[1].name), &officer))
        .await
        .unwrap_err();
    assert_eq!(world::reason(&err), "CERTIFICATE_NOT_IN_FORCE", "{}", err.message());

    // The result (not certified again, on 2026-08-20) ends it: expired from that day.
    let application = later
        .clone()
        .get_re_rating_application(authorized(
            GetReRatingApplicationRequest {
                name: late.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .re_rating_application
        .unwrap();
    later
        .clone()
        .record_re_rating_outcome(authorized(
            RecordReRatingOutcomeRequest {
                name: late.name.clone(),
                etag: application.etag,
                outcome: ReRatingState::NotReCertified as i32,
                outcome_date: day(2026, 8, 20),
                text: "Hội đồng đánh giá lại: không đạt 3 sao".into(),
            },
            &officer,
        ))
        .await
        .unwrap();
    let v = verify_at(&later, &certs[0].code).await;
    assert_eq!(
        (v.status(), v.extended_until, v.validity_note.as_str()),
        (VerificationStatus::Expired, day(2026, 8, 19), "")
    );
    let dom = browser::browse_page(&format!("http://{}/verify/{}", september.http_addr, certs[0].code))
        .await
        .dom;
    assert!(
        dom.contains("data-state=\"expired\"") && dom.contains("19/08/2026"),
        "{dom}"
    );
    assert_eq!(
        w.history(&certs[0].name).await.last().map(String::as_str),
        Some("extension_ended")
    );
    september.stop().await.unwrap();

    // At most 180 days past its end: valid on 2027-01-27, expired on the 28th.
    let (last_day, client) = w.another(on_2027_01_27).await;
    assert_eq!(
        verify_at(&client, &certs[2].code).await.status(),
        VerificationStatus::Valid
    );
    last_day.stop().await.unwrap();
    let (day_after, client) = w.another(on_2027_01_28).await;
    let v = verify_at(&client, &certs[2].code).await;
    assert_eq!(
        (v.status(), v.validity_note.as_str()),
        (VerificationStatus::Expired, "")
    );
    let dom = browser::browse_page(&format!("http://{}/verify/{}", day_after.http_addr, certs[2].code))
        .await
        .dom;
    assert!(
        dom.contains("data-state=\"expired\"") && dom.contains("27/01/2027"),
        "{dom}"
    );
    day_after.stop().await.unwrap();
}
