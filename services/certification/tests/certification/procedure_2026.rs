//! Decision 26/2026's procedure through to certificates, over the real
//! sheets: a province's batch 2 of 2026 with products of five groups, and a
//! central result below 90 certified by the province (Điều 7.4, last
//! paragraph). The province and the ministry's round run on one deployment
//! here: the central round is the national officer's.

use crate::support::world;

use ocop_proto::certification::v1::*;
use ocop_proto::evaluation::v1::RoundLevel;
use ocop_testkit::authorized;
use ocop_testkit::flows::{self, EntryPlan, NewProduct, RoundPlan};
use tonic::Code;
use world::*;

fn certify(result: &str, level: IssuingLevel, (year, month, d): (i32, u8, u8)) -> IssueCertificateRequest {
    IssueCertificateRequest {
        result: result.into(),
        issuing_level: level as i32,
        decision_date: day(year, month, d),
        ..Default::default()
    }
}

/// A product of `subgroup` (its group from the taxonomy) with its dossier
/// filed and received on `filed`: an entry of it, aiming at `points`.
async fn filed(w: &mut World, i: usize, subgroup: &str, filed: (i32, u8, u8), points: i32) -> EntryPlan {
    let officer = w.officer.clone();
    let registration = format!("28990000{i:02}");
    let name = format!("Sản phẩm {i}");
    let new = NewProduct {
        commune: if i.is_multiple_of(2) { "14758" } else { "14797" },
        registration: &registration,
        name: &name,
        subgroup,
    };
    let (_, product) = flows::product(&mut w.registry, &officer, new).await;
    let dossier = flows::file_dossier(&mut w.registry, &officer, &product, filed).await;
    EntryPlan::of(&product, &dossier.name, Some(points))
}

#[tokio::test]
async fn a_province_round_of_batch_2_of_2026_takes_five_groups_through_to_certificates() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let sets = [
        ("rau-cu-qua-hat-tuoi", (2026, 9, 7), 80),
        ("ruou-trang", (2026, 9, 14), 72),
        ("my-pham-co-thanh-phan-tu-duoc-lieu", (2026, 9, 21), 65),
        ("vai-may-mac", (2026, 10, 5), 88),
        ("hoa", (2026, 10, 12), 55),
    ];
    let mut plans = Vec::new();
    for (i, (set, day, points)) in sets.iter().enumerate() {
        plans.push(filed(&mut w, i, set, *day, *points).await);
    }
    let plan = RoundPlan::under_26_2026(RoundLevel::Province, 2, (2026, 11, 20), 4);
    let evaluated = flows::run(&w.env, &mut w.evaluation, &officer, &plans, plan).await;
    assert_eq!(
        (evaluated.round.proposed_before, evaluated.round.decided_before),
        (day(2026, 10, 30), day(2026, 12, 30))
    );
    let mut groups: Vec<String> = evaluated.results.iter().map(|r| r.group_code.clone()).collect();
    groups.sort();
    assert_eq!(
        groups,
        ["do-uong", "duoc-lieu", "sinh-vat-canh", "thu-cong-my-nghe", "thuc-pham"],
        "five groups"
    );
    for (entry, result) in evaluated.entries.iter().zip(&evaluated.results) {
        assert_eq!(entry.regime, "26/2026");
        assert!(
            entry.criteria_set.starts_with("criteriaSets/2026-"),
            "{}",
            entry.criteria_set
        );
        let report = entry.commune_report.as_ref().expect("the commune reported");
        assert!(
            !report.late && !entry.commune_report_overdue,
            "reported the day it was filed"
        );
        assert_eq!(result.product_dossier, entry.product_dossier);
        assert!(result.certifiable, "{:?}", result.reasons);
    }
    let stars: Vec<i32> = evaluated.results.iter().map(|r| r.recognised_stars).collect();
    assert_eq!(stars, vec![4, 4, 3, 4, 3]);

    let mut codes = Vec::new();
    for result in &evaluated.results {
        let cert = w
            .issue(certify(&result.name, IssuingLevel::Province, (2026, 11, 25)))
            .await
            .unwrap();
        assert_eq!(
            (
                cert.stars,
                cert.issuing_level(),
                cert.group_code.as_str(),
                cert.product.as_str()
            ),
            (
                result.recognised_stars,
                IssuingLevel::Province,
                result.group_code.as_str(),
                result.product.as_str()
            )
        );
        assert_eq!(cert.authority_name, "Ủy ban nhân dân tỉnh Thanh Hóa");
        codes.push(cert.code);
    }
    assert_eq!(codes.len(), 5);
    for code in &codes {
        assert_eq!(w.verify(code).await.unwrap().status(), VerificationStatus::Valid);
    }
}

