//! Verifying certificates (RPC, the page in headless Chromium, offline with
//! the published keys) and their lifecycle: revocation, upgrade, renewal,
//! expiry at the 36-month boundary, notices and history.

use crate::support::{browser, world};

use std::sync::Arc;

use ocop_certification::keys::{self, OfflineError};
use ocop_kit::server::Context;
use ocop_proto::certification::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use tonic::Code;
use tonic_types::StatusExt;
use world::*;

/// The page as rendered by headless Chromium (its DOM after load), which
/// must not have refused anything of it: its style is allowed by its hash.
async fn browse(url: &str) -> String {
    let page = browser::browse_page(url).await;
    let refused: Vec<_> = page
        .console
        .iter()
        .filter(|l| l.contains("Content Security Policy"))
        .collect();
    assert!(
        refused.is_empty(),
        "{url}: Chromium refused part of the page: {refused:?}"
    );
    page.dom
}

/// Checks the guard headers of one answer of the verify page.
fn assert_guarded(answer: &str) {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default().to_lowercase();
    let csp = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_else(|| panic!("no Content-Security-Policy: {head}"));
    for directive in ["default-src 'none'", "frame-ancestors 'none'", "style-src 'sha256-"] {
        assert!(csp.contains(directive), "{directive} is missing from {csp}");
    }
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("x-frame-options: deny"), "{head}");
}

/// Checks that a page that is not valid does not look valid at a glance:
/// its state first, in the banner's `class` (red `bad`, grey `void`), and no
/// gold stars or "valid until" line anywhere.
fn assert_void(dom: &str, state: &str, class: &str, title: &str) {
    let main = dom
        .find("<main>")
        .map(|i| &dom[i + "<main>".len()..])
        .unwrap_or_default();
    let banner = format!(
        "<div class=\"banner {class}\" id=\"status\" data-status=\"{class}\" data-state=\"{state}\"><h1>{title}</h1>"
    );
    assert!(
        main.trim_start().starts_with(&banner),
        "{state}: the state is not first:\n{dom}"
    );
    for valid_looking in [
        "★",
        "class=\"stars\"",
        "Hiệu lực đến hết ngày",
        "Còn hiệu lực",
        "banner ok",
    ] {
        assert!(
            !dom.contains(valid_looking),
            "{state}: the page shows {valid_looking}:\n{dom}"
        );
    }
}

fn revoke_request(cert: &Certificate) -> RevokeCertificateRequest {
    RevokeCertificateRequest {
        name: cert.name.clone(),
        etag: cert.etag.clone(),
        ground: RevocationGround::LawViolation as i32,
        text: "Mẫu kiểm tra sau chứng nhận vượt ngưỡng vi sinh".into(),
        document: "Quyết định 123/QĐ-UBND ngày 01/10/2026".into(),
        conclusion_document: "Kết luận 9/KL-CCATTP ngày 28/09/2026".into(),
        conclusion_date: cert.issue_date,
        ..Default::default()
    }
}

