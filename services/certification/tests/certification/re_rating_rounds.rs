//! The re-rating round (Decision 26/2026 Điều 7.6) reads its application: a
//! re-rating entry names the holder's application accepted in its window,
//! which the evaluation service reads from this one over gRPC and consumes
//! once; the entry keeps the 45-day limit, and a council deciding by written
//! opinions says so on the round and on the result. Every refusal is named
//! and changes nothing.

use crate::support::world;

use ocop_proto::certification::v1::*;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::{
    CreateEntryRequest, CreateEvaluationRoundRequest, Entry, EvaluationRound, GetResultRequest, ListEntriesRequest,
    OpenEvaluationRoundRequest, RoundLevel,
};
use ocop_proto::registry::v1::{CreateProductDossierRequest, DossierKind, Product};
use ocop_testkit::flows::{self, EntryPlan, RoundPlan};
use ocop_testkit::{TestApp, authorized};
use time::Duration;
use tonic::Code;
use tonic::transport::Channel;
use world::*;

/// The day 36 months before `last + 1` (as in re_rating.rs).
fn issued_for(last: time::Date) -> time::Date {
    let after = last + Duration::days(1);
    after
        .replace_year(after.year() - 3)
        .unwrap_or_else(|_| after.replace_day(28).unwrap().replace_year(after.year() - 3).unwrap())
}

fn triple(d: time::Date) -> (i32, u8, u8) {
    (d.year(), d.month() as u8, d.day())
}

/// An evaluation service that knows where this world's certification service
/// is: the world starts evaluation first, so this one is started after.
async fn evaluation_seeing_certification(w: &mut World) -> (TestApp, EvaluationServiceClient<Channel>) {
    w.env.config.services.certification.url = format!("http://{}", w.apps[2].grpc_addr);
    let app = w.env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await;
    let client = EvaluationServiceClient::new(app.channel().await);
    (app, client)
}