#[tokio::test]
async fn below_90_at_the_centre_the_province_certifies_the_stars_of_the_central_result() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let national = w.env.token("national_officer", None, None);
    // Filed after 26/2026 took effect; an additional provincial batch of 2026-07-10.
    let mut plans = Vec::new();
    for (i, points) in [95, 93, 92].into_iter().enumerate() {
        plans.push(filed(&mut w, i, "rau-cu-qua-hat-tuoi", (2026, 5, 25), points).await);
    }
    let plan = RoundPlan::under_26_2026(RoundLevel::Province, 3, (2026, 7, 10), 4);
    let provincial = flows::run(&w.env, &mut w.evaluation, &officer, &plans, plan).await;
    let mut proposed = Vec::new();
    for result in &provincial.results {
        assert!(result.nominated, "{:?}", result.reasons);
        proposed.push(flows::nominate(&mut w.evaluation, &officer, &result.name, (2026, 7, 12), (2026, 7, 16)).await);
    }
    // The ministry's council: 88 (4★), 64 (3★), 91 (5★, the ministry's).
    let central = flows::run(
        &w.env,
        &mut w.evaluation,
        &national,
        &[
            EntryPlan::nominated(&proposed[0], Some(88)),
            EntryPlan::nominated(&proposed[1], Some(64)),
            EntryPlan::nominated(&proposed[2], Some(91)),
        ],
        RoundPlan::under_26_2026(RoundLevel::Central, 1, (2026, 9, 15), 5),
    )
    .await;
    let [four, three, five] = central.results.clone().try_into().unwrap();
    assert_eq!(
        (four.province_stars, three.province_stars, five.province_stars),
        (4, 3, 0)
    );
    assert!(
        !four.certifiable && four.recognised_stars == 0,
        "the ministry certifies 5★ only"
    );

    let written = w.written().await;
    let refusals = [
        (
            "the ministry's level: below 90 it certifies nothing",
            certify(&four.name, IssuingLevel::Unspecified, (2026, 9, 20)),
            Code::FailedPrecondition,
            "NOT_CERTIFIABLE",
        ),
        (
            "5 stars are not the province's",
            certify(&five.name, IssuingLevel::Province, (2026, 9, 20)),
            Code::FailedPrecondition,
            "FIVE_STARS_CENTRAL_ONLY",
        ),
        (
            "a decision before the central round",
            certify(&four.name, IssuingLevel::Province, (2026, 9, 1)),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
    ];
    for (what, request, code, why) in refusals {
        let err = w.issue(request).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
        if why == "NOT_CERTIFIABLE" {
            assert!(
                err.message().contains("may certify 4★ on this result"),
                "{}",
                err.message()
            );
        }
    }
    assert_eq!(w.written().await, written, "every refusal wrote nothing");

    for (result, stars) in [(&four, 4), (&three, 3)] {
        let cert = w
            .issue(certify(&result.name, IssuingLevel::Province, (2026, 9, 20)))
            .await
            .unwrap();
        assert_eq!(
            (cert.stars, cert.issuing_level(), cert.result.as_str()),
            (stars, IssuingLevel::Province, result.name.as_str()),
            "on the central council's result, without a new provincial round"
        );
        assert_eq!(cert.authority, "administrativeUnits/2025-38");
    }
    let err = w
        .issue(certify(&four.name, IssuingLevel::Province, (2026, 9, 21)))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "RESULT_ALREADY_CERTIFIED");
    let listed = w
        .certification
        .list_certificates(authorized(ListCertificatesRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.certificates.len(), 2);
}
