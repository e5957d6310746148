//! Decision 26/2026 over the real sheets, with the registry beside the
//! evaluation service: rounds from 2026-05-22 score on its sheets; a product
//! registered under the earlier taxonomy enters scored on the 2026 set its
//! code maps to; entries carry the product code the sheets print; star
//! markers cap the stars; and a result published on a superseded 148 sheet
//! recomputes the same once the new sheets load.

use crate::support::world;

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::{
    CreateProductRequest, CreateSubjectRequest, Product, Representative, Subject, SubjectKind,
};
use ocop_testkit::{authorized, flows};
use tonic::Code;
use world::*;

/// The product sets of the 1048 sheets (the registry's codes before 26/2026):
/// (group, code).
fn earlier_sets() -> Vec<(String, String)> {
    ocop_evaluation::criteria::SHIPPED
        .iter()
        .filter(|(f, _)| f.starts_with("1048-"))
        .map(|(_, json)| {
            let set = ocop_evaluation::rules::criteria_sheets::check(serde_json::from_str(json).unwrap())
                .unwrap()
                .set;
            (set.group_code, set.subgroup_code)
        })
        .collect()
}

/// A producer of commune `commune` with one product per `(group, set)`.
async fn producer_with(w: &mut World, commune: &str, number: &str, sets: &[(String, String)]) -> Vec<Product> {
    let officer = w.officer.clone();
    let subject = w
        .registry
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(Subject {
                    kind: SubjectKind::Cooperative as i32,
                    legal_name: format!("HTX {number}"),
                    registration_number: number.into(),
                    representative: Some(Representative {
                        full_name: "Lê Thị Lan".into(),
                        ..Default::default()
                    }),
                    commune_code: commune.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .subject
        .unwrap();
    let mut products = Vec::new();
    for (group, set) in sets {
        let product = w
            .registry
            .create_product(authorized(
                CreateProductRequest {
                    parent: subject.name.clone(),
                    product: Some(Product {
                        display_name: format!("Sản phẩm {set}"),
                        group_code: group.clone(),
                        subgroup_code: set.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap_or_else(|e| panic!("{group}/{set}: {e:?}"))
            .into_inner()
            .product
            .unwrap();
        products.push(product);
    }
    products
}

/// A province round of 38 on `date`, opened. Under 26/2026 a batch 2
/// (decided from 30/6, before 30/12) takes the dossiers the communes
/// received before 30/10; batches from 3 rest on the council's plan.
async fn open_round(w: &mut World, batch: i32, date: (i32, i32, i32)) -> EvaluationRound {
    let officer = w.officer.clone();
    let round = EvaluationRound {
        decision_date: Some(Date {
            year: date.0,
            month: date.1,
            day: date.2,
        }),
        batch_basis: if batch >= 3 {
            "Quyết định 45/QĐ-UBND ban hành Quy chế hoạt động của Hội đồng; Kế hoạch 12/KH-UBND".into()
        } else {
            String::new()
        },
        ..province_round(date.0, batch, full_council())
    };
    let round = w.create_round(round, &officer).await.unwrap();
    w.evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap()
}

/// A 26/2026 round's date: batch 2 of 2026.
const DECIDED: (i32, i32, i32) = (2026, 11, 16);
/// When its producers filed: under 26/2026, before the batch's cut-off.
const FILED: (i32, u8, u8) = (2026, 6, 15);

/// A new dossier of `product`, filed on [`FILED`].
async fn dossier(w: &mut World, product: &Product) -> String {
    let officer = w.officer.clone();
    flows::file_dossier(&mut w.registry, &officer, product, FILED)
        .await
        .name
}

/// Enters `product` into `round` with `dossier` (empty: none).
async fn enter_with(w: &mut World, round: &str, product: &str, dossier: &str) -> Result<Entry, tonic::Status> {
    let officer = w.officer.clone();
    w.evaluation
        .create_entry(authorized(
            CreateEntryRequest {
                parent: round.into(),
                entry: Some(Entry {
                    product: product.into(),
                    product_dossier: dossier.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .map(|r| r.into_inner().entry.unwrap())
}

/// Enters `product` into the 26/2026 `round` with a new dossier.
async fn enter_2026(w: &mut World, round: &str, product: &Product) -> Result<Entry, tonic::Status> {
    let dossier = dossier(w, product).await;
    enter_with(w, round, &product.name, &dossier).await
}

#[tokio::test]
async fn a_product_of_any_earlier_set_enters_a_2026_round_on_the_2026_set_its_code_maps_to() {
    let mut w = world().await;
    let earlier = earlier_sets();
    assert_eq!(earlier.len(), 27);
    let products = producer_with(&mut w, "14758", "2801234567", &earlier).await;
    let round = open_round(&mut w, 2, DECIDED).await;
    assert_eq!(round.criteria_decision, "2026");

    let mut number = 0;
    let mut entered = 0;
    for product in &products {
        let code = product.subgroup_code.as_str();
        match ocop_kit::taxonomy::scored_as(code) {
            ocop_kit::taxonomy::Scored::Current(set) | ocop_kit::taxonomy::Scored::Mapped(set, _) => {
                let entry = enter_2026(&mut w, &round.name, product).await.unwrap();
                number += 1;
                entered += 1;
                assert_eq!(entry.subgroup_code, set.code, "{code}");
                assert_eq!(
                    entry.criteria_set,
                    format!("criteriaSets/2026-{}-v1", set.code),
                    "{code}"
                );
                // Numbered in entry order, the refused ones taking no number.
                assert_eq!(entry.product_code, format!("38-14758-{number:03}-2026"), "{code}");
            }
            ocop_kit::taxonomy::Scored::Removed(_) => {
                let err = enter_2026(&mut w, &round.name, product).await.unwrap_err();
                assert_eq!(
                    (err.code(), reason(&err).as_str()),
                    (Code::FailedPrecondition, "PRODUCT_SET_REMOVED"),
                    "{code}: {}",
                    err.message()
                );
                assert!(err.message().contains(&product.name), "{}", err.message());
            }
            ocop_kit::taxonomy::Scored::Unknown => panic!("{code} is in no taxonomy"),
        }
    }
    assert_eq!(entered, 25, "all but medical equipment and 1048's festival tourism");
    let officer = w.officer.clone();
    let first = w
        .evaluation
        .list_entries(authorized(
            ListEntriesRequest {
                parent: round.name.clone(),
                page_size: 100,
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(first.len(), 25, "a refused entry leaves nothing behind");
    // The registry keeps every product under its own code.
    let honey = products
        .iter()
        .find(|p| p.subgroup_code == "mat-ong-cac-san-pham-tu-mat-ong-mat-khac")
        .unwrap();
    let before = first.iter().find(|e| e.product == honey.name).unwrap();
    assert_eq!(before.subgroup_code, "mat-ong-mat-khac-va-nong-san-thuc-pham-khac");

    // A later round of the year keeps the product's code.
    let later = open_round(&mut w, 3, (2026, 11, 30)).await;
    let again = enter_with(&mut w, &later.name, &honey.name, &before.product_dossier)
        .await
        .unwrap();
    assert_eq!(again.product_code, before.product_code);
    // A round of 148 (2025) scores on the same sets and prints no code.
    let old = open_round(&mut w, 1, (2025, 6, 1)).await;
    assert_eq!(old.criteria_decision, "148");
    let in_2025 = enter_with(&mut w, &old.name, &honey.name, "").await.unwrap();
    assert_eq!(
        (in_2025.criteria_set.as_str(), in_2025.product_code.as_str()),
        ("criteriaSets/148-mat-ong-mat-khac-va-nong-san-thuc-pham-khac-v1", "")
    );

    // A set of 26/2026 only has no 1048 sheet.
    let flowers = producer_with(&mut w, "14758", "2801234568", &[("sinh-vat-canh".into(), "hoa".into())]).await;
    let in_2022 = open_round(&mut w, 1, (2022, 6, 1)).await;
    let err = enter_with(&mut w, &in_2022.name, &flowers[0].name, "")
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "NO_CRITERIA_SET")
    );
    assert!(
        err.message().contains("no 1048 criteria set for product set `hoa`"),
        "{}",
        err.message()
    );
    let entry = enter_2026(&mut w, &round.name, &flowers[0]).await.unwrap();
    assert_eq!(
        (entry.criteria_set.as_str(), entry.product_code.as_str()),
        (
            "criteriaSets/2026-hoa-v1",
            format!("38-14758-{:03}-2026", number + 1).as_str()
        )
    );
}

#[tokio::test]
async fn concurrent_entries_of_one_commune_are_numbered_without_gaps_or_duplicates() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let mut products = Vec::new();
    for i in 0..8 {
        let (_, p) = w
            .product("14797", &format!("28012346{i:02}"), "rau-cu-qua-hat-tuoi", &officer)
            .await;
        products.push(p);
    }
    let (_, elsewhere) = w.product("14758", "2801234699", "rau-cu-qua-hat-tuoi", &officer).await;
    products.push(elsewhere);
    let round = open_round(&mut w, 2, DECIDED).await;
    let mut dossiers = Vec::new();
    for p in &products {
        dossiers.push(dossier(&mut w, p).await);
    }
    let mut tasks = Vec::new();
    for (p, dossier) in products.iter().zip(dossiers) {
        let (mut client, parent, product, token) = (
            w.evaluation.clone(),
            round.name.clone(),
            p.name.clone(),
            officer.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .create_entry(authorized(
                    CreateEntryRequest {
                        parent,
                        entry: Some(Entry {
                            product,
                            product_dossier: dossier,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner().entry.unwrap())
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap().unwrap().product_code);
    }
    let other = codes.pop().unwrap();
    assert_eq!(other, "38-14758-001-2026", "each commune numbers its own list");
    codes.sort();
    let expected: Vec<String> = (1..=8).map(|n| format!("38-14797-{n:03}-2026")).collect();
    assert_eq!(codes, expected);
}

/// `answers` with criterion `code` answered by `options`.
fn with(mut answers: Vec<Answer>, code: &str, options: Vec<i32>) -> Vec<Answer> {
    answers.iter_mut().find(|a| a.criterion == code).unwrap().options = options;
    answers
}

/// The index of `c`'s option marked `marker`.
fn marked(set: &CriteriaSet, code: &str, marker: i32) -> i32 {
    let c = criteria(set).find(|c| c.code == code).unwrap();
    c.options.iter().position(|o| o.star_marker == marker).unwrap() as i32
}

fn criteria(set: &CriteriaSet) -> impl Iterator<Item = &Criterion> {
    set.parts.iter().flat_map(|p| &p.sections).flat_map(|s| &s.criteria)
}

/// The points of `answers`.
fn total(set: &CriteriaSet, answers: &[Answer]) -> i32 {
    answers
        .iter()
        .map(|a| {
            let c = criteria(set).find(|c| c.code == a.criterion).unwrap();
            let sum: i32 = a.options.iter().map(|&i| c.options[i as usize].points).sum();
            sum.min(c.max_points)
        })
        .sum()
}

/// Lowers unmarked single-choice criteria to their least option until the
/// points fall under `below`.
fn lowered(set: &CriteriaSet, mut answers: Vec<Answer>, below: i32) -> (Vec<Answer>, i32) {
    for c in criteria(set) {
        if total(set, &answers) < below {
            break;
        }
        let unmarked = c.star_marker == 0 && c.options.iter().all(|o| o.star_marker == 0);
        if !unmarked || c.scoring != Scoring::SingleChoice as i32 {
            continue;
        }
        let least = c
            .options
            .iter()
            .enumerate()
            .min_by_key(|(_, o)| o.points)
            .map(|(i, _)| i as i32)
            .unwrap();
        answers = with(answers, &c.code, vec![least]);
    }
    let points = total(set, &answers);
    (answers, points)
}

async fn publish_all(w: &mut World, round: &EvaluationRound, entry: &Entry, answers: &[Answer]) -> EvaluationResult {
    for user in ["chu-tich", "uy-vien-1", "thu-ky"] {
        let sheet = w.draft(&entry.name, user, answers).await;
        w.submit(&sheet, user, "").await.unwrap();
    }
    let officer = w.officer.clone();
    w.evaluation
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .results
        .remove(0)
}

async fn start_scoring(w: &mut World, round: &EvaluationRound) -> EvaluationRound {
    let officer = w.officer.clone();
    w.evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .evaluation_round
        .unwrap()
}

#[tokio::test]
async fn a_2026_sheet_that_misses_a_4_star_marker_ranks_3_stars_and_says_which_criterion() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let round = open_round(&mut w, 2, DECIDED).await;
    let entry = enter_2026(&mut w, &round.name, &product).await.unwrap();
    // Decision 26/2026 Điều 7.2: the commune reports before the province scores.
    let commune = w
        .env
        .signer
        .issue("can-bo-xa", "commune_officer", Some("38"), Some("14758"), 600)
        .unwrap();
    w.evaluation
        .record_commune_report(authorized(
            RecordCommuneReportRequest {
                name: entry.name.clone(),
                commune_report: Some(flows::commune_report(entry.dossier_submitted.unwrap())),
            },
            &commune,
        ))
        .await
        .unwrap();
    let round = start_scoring(&mut w, &round).await;
    let set = w.pinned_set(&entry).await;
    assert_eq!(set.name, "criteriaSets/2026-rau-cu-qua-hat-tuoi-v1");
    assert_eq!(set.decision(), Decision::Decision262026);
    // 2.3 gets its 3★ option (1 of 3 points), 1.6 none of its options: its
    // least, worth 1, is its 4★ marker. Then the score is brought into 4★.
    let answers = with(full_answers(&set), "2.3", vec![marked(&set, "2.3", 3)]);
    let answers = with(answers, "1.6", vec![]);
    let (answers, total) = lowered(&set, answers, 88);
    assert!((70..90).contains(&total), "{total}");

    let result = publish_all(&mut w, &round, &entry, &answers).await;
    assert_eq!(result.mean, f64::from(total));
    assert_eq!(
        (
            result.band_stars,
            result.stars,
            result.recognised_stars,
            result.certifiable
        ),
        (4, 3, 3, true),
        "{:#?}",
        result.reasons
    );
    for reason in [
        "criterion 1.6 needs at least 1 points for 4★ (the members' mean is 0.0)",
        "criterion 2.3 needs at least 3 points for 4★ (the members' mean is 1.0)",
        "the score's band is 4★ but the 26/2026 star markers met allow 3★",
    ] {
        assert!(
            result.reasons.iter().any(|r| r == reason),
            "{reason}: {:#?}",
            result.reasons
        );
    }
    assert_eq!(result.product_code, "38-14758-001-2026");
    assert_eq!(result.product_code, entry.product_code);
    let again = w
        .evaluation
        .recompute_result(authorized(
            RecomputeResultRequest {
                name: result.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(again.identical, "{again:#?}");
}

/// The 148 sheet this service shipped before the 26 sheets of 148 (a
/// student app's printout, superseded by 148-01).
const FIRST_148: &str = include_str!("support/148-first-transcription.json");

#[tokio::test]
async fn a_result_on_a_superseded_148_sheet_recomputes_the_same_after_the_new_sheets_load() {
    let mut w = world().await;
    let officer = w.officer.clone();
    let pool = ocop_kit::db::connect_lazy(&w.env.config.database, "evaluation").unwrap();
    // A deployment from before: version 1 of the fresh-produce 148 set is the
    // first transcription (unused, so this replaces it in place).
    let stored = ocop_evaluation::criteria::store(&pool, "148-thuc-pham-rau-cu-qua-hat-tuoi.json", FIRST_148)
        .await
        .unwrap();
    assert_eq!(
        stored,
        ocop_evaluation::criteria::Stored::Replaced("148-rau-cu-qua-hat-tuoi-v1".into())
    );
    let (_, product) = w.product("14758", "2801234567", "rau-cu-qua-hat-tuoi", &officer).await;
    let round = open_round(&mut w, 1, (2025, 6, 1)).await;
    let entry = enter_with(&mut w, &round.name, &product.name, "").await.unwrap();
    assert_eq!(entry.criteria_set, "criteriaSets/148-rau-cu-qua-hat-tuoi-v1");
    let old = w.pinned_set(&entry).await;
    let scoring = start_scoring(&mut w, &round).await;
    // The best answers but one 5★ marker missed: 5★ by points, 4★ by markers.
    let missed = criteria(&old)
        .find(|c| c.options.iter().any(|o| o.star_marker == 5) && c.options.iter().all(|o| o.star_marker != 4))
        .unwrap();
    let answers = with(full_answers(&old), &missed.code, vec![0]);
    let published = publish_all(&mut w, &scoring, &entry, &answers).await;
    assert_eq!(
        (published.band_stars, published.stars),
        (5, 4),
        "{:#?}",
        published.reasons
    );
    assert!(
        published
            .reasons
            .iter()
            .any(|r| r.contains("the 148 star markers met allow 4★")),
        "{:#?}",
        published.reasons
    );

    // The next start loads the 26 sheets of 148: the used version stays, and
    // the new sheet becomes version 2.
    ocop_evaluation::criteria::load_shipped(pool.clone()).await.unwrap();
    let recomputed = w
        .evaluation
        .recompute_result(authorized(
            RecomputeResultRequest {
                name: published.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(recomputed.identical, "{recomputed:#?}");
    assert_eq!(recomputed.result.unwrap().stars, published.stars);
    let pinned_again = w.pinned_set(&entry).await;
    assert_eq!(pinned_again.source, old.source, "version 1 is unchanged");
    let next = open_round(&mut w, 2, (2025, 6, 15)).await;
    let newer = enter_with(&mut w, &next.name, &product.name, "").await.unwrap();
    assert_eq!(newer.criteria_set, "criteriaSets/148-rau-cu-qua-hat-tuoi-v2");
    assert_ne!(w.pinned_set(&newer).await.source, old.source);
}