/// A dossier of `kind` of `product` filed and received on `day`.
async fn dossier(w: &mut World, product: &Product, kind: DossierKind, day: time::Date) -> String {
    let officer = w.officer.clone();
    w.registry
        .create_product_dossier(authorized(
            CreateProductDossierRequest {
                parent: product.name.clone(),
                product_dossier: Some(flows::dossier_of(product, kind, triple(day))),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .product_dossier
        .unwrap()
        .name
}

/// A certificate of `product` that ends 150 days from today, and its
/// application filed today (inside 180 to 120 days before its end).
async fn certified_and_filed(w: &mut World, product: &Product, batch: i32) -> ReRatingApplication {
    let today = ocop_kit::date::today_vn();
    let round = RoundPlan {
        date: (2023, 3, 1),
        ..RoundPlan::province_2026(batch, 4)
    };
    let result = w.results(&[product], round).await.remove(0);
    let issued = issued_for(today + Duration::days(150));
    let cert = w.issue(issue_request(&result.name, from_date(issued))).await.unwrap();
    let officer = w.officer.clone();
    w.certification
        .create_re_rating_application(authorized(
            CreateReRatingApplicationRequest {
                parent: cert.name.clone(),
                dossier_reference: "Tờ trình 12/TTr-UBND".into(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .re_rating_application
        .unwrap()
}

/// An additional batch of province 38 decided today, opened.
async fn open_round(
    evaluation: &mut EvaluationServiceClient<Channel>,
    officer: &str,
    batch: i32,
    written: bool,
) -> EvaluationRound {
    let today = ocop_kit::date::today_vn();
    let round = EvaluationRound {
        level: RoundLevel::Province as i32,
        year: today.year(),
        batch,
        province_code: "38".into(),
        decision_date: from_date(today),
        council: ["chu-tich", "uy-vien-1", "thu-ky"]
            .iter()
            .zip([1, 2, 3])
            .map(|(user, role)| ocop_proto::evaluation::v1::CouncilMember {
                user: (*user).into(),
                role,
            })
            .collect(),
        batch_basis: "Quyết định 45/QĐ-UBND; Kế hoạch 12/KH-UBND".into(),
        written_opinions: written,
        ..Default::default()
    };
    let round = evaluation
        .create_evaluation_round(authorized(
            CreateEvaluationRoundRequest {
                evaluation_round: Some(round),
                request_id: String::new(),
            },
            officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap()
}

async fn entries(evaluation: &mut EvaluationServiceClient<Channel>, officer: &str) -> Vec<Entry> {
    evaluation
        .list_entries(authorized(
            ListEntriesRequest {
                parent: "evaluationRounds/-".into(),
                page_size: 500,
                ..Default::default()
            },
            officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
}

#[tokio::test]
async fn a_re_rating_round_consumes_the_accepted_application_once_and_says_it_decided_by_written_opinions() {
    let mut w = world().await;
    let (_app, mut evaluation) = evaluation_seeing_certification(&mut w).await;
    let officer = w.officer.clone();
    let today = ocop_kit::date::today_vn();
    let yesterday = today - Duration::days(1);
    let (honey, tea, wine) = (
        w.product("Mật ong bạc hà").await,
        w.product("Chè Shan tuyết").await,
        w.product("Rượu ngô men lá").await,
    );
    let filed = certified_and_filed(&mut w, &honey, 1).await;
    assert_eq!(filed.state(), ReRatingState::Filed);
    assert_eq!(filed.decide_by, from_date(today + Duration::days(45)));
    let withdrawn = certified_and_filed(&mut w, &tea, 2).await;
    let withdrawn = w
        .certification
        .record_re_rating_outcome(authorized(
            RecordReRatingOutcomeRequest {
                name: withdrawn.name.clone(),
                etag: withdrawn.etag.clone(),
                outcome: ReRatingState::Withdrawn as i32,
                outcome_date: from_date(today),
                text: "Chủ thể rút hồ sơ".into(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .re_rating_application
        .unwrap();

    // The re-rating round, decided by written opinions, through to its result.
    let honey_dossier = dossier(&mut w, &honey, DossierKind::ReRating, yesterday).await;
    let mut planned = EntryPlan::of(&honey, &honey_dossier, None);
    planned.entry.re_rating_application = filed.name.clone();
    let plan = RoundPlan {
        written_opinions: true,
        ..RoundPlan::under_26_2026(RoundLevel::Province, 3, triple(today), 4)
    };
    let evaluated = flows::run(&w.env, &mut evaluation, &officer, &[planned], plan).await;
    assert!(evaluated.round.written_opinions);
    let entry = &evaluated.entries[0];
    assert_eq!(
        (
            entry.dossier_kind(),
            entry.regime.as_str(),
            entry.re_rating_application.as_str(),
            entry.re_rating_decide_by
        ),
        (DossierKind::ReRating, "26/2026", filed.name.as_str(), filed.decide_by),
        "the entry keeps the application it consumes and its 45-day limit"
    );
    let result = evaluation
        .get_result(authorized(
            GetResultRequest {
                name: evaluated.result_names[0].clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert!(result.written_opinions, "{result:#?}");
    assert_eq!(result.re_rating_application, filed.name);
    assert_eq!(result.stars, 4);

    // Every refusal, in a round that meets and in another by written opinions.
    let meeting = open_round(&mut evaluation, &officer, 4, false).await;
    let written = open_round(&mut evaluation, &officer, 5, true).await;
    let tea_dossier = dossier(&mut w, &tea, DossierKind::ReRating, yesterday).await;
    let honey_again = dossier(&mut w, &honey, DossierKind::ReRating, yesterday).await;
    let wine_first = dossier(&mut w, &wine, DossierKind::FirstRating, yesterday).await;
    let entry = |product: &Product, dossier: &str, application: &str| Entry {
        product: product.name.clone(),
        product_dossier: dossier.into(),
        re_rating_application: application.into(),
        ..Default::default()
    };
    let before = (w.written().await, entries(&mut evaluation, &officer).await);
    let cases = [
        (
            "a second round on the consumed application",
            &meeting,
            entry(&honey, &honey_again, &filed.name),
            Code::FailedPrecondition,
            "RE_RATING_APPLICATION_CONSUMED",
            vec![],
        ),
        (
            "a re-rating dossier without its application",
            &meeting,
            entry(&tea, &tea_dossier, ""),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["entry.re_rating_application"],
        ),
        (
            "a withdrawn application",
            &meeting,
            entry(&tea, &tea_dossier, &withdrawn.name),
            Code::FailedPrecondition,
            "RE_RATING_NOT_ACCEPTED",
            vec![],
        ),
        (
            "another product's application",
            &meeting,
            entry(&tea, &tea_dossier, &filed.name),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["entry.re_rating_application"],
        ),
        (
            "not an application's name",
            &meeting,
            entry(&tea, &tea_dossier, "certificates/38-1"),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["entry.re_rating_application"],
        ),
        (
            "no such application",
            &meeting,
            entry(&tea, &tea_dossier, "certificates/38-00000000/reRating"),
            Code::NotFound,
            "RESOURCE_NOT_FOUND",
            vec![],
        ),
        (
            "an application with a first rating",
            &meeting,
            entry(&wine, &wine_first, &filed.name),
            Code::InvalidArgument,
            "INVALID_FIELD",
            vec!["entry.re_rating_application"],
        ),
        (
            "a first rating decided by written opinions",
            &written,
            entry(&wine, &wine_first, ""),
            Code::FailedPrecondition,
            "WRITTEN_OPINIONS_RE_RATING_ONLY",
            vec![],
        ),
    ];
    for (what, round, entry, code, why, expected) in cases {
        let err = evaluation
            .create_entry(authorized(
                CreateEntryRequest {
                    parent: round.name.clone(),
                    entry: Some(entry),
                    request_id: String::new(),
                },
                &officer,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str()),
            (code, why),
            "{what}: {}",
            err.message()
        );
        let expected: Vec<String> = expected.into_iter().map(String::from).collect();
        assert_eq!(fields(&err), expected, "{what}");
        if why == "RE_RATING_APPLICATION_CONSUMED" {
            assert_eq!(metadata(&err)["entry"], evaluated.entries[0].name);
            assert!(err.message().contains("consumed once"), "{}", err.message());
        }
    }
    assert_eq!(
        (w.written().await, entries(&mut evaluation, &officer).await),
        before,
        "every refusal changed nothing"
    );

    // Written opinions are 26/2026's, for re-rating: not in a 148 round.
    let err = evaluation
        .create_evaluation_round(authorized(
            CreateEvaluationRoundRequest {
                evaluation_round: Some(EvaluationRound {
                    written_opinions: true,
                    decision_date: from_date(time::macros::date!(2025 - 03 - 01)),
                    year: 2025,
                    batch: 1,
                    batch_basis: String::new(),
                    ..meeting.clone()
                }),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        vec!["evaluation_round.written_opinions"],
        "{}",
        err.message()
    );

    // A cancelled round gives its application back.
    let pomelo = w.product("Bưởi Luận Văn").await;
    let application = certified_and_filed(&mut w, &pomelo, 3).await;
    let dossier = dossier(&mut w, &pomelo, DossierKind::ReRating, yesterday).await;
    let enter = |round: &EvaluationRound| CreateEntryRequest {
        parent: round.name.clone(),
        entry: Some(entry(&pomelo, &dossier, &application.name)),
        request_id: String::new(),
    };
    let cancelled = open_round(&mut evaluation, &officer, 6, false).await;
    evaluation
        .create_entry(authorized(enter(&cancelled), &officer))
        .await
        .unwrap();
    let err = evaluation
        .create_entry(authorized(enter(&meeting), &officer))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "RE_RATING_APPLICATION_CONSUMED");
    evaluation
        .cancel_evaluation_round(authorized(
            ocop_proto::evaluation::v1::CancelEvaluationRoundRequest {
                name: cancelled.name.clone(),
                etag: cancelled.etag.clone(),
                reason: "Hội đồng không đủ thành viên".into(),
            },
            &officer,
        ))
        .await
        .unwrap();
    let again = evaluation
        .create_entry(authorized(enter(&meeting), &officer))
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(again.re_rating_application, application.name);
}