#[tokio::test]
async fn anyone_verifies_a_certificate_until_it_is_revoked() {
    let mut w = world().await;
    let product = w.product("Nem chua Thanh Hóa").await;
    let result = w.results(&[&product], RoundPlan::province_2026(1, 4)).await.remove(0);
    let cert = w.issue(issue_request(&result.name, day(2026, 6, 15))).await.unwrap();

    let v = w.verify(&cert.code).await.unwrap();
    assert_eq!(v.status(), VerificationStatus::Valid);
    assert_eq!((v.stars, v.product_name.as_str()), (4, "Nem chua Thanh Hóa"));
    assert_eq!(v.valid_until, day(2029, 6, 14));
    assert_eq!(
        w.verify(&format!(" {} ", cert.code.to_lowercase())).await.unwrap(),
        v,
        "as typed"
    );
    let unknown = w.verify("38-ZZZZZZZZ").await.unwrap();
    assert_eq!(unknown.status(), VerificationStatus::Unknown);
    let err = w.verify("not a code").await.unwrap_err();
    assert_eq!(fields(&err), vec!["code"]);

    let page = format!("http://{}/verify/{}", w.http, cert.code);
    let dom = browse(&page).await;
    assert!(
        dom.contains("Còn hiệu lực") && dom.contains("data-status=\"ok\""),
        "{dom}"
    );
    assert!(
        dom.contains("Nem chua Thanh Hóa") && dom.contains("14/06/2029"),
        "{dom}"
    );
    assert!(dom.contains("★★★★") && dom.contains("Hiệu lực đến hết ngày"), "{dom}");
    assert_guarded(&browser::http(w.http, "GET", &format!("/verify/{}", cert.code)).await);
    let dom = browse(&format!("http://{}/verify/38-ZZZZZZZZ", w.http)).await;
    assert!(
        dom.contains("Không tìm thấy") && dom.contains("data-status=\"bad\""),
        "{dom}"
    );

    // Offline: the QR payload against the published keys, no token needed.
    let published = w
        .certification
        .get_signing_keys(GetSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(published.len(), 1);
    assert!(published[0].current && published[0].key_id == cert.key_id);
    let fields = keys::check_offline(&cert.qr_payload, &published).unwrap();
    assert_eq!((fields.code.as_str(), fields.stars), (cert.code.as_str(), 4));
    assert_eq!(fields.valid_until, "2029-06-14");
    let (head, tail) = cert.qr_payload.split_once("?d=").unwrap();
    let mut data: Vec<u8> = tail.bytes().collect();
    data[5] = if data[5] == b'A' { b'B' } else { b'A' };
    let altered = format!("{head}?d={}", String::from_utf8(data).unwrap());
    assert!(
        matches!(
            keys::check_offline(&altered, &published),
            Err(OfflineError::BadSignature | OfflineError::Malformed(_))
        ),
        "one changed byte of the payload fails the check"
    );

    // Revocation: refused without its facts, then visible at once with the cache warm.
    let officer = w.officer.clone();
    let stranger = w.env.token("province_officer", Some("01"), None);
    let cases: Vec<(RevokeCertificateRequest, &str, Code)> = vec![
        (
            RevokeCertificateRequest {
                ground: 0,
                text: String::new(),
                document: String::new(),
                ..revoke_request(&cert)
            },
            officer.as_str(),
            Code::InvalidArgument,
        ),
        (
            RevokeCertificateRequest {
                etag: "v9".into(),
                ..revoke_request(&cert)
            },
            officer.as_str(),
            Code::Aborted,
        ),
        (
            RevokeCertificateRequest {
                name: "certificates/38-00000000".into(),
                ..revoke_request(&cert)
            },
            officer.as_str(),
            Code::NotFound,
        ),
        (revoke_request(&cert), stranger.as_str(), Code::PermissionDenied),
    ];
    for (request, token, code) in cases {
        let err = w
            .certification
            .revoke_certificate(authorized(request.clone(), token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{request:?}: {}", err.message());
    }
    let err = w
        .certification
        .revoke_certificate(authorized(
            RevokeCertificateRequest {
                ground: 0,
                text: String::new(),
                document: String::new(),
                ..revoke_request(&cert)
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(world::fields(&err), vec!["ground", "text", "document"]);
    assert_eq!(w.verify(&cert.code).await.unwrap().status(), VerificationStatus::Valid);

    let revoked = w
        .certification
        .revoke_certificate(authorized(revoke_request(&cert), &officer))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(revoked.state(), CertificateState::Revoked);
    let revocation = revoked.revocation.clone().unwrap();
    assert_eq!(revocation.ground(), RevocationGround::LawViolation);
    assert_eq!(
        revocation.reason(),
        RevocationReason::QualityOrFoodSafetyViolation,
        "the older reason follows from the ground"
    );
    let v = w.verify(&cert.code).await.unwrap();
    assert_eq!(v.status(), VerificationStatus::Revoked, "at once, cache warm");
    assert!(v.revocation_text.contains("vi sinh"));
    let dom = browse(&page).await;
    assert_void(&dom, "revoked", "bad", "Đã bị thu hồi");
    let (why, old) = (dom.find("vi sinh"), dom.find("Nem chua Thanh Hóa"));
    assert!(
        why.is_some() && why < old,
        "the reason comes before the old facts:\n{dom}"
    );
    assert_guarded(&browser::http(w.http, "GET", &format!("/verify/{}", cert.code)).await);
    let err = w
        .certification
        .revoke_certificate(authorized(revoke_request(&revoked), &officer))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "CERTIFICATE_NOT_IN_FORCE");
    assert_eq!(w.history(&cert.name).await, vec!["issued", "revoked"]);
    assert_eq!(
        keys::check_offline(&revoked.qr_payload, &published).unwrap().code,
        cert.code,
        "offline, a signature outlives a revocation: only the server knows"
    );
}

#[tokio::test]
async fn upgrades_and_renewals_supersede_the_certificate_in_force() {
    let mut w = world().await;
    let product = w.product("Cam Vân Du").await;
    let first = w.results(&[&product], RoundPlan::province_2026(1, 3)).await.remove(0);
    let three = w.issue(issue_request(&first.name, day(2026, 6, 10))).await.unwrap();
    assert_eq!((three.stars, three.kind()), (3, IssueKind::New));

    let second = w.results(&[&product], RoundPlan::province_2026(2, 4)).await.remove(0);
    let four = w.issue(issue_request(&second.name, day(2026, 9, 1))).await.unwrap();
    assert_eq!((four.stars, four.kind()), (4, IssueKind::Upgrade));
    assert_eq!(four.supersedes, three.name);
    let old = w.get(&three.name).await;
    assert_eq!(old.state(), CertificateState::Superseded);
    assert_eq!(old.superseded_by, four.name);
    let v = w.verify(&three.code).await.unwrap();
    assert_eq!(
        (v.status(), v.superseded_by_code.as_str()),
        (VerificationStatus::Superseded, four.code.as_str())
    );
    assert_eq!(w.history(&three.name).await, vec!["issued", "superseded"]);
    let dom = browse(&format!("http://{}/verify/{}", w.http, three.code)).await;
    assert_void(&dom, "superseded", "void", "Đã được thay thế");
    assert!(dom.contains(&format!("<a href=\"{0}\">{0}</a>", four.code)), "{dom}");

    let third = w.results(&[&product], RoundPlan::province_2026(3, 4)).await.remove(0);
    let renewed = w.issue(issue_request(&third.name, day(2026, 10, 1))).await.unwrap();
    assert_eq!(
        (renewed.kind(), renewed.valid_until),
        (IssueKind::Renewal, day(2029, 9, 30))
    );
    assert_eq!(w.get(&four.name).await.state(), CertificateState::Superseded);
    assert_eq!(
        w.verify(&renewed.code).await.unwrap().status(),
        VerificationStatus::Valid
    );

    let officer = w.officer.clone();
    let active = w
        .certification
        .list_certificates(authorized(
            ListCertificatesRequest {
                filter: format!("product = \"{}\" AND state = \"active\"", product.name),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(
        active.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
        vec![renewed.code.as_str()]
    );
}

#[tokio::test]
async fn validity_ends_at_the_36_month_boundary_and_the_sweep_records_it() {
    let mut w = world().await;
    let (a, b) = (w.product("Bánh gai Tứ Trụ").await, w.product("Chè lam Phủ Quảng").await);
    let today = ocop_kit::date::today_vn();
    // Issued 36 months ago: its first invalid day is today. (On 29 February
    // there is no such day three years back; the 28th expires on the 28th.)
    let issued_then = today
        .replace_year(today.year() - 3)
        .unwrap_or_else(|_| today.replace_day(28).unwrap().replace_year(today.year() - 3).unwrap());
    let round = RoundPlan {
        date: (2023, 3, 1),
        ..RoundPlan::province_2026(1, 4)
    };
    let results = w.results(&[&a, &b], round).await;
    let lapsed = w
        .issue(issue_request(&results[0].name, from_date(issued_then)))
        .await
        .unwrap();
    let day_after = issued_then.next_day().unwrap();
    let last_day = w
        .issue(issue_request(&results[1].name, from_date(day_after)))
        .await
        .unwrap();
    assert_eq!(last_day.valid_until, from_date(today), "valid through today");
    assert_eq!(
        w.verify(&last_day.code).await.unwrap().status(),
        VerificationStatus::Valid
    );
    assert_eq!(lapsed.state(), CertificateState::Expired);
    assert_eq!(
        w.verify(&lapsed.code).await.unwrap().status(),
        VerificationStatus::Expired
    );
    let dom = browse(&format!("http://{}/verify/{}", w.http, lapsed.code)).await;
    assert_void(&dom, "expired", "void", "Đã hết hiệu lực");

    let officer = w.officer.clone();
    let expiring = |within_days| ListExpiringCertificatesRequest {
        within_days,
        ..Default::default()
    };
    let soon = w
        .certification
        .list_expiring_certificates(authorized(expiring(0), &officer))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(
        soon.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(),
        vec![last_day.code.as_str()]
    );
    let err = w
        .certification
        .list_expiring_certificates(authorized(expiring(400), &officer))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["within_days"]);

    // The sweep records what reads already show, once.
    let context = Context {
        config: Arc::new(w.env.config.clone()),
        db: ocop_kit::db::connect_lazy(&w.env.config.database, "certification").unwrap(),
        cache: ocop_kit::cache::Cache::new(&w.env.config.redis, "certification").unwrap(),
    };
    let svc = ocop_certification::Certification::new(&context, ocop_certification::clock::Clock::Vietnam).unwrap();
    let swept = ocop_certification::sweep::sweep(&svc, today).await.unwrap();
    assert_eq!((swept.expired, swept.notices), (1, 1));
    let again = ocop_certification::sweep::sweep(&svc, today).await.unwrap();
    assert_eq!((again.expired, again.notices), (0, 0));
    assert_eq!(w.history(&lapsed.name).await, vec!["issued", "expired"]);
    assert_eq!(w.history(&last_day.name).await, vec!["issued", "expiry_notice"]);
    assert!(w.get(&last_day.name).await.expiry_notice_time.is_some());
    let outbox: Vec<(String, String)> =
        sqlx::query_as("SELECT resource, change FROM certification.outbox ORDER BY sequence")
            .fetch_all(&context.db)
            .await
            .unwrap();
    assert_eq!(
        outbox,
        vec![
            (lapsed.name.clone(), "issued".into()),
            (last_day.name.clone(), "issued".into()),
            (lapsed.name.clone(), "expired".into()),
            (last_day.name.clone(), "expiry_notice".into()),
        ]
    );
}

#[tokio::test]
async fn verification_is_rate_limited_per_client() {
    let mut w = world_with(|c| {
        c.certification.verify_per_second = 1;
        c.certification.verify_burst = 3;
    })
    .await;
    for _ in 0..3 {
        w.verify("38-ZZZZZZZZ").await.unwrap();
    }
    let err = w.verify("38-ZZZZZZZZ").await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::ResourceExhausted, "VERIFY_RATE_LIMITED")
    );
    let retry = err.get_details_retry_info().and_then(|r| r.retry_delay).unwrap();
    assert!(retry.as_millis() > 0 && retry.as_secs() <= 1, "{retry:?}");
    // The page shares the limit: a plain HTTP/1.1 request from the same address.
    let response = browser::http(w.http, "GET", "/verify/38-ZZZZZZZZ").await;
    assert!(response.starts_with("HTTP/1.1 429"), "{response}");
    assert!(response.to_lowercase().contains("retry-after: 1"), "{response}");
    assert_guarded(&response);
}

#[tokio::test]
async fn every_answer_of_the_verify_page_forbids_framing_sniffing_and_scripts() {
    let w = world().await;
    for (method, path, status) in [
        ("GET", "/verify/38-ZZZZZZZZ", "200"),
        ("GET", "/verify/not%20a%20code", "400"),
        ("POST", "/verify/38-ZZZZZZZZ", "405"),
    ] {
        let answer = browser::http(w.http, method, path).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{method} {path}: {answer}"
        );
        assert_guarded(&answer);
    }
    // A forger's site framing the page: Chromium refuses to show it there.
    let page = format!("http://{}/verify/38-ZZZZZZZZ", w.http);
    let site = browser::framing_site(&page).await;
    let framed = browser::browse_page(&format!("http://{site}/")).await;
    assert!(
        framed
            .console
            .iter()
            .any(|l| l.contains(&format!("Framing 'http://{}/'", w.http)) && l.contains("frame-ancestors 'none'")),
        "Chromium framed the page: {:?}\n{}",
        framed.console,
        framed.dom
    );
}
