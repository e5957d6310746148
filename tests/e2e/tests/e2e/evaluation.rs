//! A registry product through a 2026 provincial round, with both services
//! running as processes: commune assessment, 5 council members, publication,
//! to a 4-star result; and another product to a nomination.

use std::time::Duration;

use ocop_e2e::Process;
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    CreateProductRequest, CreateSubjectRequest, Product, Representative, Subject, SubjectKind,
};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;

const MEMBERS: [&str; 5] = ["chu-tich", "uy-vien-1", "uy-vien-2", "uy-vien-3", "thu-ky"];

/// Answers whose points land in [low, high): the best option everywhere,
/// then unmarked criteria lowered one by one until the total fits.
fn answers_between(set: &CriteriaSet, low: i32, high: i32) -> Vec<Answer> {
    let criteria: Vec<&Criterion> = set
        .parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .collect();
    let best = |c: &Criterion| (0..c.options.len()).max_by_key(|&i| c.options[i].points).unwrap_or(0);
    let worst = |c: &Criterion| (0..c.options.len()).min_by_key(|&i| c.options[i].points).unwrap_or(0);
    let mut chosen: Vec<usize> = criteria.iter().map(|c| best(c)).collect();
    let total = |chosen: &[usize]| -> i32 { criteria.iter().zip(chosen).map(|(c, &i)| c.options[i].points).sum() };
    for (i, c) in criteria.iter().enumerate() {
        if total(&chosen) < high {
            break;
        }
        let marked = c.options.iter().any(|o| o.star_marker > 0);
        let single = c.scoring == Scoring::SingleChoice as i32;
        if !marked && single {
            let before = chosen[i];
            chosen[i] = worst(c);
            if total(&chosen) < low {
                chosen[i] = before;
            }
        }
    }
    let points = total(&chosen);
    assert!(
        (low..high).contains(&points),
        "could not land in [{low}, {high}): {points}"
    );
    criteria
        .iter()
        .zip(chosen)
        .map(|(c, i)| Answer {
            criterion: c.code.clone(),
            options: vec![i as i32],
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_through_a_provincial_round_to_four_stars_and_another_to_a_nomination() {
    let env = TestEnv::new().await;
    let registry = Process::start("registry", &env, &[]);
    TestApp::wait_serving_at(registry.grpc_addr, Duration::from_secs(30)).await;
    let registry_url = registry.url();
    let evaluation = Process::start(
        "evaluation",
        &env,
        &[("OCOP_SERVICES__REGISTRY__URL", registry_url.as_str())],
    );
    TestApp::wait_serving_at(evaluation.grpc_addr, Duration::from_secs(30)).await;
    let officer = env.token("province_officer", Some("38"), None);
    let mut reg = RegistryServiceClient::new(Channel::from_shared(registry_url).unwrap().connect().await.unwrap());
    let mut eval =
        EvaluationServiceClient::new(Channel::from_shared(evaluation.url()).unwrap().connect().await.unwrap());

    let mut products = Vec::new();
    for (number, commune) in [("2801000001", "14758"), ("2801000002", "14797")] {
        let subject = Subject {
            kind: SubjectKind::Cooperative as i32,
            legal_name: format!("HTX {number}"),
            registration_number: number.into(),
            representative: Some(Representative {
                full_name: "Lan".into(),
                ..Default::default()
            }),
            commune_code: commune.into(),
            ..Default::default()
        };
        let subject = reg
            .create_subject(authorized(
                CreateSubjectRequest {
                    subject: Some(subject),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .subject
            .unwrap();
        let product = Product {
            display_name: "Rau sạch".into(),
            group_code: "thuc-pham".into(),
            subgroup_code: "rau-cu-qua-hat-tuoi".into(),
            ..Default::default()
        };
        let product = reg
            .create_product(authorized(
                CreateProductRequest {
                    parent: subject.name,
                    product: Some(product),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        products.push((product, commune));
    }

    let council = MEMBERS
        .iter()
        .enumerate()
        .map(|(i, user)| CouncilMember {
            user: user.to_string(),
            role: if i == 0 {
                CouncilRole::Chair
            } else {
                CouncilRole::Member
            } as i32,
        })
        .collect();
    let round = EvaluationRound {
        level: RoundLevel::Province as i32,
        year: 2026,
        batch: 1,
        province_code: "38".into(),
        decision_date: Some(Date {
            year: 2026,
            month: 6,
            day: 1,
        }),
        council,
        ..Default::default()
    };
    let round = eval
        .create_evaluation_round(authorized(
            CreateEvaluationRoundRequest {
                evaluation_round: Some(round),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let round = eval
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag,
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();
    let mut entries = Vec::new();
    for (product, commune) in &products {
        let entry = eval
            .create_entry(authorized(
                CreateEntryRequest {
                    parent: round.name.clone(),
                    entry: Some(Entry {
                        product: product.name.clone(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .entry
            .unwrap();
        let clerk = env
            .signer
            .issue("can-bo-xa", "commune_officer", Some("38"), Some(commune), 600)
            .unwrap();
        // A round of 2026-06-01 is under Decision 26/2026: its commune
        // reports (Mẫu 03) before the batch's cut-off instead of assessing 4 criteria.
        assert_eq!(entry.commune_step(), CommuneStep::Report);
        let report = ocop_testkit::flows::commune_report(Date {
            year: 2026,
            month: 4,
            day: 29,
        });
        eval.record_commune_report(authorized(
            RecordCommuneReportRequest {
                name: entry.name.clone(),
                commune_report: Some(report),
            },
            &clerk,
        ))
        .await
        .unwrap();
        entries.push(entry);
    }
    let round = eval
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: round.etag,
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap();

    let set = eval
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: entries[0].criteria_set.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    let four_star = answers_between(&set, 72, 88);
    let nominee = answers_between(&set, 92, 101);
    for user in MEMBERS {
        let token = env.signer.issue(user, "council_member", Some("38"), None, 600).unwrap();
        for (entry, answers) in entries.iter().zip([&four_star, &nominee]) {
            let draft = eval
                .save_score_sheet(authorized(
                    SaveScoreSheetRequest {
                        entry: entry.name.clone(),
                        answers: answers.clone(),
                        etag: String::new(),
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .score_sheet
                .unwrap();
            eval.submit_score_sheet(authorized(
                SubmitScoreSheetRequest {
                    name: draft.name,
                    etag: draft.etag,
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap();
        }
    }
    let published = eval
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag,
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    let (four, five) = (&published.results[0], &published.results[1]);
    assert_eq!(
        (four.band_stars, four.recognised_stars, four.certifiable, four.nominated),
        (4, 4, true, false),
        "{:?}",
        four.reasons
    );
    assert_eq!(four.sheets, 5);
    assert_eq!(
        (five.band_stars, five.recognised_stars, five.nominated),
        (5, 4, true),
        "{:?}",
        five.reasons
    );
    let nominations = eval
        .list_nominations(authorized(ListNominationsRequest::default(), &officer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        nominations
            .results
            .iter()
            .map(|r| r.product.as_str())
            .collect::<Vec<_>>(),
        vec![products[1].0.name.as_str()]
    );
}
