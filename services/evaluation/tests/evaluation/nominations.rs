//! A provincial result of 90 or more on its way to the ministry under
//! Decision 26/2026 (Điều 7.3.e, 7.4, 5.2): the chairman's approval, then the
//! province's proposal, then a CENTRAL round of the proposal's batch; and
//! back, a central result below 90 telling the province which stars it may
//! certify. Over the real sheets; every refusal named, writing nothing.

use crate::support::{procedure, world};

use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::DossierKind;
use ocop_testkit::authorized;
use ocop_testkit::flows::{self, EntryPlan, RoundPlan};
use procedure::*;
use tonic::Code;
use world::*;

fn decision(reference: &str, date: Option<ocop_proto::common::v1::Date>) -> Option<ProvinceDecision> {
    Some(ProvinceDecision {
        reference: reference.into(),
        date,
        ..Default::default()
    })
}

#[tokio::test]
async fn a_result_of_90_is_approved_then_proposed_and_only_then_rated_centrally() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let national = w.env.token("national_officer", None, None);
    // Filed after 26/2026 took effect, rated in an additional batch of 2026-07-10.
    let targets = [91, 92, 93, 94, 95, 60];
    let mut plans = Vec::new();
    let mut products = Vec::new();
    for (i, points) in targets.iter().enumerate() {
        let commune = if i.is_multiple_of(2) { "14758" } else { "14797" };
        let (_, product) = w
            .product(commune, &format!("280123450{i}"), "rau-cu-qua-hat-tuoi", &officer)
            .await;
        let dossier = w.file(&product, DossierKind::FirstRating, (2026, 5, 25), None).await;
        plans.push(EntryPlan::of(&product, &dossier.name, Some(*points)));
        products.push(product);
    }
    let province = RoundPlan::under_26_2026(RoundLevel::Province, 3, (2026, 7, 10), 4);
    let provincial = flows::run(&w.env, &mut w.evaluation, &officer, &plans, province).await;
    let [x, z, wait, v, u, y] = provincial.results.clone().try_into().unwrap();
    for (result, points) in provincial.results.iter().zip(targets) {
        assert_eq!(result.mean, f64::from(points), "{:?}", result.reasons);
        assert_eq!(result.regime, "26/2026");
        assert_eq!(result.nominated, points >= 90, "{points}");
    }
    assert_eq!(
        (x.recognised_stars, x.certifiable),
        (4, true),
        "the province certifies 4 at most"
    );

    let approve = |name: &str, approval| ApproveNominationRequest {
        name: name.into(),
        approval,
    };
    let propose = |name: &str, proposal| ProposeNominationRequest {
        name: name.into(),
        proposal,
    };
    let quyet_dinh = "Quyết định 2345/QĐ-UBND";
    let written = w.written().await;
    let stranger = w.env.token("province_officer", Some("01"), None);
    let member = w.member("chu-tich");
    let approvals = [
        (
            "a council member",
            approve(&x.name, decision(quyet_dinh, Some(day(2026, 7, 12)))),
            member.clone(),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        ),
        (
            "another province's officer",
            approve(&x.name, decision(quyet_dinh, Some(day(2026, 7, 12)))),
            stranger.clone(),
            Code::PermissionDenied,
            "OUTSIDE_JURISDICTION",
        ),
        (
            "no approval",
            approve(&x.name, None),
            officer.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "no number, no date",
            approve(&x.name, decision(" ", None)),
            officer.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "approved before the round's decision",
            approve(&x.name, decision(quyet_dinh, Some(day(2026, 7, 9)))),
            officer.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "approved in the future",
            approve(&x.name, decision(quyet_dinh, Some(day(2099, 1, 1)))),
            officer.clone(),
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "a result below 90",
            approve(&y.name, decision(quyet_dinh, Some(day(2026, 7, 12)))),
            officer.clone(),
            Code::FailedPrecondition,
            "NOT_NOMINATED",
        ),
        (
            "no such result",
            approve(
                &format!("{}/entries/none/result", provincial.round.name),
                decision(quyet_dinh, Some(day(2026, 7, 12))),
            ),
            officer.clone(),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
        ),
    ];
    for (what, request, token, code, why) in approvals {
        let err = w
            .evaluation
            .approve_nomination(authorized(request, &token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
    }
    let err = w
        .evaluation
        .propose_nomination(authorized(
            propose(&x.name, decision("Công văn 678/UBND-NN", Some(day(2026, 7, 15)))),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NOMINATION_NOT_APPROVED"),
        "the chairman approves before the province proposes"
    );
    assert_eq!(w.written().await, written, "every refusal wrote nothing");

    let proposed = flows::nominate(&mut w.evaluation, &officer, &x.name, (2026, 7, 12), (2026, 7, 15)).await;
    assert_eq!(proposed.approval.as_ref().unwrap().date, Some(day(2026, 7, 12)));
    assert_eq!(
        proposed.proposal.as_ref().unwrap().reference,
        "Công văn 678/UBND-NN đề nghị đánh giá 5 sao"
    );
    let again = [
        (
            w.evaluation
                .approve_nomination(authorized(
                    approve(&x.name, decision(quyet_dinh, Some(day(2026, 7, 12)))),
                    &officer,
                ))
                .await
                .unwrap_err(),
            "ALREADY_APPROVED",
        ),
        (
            w.evaluation
                .propose_nomination(authorized(
                    propose(&x.name, decision("Công văn 1/UBND", Some(day(2026, 7, 16)))),
                    &officer,
                ))
                .await
                .unwrap_err(),
            "ALREADY_PROPOSED",
        ),
    ];
    for (err, why) in again {
        assert_eq!((err.code(), reason(&err).as_str()), (Code::FailedPrecondition, why));
    }
    w.evaluation
        .approve_nomination(authorized(
            approve(&z.name, decision(quyet_dinh, Some(day(2026, 7, 12)))),
            &officer,
        ))
        .await
        .unwrap();
    let err = w
        .evaluation
        .propose_nomination(authorized(
            propose(&z.name, decision("Công văn 2/UBND", Some(day(2026, 7, 11)))),
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["proposal.date"], "proposed before it was approved");
    flows::nominate(&mut w.evaluation, &officer, &v.name, (2026, 7, 12), (2026, 7, 30)).await;
    flows::nominate(&mut w.evaluation, &officer, &u.name, (2026, 7, 12), (2026, 7, 16)).await;
    let recomputed = w
        .evaluation
        .recompute_result(authorized(RecomputeResultRequest { name: x.name.clone() }, &officer))
        .await
        .unwrap()
        .into_inner();
    assert!(
        recomputed.identical,
        "the approval is recorded, not computed: {recomputed:#?}"
    );

    // The ministry's batch 1 of 2026 takes what the provinces proposed before 30/7.
    let central = w.open(round(RoundLevel::Central, 1, (2026, 9, 15)), &national).await;
    let entry = |result: &EvaluationResult, product: &str| Entry {
        product: product.into(),
        nomination: result.name.clone(),
        ..Default::default()
    };
    let written = w.written().await;
    let refusals = [
        (
            "no nomination",
            entry(&x, &x.product),
            "",
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "another product's",
            entry(&x, &z.product),
            "x",
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        (
            "below 90",
            entry(&y, &y.product),
            "x",
            Code::FailedPrecondition,
            "NOT_NOMINATED",
        ),
        (
            "not approved",
            entry(&wait, &wait.product),
            "x",
            Code::FailedPrecondition,
            "NOMINATION_NOT_APPROVED",
        ),
        (
            "approved, not proposed",
            entry(&z, &z.product),
            "x",
            Code::FailedPrecondition,
            "NOMINATION_NOT_PROPOSED",
        ),
        (
            "proposed on 30/7",
            entry(&v, &v.product),
            "x",
            Code::FailedPrecondition,
            "ENTRY_AFTER_CUT_OFF",
        ),
    ];
    for (what, mut request, nominated, code, why) in refusals {
        if nominated.is_empty() {
            request.nomination.clear();
        }
        let err = w.enter_as(&central.name, request, &national).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
        if why == "ENTRY_AFTER_CUT_OFF" {
            assert!(
                err.message().contains("proposed by its province on 2026-07-30")
                    && err
                        .message()
                        .contains("it belongs to batch 2 of 2027 (provinces' proposals before 2027-01-30"),
                "{}",
                err.message()
            );
        }
    }
    assert_eq!(w.written().await, written, "every refused entry wrote nothing");
    let entered = w
        .enter_as(&central.name, entry(&x, &x.product), &national)
        .await
        .unwrap();
    assert_eq!(
        (
            entered.regime.as_str(),
            entered.commune_step(),
            entered.product_dossier.as_str(),
            entered.proposed_date
        ),
        (
            "26/2026",
            CommuneStep::None,
            x.product_dossier.as_str(),
            Some(day(2026, 7, 15))
        )
    );

    // Rated centrally: 91 is 5 stars; 88 lets the province certify 4 on it.
    let plan = RoundPlan::under_26_2026(RoundLevel::Central, 3, (2026, 9, 20), 5);
    let rated = flows::run(
        &w.env,
        &mut w.evaluation,
        &national,
        &[
            EntryPlan::nominated(&proposed, Some(91)),
            EntryPlan::nominated(&u, Some(88)),
        ],
        plan,
    )
    .await;
    let [five, below] = rated.results.clone().try_into().unwrap();
    assert_eq!(
        (five.recognised_stars, five.certifiable, five.province_stars),
        (5, true, 0),
        "{:?}",
        five.reasons
    );
    assert_eq!(
        (
            below.mean,
            below.stars,
            below.recognised_stars,
            below.certifiable,
            below.province_stars
        ),
        (88.0, 4, 0, false, 4),
        "{:?}",
        below.reasons
    );
    assert!(
        below
            .reasons
            .iter()
            .any(|r| r.contains("the province's chairman may certify 4★ on this result")),
        "{:?}",
        below.reasons
    );
    let recomputed = w
        .evaluation
        .recompute_result(authorized(
            RecomputeResultRequest {
                name: below.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(recomputed.identical, "{recomputed:#?}");
}
