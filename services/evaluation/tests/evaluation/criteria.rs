//! Criteria sets over gRPC, against a real PostgreSQL: all 79 shipped sheets
//! (1048, 148 and 26/2026) load, are served and filtered, and a used set
//! never changes.

use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_testkit::{TestEnv, authorized};
use tonic::Code;
use tonic_types::StatusExt;

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_shipped_sheets_are_served_and_filtered() {
    let env = TestEnv::new().await;
    let app = env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await;
    let mut client = EvaluationServiceClient::new(app.channel().await);
    let token = env.token("council_member", Some("38"), None);

    let all = client
        .list_criteria_sets(authorized(
            ListCriteriaSetsRequest {
                page_size: 500,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.criteria_sets.len(), 79);
    let list = |filter: &str| ListCriteriaSetsRequest {
        filter: filter.into(),
        page_size: 500,
        ..Default::default()
    };
    let in_2024 = client
        .list_criteria_sets(authorized(list("in_force_at = \"2024-06-01\""), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_2024.criteria_sets.len(), 26, "the 26 sheets of 148");
    assert!(
        in_2024
            .criteria_sets
            .iter()
            .all(|s| s.name.starts_with("criteriaSets/148-") && s.decision == Decision::Decision1482023 as i32)
    );
    let of_2026 = client
        .list_criteria_sets(authorized(list("decision = 2026"), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(of_2026.criteria_sets.len(), 26);
    assert!(of_2026.criteria_sets.iter().all(|s| s.complete));
    // 148 stays in force for the dossiers of Điều 12.2 until 2026-07-20.
    for (day, count) in [("2026-06-01", 52), ("2026-07-21", 26)] {
        let sets = client
            .list_criteria_sets(authorized(list(&format!("in_force_at = \"{day}\"")), &token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(sets.criteria_sets.len(), count, "{day}");
    }
    let flowers = client
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: "criteriaSets/2026-hoa-v1".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    assert_eq!(
        (flowers.group_code.as_str(), flowers.decision()),
        ("sinh-vat-canh", Decision::Decision262026)
    );
    assert!(
        flowers
            .star_bands
            .iter()
            .any(|b| b.stars == 4 && b.max_points == 90 && b.max_exclusive)
    );
    let in_2020 = client
        .list_criteria_sets(authorized(
            list("in_force_at = \"2020-06-01\" AND group_code = do-uong"),
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_2020.criteria_sets.len(), 4);
    assert!(
        in_2020
            .criteria_sets
            .iter()
            .all(|s| s.decision == Decision::Decision10482019 as i32)
    );

    let honey = client
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: "criteriaSets/1048-mat-ong-cac-san-pham-tu-mat-ong-mat-khac-v1".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    let caps: Vec<i32> = honey.parts.iter().map(|p| p.max_points).collect();
    assert_eq!(caps, vec![35, 25, 40]);
    let part_c: i32 = honey.parts[2]
        .sections
        .iter()
        .flat_map(|s| &s.criteria)
        .map(|c| c.max_points)
        .sum();
    assert_eq!(part_c, 40, "the recorded correction of 9.1 makes part C add up");
    assert!(honey.corrections.iter().any(|c| c.contains("9.1")));
    let vegetables = client
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: "criteriaSets/148-rau-cu-qua-hat-tuoi-v1".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .criteria_set
        .unwrap();
    assert_eq!(
        vegetables.parts.iter().map(|p| p.max_points).collect::<Vec<_>>(),
        vec![40, 25, 35]
    );
    assert!(!vegetables.complete);
    assert!(
        vegetables
            .parts
            .iter()
            .flat_map(|p| &p.sections)
            .flat_map(|s| &s.criteria)
            .flat_map(|c| &c.options)
            .any(|o| o.star_marker == 5)
    );

    // Unhappy paths.
    let err = client
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: "criteriaSets/nothing-v1".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .get_criteria_set(authorized(GetCriteriaSetRequest { name: "sets/x".into() }, &token))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["name".to_string()])
    );
    for (request, field) in [
        (list("decision = 2019"), "filter"),
        (list("stars = 5"), "filter"),
        (list("in_force_at = yesterday"), "filter"),
        (
            ListCriteriaSetsRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListCriteriaSetsRequest {
                page_token: "nope".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let err = client
            .list_criteria_sets(authorized(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()]),
            "{request:?}"
        );
    }
    let err = client
        .list_criteria_sets(ListCriteriaSetsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_used_set_never_changes_and_a_correction_becomes_a_new_version() {
    let env = TestEnv::new().await;
    let app = env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await;
    let db = sqlx::PgPool::connect(&env.config.database.url).await.unwrap();
    let (file, json) = ocop_evaluation::criteria::SHIPPED
        .iter()
        .find(|(f, _)| f.starts_with("1048-15"))
        .unwrap();
    let evaluation_pool = ocop_kit::db::connect_lazy(&env.config.database, "evaluation").unwrap();

    // Loading the same sheet again changes nothing.
    let again = ocop_evaluation::criteria::store(&evaluation_pool, file, json)
        .await
        .unwrap();
    assert_eq!(
        again,
        ocop_evaluation::criteria::Stored::Unchanged("1048-ruou-trang-v1".into())
    );

    // Once used, the stored set refuses any change, whoever asks.
    sqlx::query("UPDATE evaluation.criteria_sets SET used = true WHERE id = '1048-ruou-trang-v1'")
        .execute(&db)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE evaluation.criteria_sets SET content = 'x' WHERE id = '1048-ruou-trang-v1'")
        .execute(&db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot change"), "{err}");
    let err = sqlx::query("DELETE FROM evaluation.criteria_sets WHERE id = '1048-ruou-trang-v1'")
        .execute(&db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot change"), "{err}");

    // A corrected sheet for the same product set becomes version 2.
    let corrected = json.replacen("\"text_vi\": \"", "\"text_vi\": \"(sửa) ", 1);
    let stored = ocop_evaluation::criteria::store(&evaluation_pool, file, &corrected)
        .await
        .unwrap();
    assert_eq!(
        stored,
        ocop_evaluation::criteria::Stored::NewVersion("1048-ruou-trang-v2".into())
    );

    // A sheet that breaks a rule is refused, with the reason.
    let broken = json.replacen("\"max_points\": 35", "\"max_points\": 30", 1);
    let problems = ocop_evaluation::criteria::store(&evaluation_pool, file, &broken)
        .await
        .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("part A has a cap of 30; 1048/QĐ-TTg sets 35")),
        "{problems:#?}"
    );
    app.stop().await.unwrap();
}
