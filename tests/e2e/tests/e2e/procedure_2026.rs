//! Decision 26/2026's way to 5 stars across deployments, every service a
//! process: Thanh Hóa rates a product at 91 and certifies its 4 stars; its
//! chairman approves the result and the province proposes it (Điều 7.3.e),
//! and only then does the nomination reach the ministry's queue; the
//! ministry's batch 1 of 2026 rates it on the mirrored nomination and dossier
//! and certifies 5 stars, which supersede the province's certificate.

use std::path::PathBuf;
use std::time::Duration;

use ocop_e2e::{Process, connect, eventually, free_addr};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{
    IssueCertificateRequest, IssuingLevel, VerificationStatus, VerifyCertificateRequest,
};
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::{
    ApproveNominationRequest, GetResultRequest, ListNominationsRequest, ProvinceDecision,
};
use ocop_proto::evaluation::v1::{EvaluationResult, RoundLevel};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, EntryPlan, NewProduct, RoundPlan};
use ocop_testkit::{TestApp, TestEnv, authorized};

/// Thanh Hóa's registry, evaluation and certification, following the
/// national certification feed at `national_certification` (its 5-star
/// certificates) and the national evaluation feed at `national_evaluation`
/// (the central results of its products).
struct Province {
    env: TestEnv,
    registry: Process,
    evaluation: Process,
    certification: Process,
}

impl Province {
    async fn start(national: &TestEnv, national_certification: &str, national_evaluation: &str) -> Province {
        let env = TestEnv::new().await;
        let province = ("OCOP_DEPLOYMENT__PROVINCE_CODE", "38");
        let registry = Process::start("registry", &env, &[province]);
        let registry_url = registry.url();
        let token = env.dir.join("national.jwt");
        std::fs::write(
            &token,
            national.signer.issue("38", "service", None, None, 3600).unwrap(),
        )
        .unwrap();
        let config = env.dir.join("province.toml");
        std::fs::write(
            &config,
            format!(
                "[federation.national]\ncertification_url = \"http://{national_certification}\"\n\
                 evaluation_url = \"http://{national_evaluation}\"\ntoken_path = \"{}\"\n",
                token.display()
            ),
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let evaluation = Process::start(
            "evaluation",
            &env,
            &[
                province,
                ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
                ("OCOP_CONFIG", config),
            ],
        );
        let evaluation_url = evaluation.url();
        let certification = Process::start(
            "certification",
            &env,
            &[
                province,
                ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
                ("OCOP_SERVICES__EVALUATION__URL", &evaluation_url),
                ("OCOP_CONFIG", config),
            ],
        );
        for process in [&registry, &evaluation, &certification] {
            TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(60)).await;
        }
        Province {
            env,
            registry,
            evaluation,
            certification,
        }
    }
}

/// The national registry, evaluation and certification, following Thanh Hóa.
struct National {
    env: TestEnv,
    _registry: Process,
    evaluation: Process,
    certification: Process,
}

impl National {
    async fn start(env: TestEnv, province: &Province, certification_addr: &str, evaluation_addr: &str) -> National {
        let token = env.dir.join("38.jwt");
        std::fs::write(
            &token,
            province
                .env
                .signer
                .issue("national", "service", None, None, 3600)
                .unwrap(),
        )
        .unwrap();
        let toml = format!(
            "[deployment]\nrole = \"national\"\n\n[[federation.provinces]]\nprovince_code = \"38\"\nregistry_url = \"{}\"\n\
             evaluation_url = \"{}\"\ncertification_url = \"{}\"\ntoken_path = \"{}\"\n",
            province.registry.url(),
            province.evaluation.url(),
            province.certification.url(),
            token.display()
        );
        let config: PathBuf = env.dir.join("national.toml");
        std::fs::write(&config, toml).unwrap();
        let config = config.to_str().unwrap().to_owned();
        let registry = Process::start("registry", &env, &[("OCOP_CONFIG", &config)]);
        let registry_url = registry.url();
        let evaluation = Process::start_on(
            "evaluation",
            &env,
            &[
                ("OCOP_CONFIG", &config),
                ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ],
            evaluation_addr,
        );
        let evaluation_url = evaluation.url();
        let certification = Process::start_on(
            "certification",
            &env,
            &[
                ("OCOP_CONFIG", &config),
                ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
                ("OCOP_SERVICES__EVALUATION__URL", &evaluation_url),
            ],
            certification_addr,
        );
        for process in [&registry, &evaluation, &certification] {
            TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(60)).await;
        }
        National {
            env,
            _registry: registry,
            evaluation,
            certification,
        }
    }
}

/// The ministry's queue of nominations.
async fn queue(evaluation: &EvaluationServiceClient<tonic::transport::Channel>, token: &str) -> Vec<EvaluationResult> {
    evaluation
        .clone()
        .list_nominations(authorized(ListNominationsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .results
}

#[tokio::test]
async fn an_approved_and_proposed_nomination_becomes_five_stars_that_supersede_the_provinces_four() {
    let national_env = TestEnv::new().await;
    let (national_certification, national_evaluation) = (free_addr(), free_addr());
    let thanh_hoa = Province::start(&national_env, &national_certification, &national_evaluation).await;
    let national = National::start(national_env, &thanh_hoa, &national_certification, &national_evaluation).await;
    let officer = thanh_hoa.env.token("province_officer", Some("38"), None);
    let ministry = national.env.token("national_officer", None, None);
    let mut registry = RegistryServiceClient::new(connect(&thanh_hoa.registry).await);
    let mut evaluation = EvaluationServiceClient::new(connect(&thanh_hoa.evaluation).await);
    let mut certification = CertificationServiceClient::new(connect(&thanh_hoa.certification).await);
    let mut national_evaluation = EvaluationServiceClient::new(connect(&national.evaluation).await);
    let mut national_certification = CertificationServiceClient::new(connect(&national.certification).await);

    // Thanh Hóa: filed on 2026-05-25, rated 91 in an additional batch of 2026-07-10, certified 4★.
    let new = NewProduct {
        commune: "14758",
        registration: "2809998887",
        name: "Nem chua Thanh Hóa",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry, &officer, new).await;
    let dossier = flows::file_dossier(&mut registry, &officer, &product, (2026, 5, 25)).await;
    let provincial = flows::run(
        &thanh_hoa.env,
        &mut evaluation,
        &officer,
        &[EntryPlan::of(&product, &dossier.name, Some(91))],
        RoundPlan::under_26_2026(RoundLevel::Province, 3, (2026, 7, 10), 4),
    )
    .await;
    let result = provincial.results[0].clone();
    assert!(result.nominated && result.regime == "26/2026", "{result:?}");
    let four = flows::certify(&mut certification, &officer, &result.name, (2026, 7, 11)).await;
    assert_eq!(four.stars, 4);

    // Approved only: the ministry sees the approval in its mirror, not a nomination in its queue.
    evaluation
        .approve_nomination(authorized(
            ApproveNominationRequest {
                name: result.name.clone(),
                approval: Some(ProvinceDecision {
                    reference: "Quyết định 2345/QĐ-UBND".into(),
                    date: Some(ocop_proto::common::v1::Date {
                        year: 2026,
                        month: 7,
                        day: 12,
                    }),
                    ..Default::default()
                }),
            },
            &officer,
        ))
        .await
        .unwrap();
    eventually("the national mirror has the approval", || {
        let (mut client, name, token) = (national_evaluation.clone(), result.name.clone(), ministry.clone());
        async move {
            let mirrored = client
                .get_result(authorized(GetResultRequest { name }, &token))
                .await
                .ok()?
                .into_inner()
                .result?;
            mirrored.approval.is_some().then_some(())
        }
    })
    .await;
    assert!(
        queue(&national_evaluation, &ministry).await.is_empty(),
        "not proposed yet, so not the ministry's to rate"
    );

    // Proposed on 2026-07-15, before the central cut-off of 30/7.
    evaluation
        .propose_nomination(authorized(
            ocop_proto::evaluation::v1::ProposeNominationRequest {
                name: result.name.clone(),
                proposal: Some(ProvinceDecision {
                    reference: "Công văn 678/UBND-NN".into(),
                    date: Some(ocop_proto::common::v1::Date {
                        year: 2026,
                        month: 7,
                        day: 15,
                    }),
                    ..Default::default()
                }),
            },
            &officer,
        ))
        .await
        .unwrap();
    let nominations = eventually("the proposal reaches the ministry's queue", || {
        let (client, token) = (national_evaluation.clone(), ministry.clone());
        async move {
            let found = queue(&client, &token).await;
            (!found.is_empty()).then_some(found)
        }
    })
    .await;
    assert_eq!(nominations[0].name, result.name);

    // The ministry's batch 1 of 2026 rates the mirrored nomination on its mirrored dossier.
    let central = flows::run(
        &national.env,
        &mut national_evaluation,
        &ministry,
        &[EntryPlan::nominated(&nominations[0], Some(91))],
        RoundPlan::under_26_2026(RoundLevel::Central, 1, (2026, 9, 15), 5),
    )
    .await;
    assert_eq!(central.entries[0].product_dossier, dossier.name);
    assert_eq!(
        central.entries[0].proposed_date,
        nominations[0].proposal.as_ref().unwrap().date
    );
    let five = flows::certify(
        &mut national_certification,
        &ministry,
        &central.results[0].name,
        (2026, 9, 20),
    )
    .await;
    assert_eq!((five.stars, five.product.as_str()), (5, product.name.as_str()));

    // One certificate in force: Thanh Hóa's 4 stars read superseded by the ministry's 5.
    let superseded = eventually("Thanh Hóa's 4 stars are superseded", || {
        let (mut client, code) = (certification.clone(), four.code.clone());
        async move {
            let v = client
                .verify_certificate(VerifyCertificateRequest { code })
                .await
                .ok()?
                .into_inner()
                .verification?;
            (v.status() == VerificationStatus::Superseded).then_some(v)
        }
    })
    .await;
    assert_eq!(superseded.superseded_by_code, five.code);
}

#[tokio::test]
async fn below_90_at_the_centre_the_province_certifies_4_stars_on_the_ministrys_result_read_from_its_feed() {
    let national_env = TestEnv::new().await;
    let (national_certification, national_evaluation) = (free_addr(), free_addr());
    let thanh_hoa = Province::start(&national_env, &national_certification, &national_evaluation).await;
    let national = National::start(national_env, &thanh_hoa, &national_certification, &national_evaluation).await;
    let officer = thanh_hoa.env.token("province_officer", Some("38"), None);
    let ministry = national.env.token("national_officer", None, None);
    let mut registry = RegistryServiceClient::new(connect(&thanh_hoa.registry).await);
    let mut evaluation = EvaluationServiceClient::new(connect(&thanh_hoa.evaluation).await);
    let mut certification = CertificationServiceClient::new(connect(&thanh_hoa.certification).await);
    let mut national_evaluation = EvaluationServiceClient::new(connect(&national.evaluation).await);

    // Thanh Hóa rates it 91 and proposes it; its chairman approved first.
    let new = NewProduct {
        commune: "14758",
        registration: "2809998886",
        name: "Chè lam Phủ Quảng",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry, &officer, new).await;
    let dossier = flows::file_dossier(&mut registry, &officer, &product, (2026, 5, 25)).await;
    let provincial = flows::run(
        &thanh_hoa.env,
        &mut evaluation,
        &officer,
        &[EntryPlan::of(&product, &dossier.name, Some(91))],
        RoundPlan::under_26_2026(RoundLevel::Province, 3, (2026, 7, 10), 4),
    )
    .await;
    let proposed = flows::nominate(
        &mut evaluation,
        &officer,
        &provincial.results[0].name,
        (2026, 7, 12),
        (2026, 7, 15),
    )
    .await;
    let nominations = eventually("the proposal reaches the ministry's queue", || {
        let (client, token) = (national_evaluation.clone(), ministry.clone());
        async move {
            let found = queue(&client, &token).await;
            (!found.is_empty()).then_some(found)
        }
    })
    .await;
    assert_eq!(nominations[0].name, proposed.name);

    // The ministry's council gives 88: not 5 stars, but 4 the province may certify.
    let central = flows::run(
        &national.env,
        &mut national_evaluation,
        &ministry,
        &[EntryPlan::nominated(&nominations[0], Some(88))],
        RoundPlan::under_26_2026(RoundLevel::Central, 1, (2026, 9, 15), 5),
    )
    .await;
    let result = central.results[0].clone();
    assert_eq!((result.province_stars, result.certifiable), (4, false), "{result:?}");

    // Thanh Hóa's evaluation service learns of it from the national feed...
    let seen = eventually("Thanh Hóa sees the ministry's result", || {
        let (mut client, name, token) = (evaluation.clone(), result.name.clone(), officer.clone());
        async move {
            client
                .get_result(authorized(GetResultRequest { name }, &token))
                .await
                .ok()?
                .into_inner()
                .result
        }
    })
    .await;
    assert_eq!(
        (seen.name.as_str(), seen.mean, seen.province_stars, seen.level()),
        (result.name.as_str(), 88.0, 4, RoundLevel::Central),
        "as the ministry published it"
    );

    // ...and its certification service certifies 4 stars on it, without a new provincial round.
    let four = certification
        .issue_certificate(authorized(
            IssueCertificateRequest {
                result: result.name.clone(),
                issuing_level: IssuingLevel::Province as i32,
                decision_date: Some(ocop_proto::common::v1::Date {
                    year: 2026,
                    month: 9,
                    day: 20,
                }),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(
        (
            four.stars,
            four.issuing_level(),
            four.result.as_str(),
            four.authority.as_str()
        ),
        (
            4,
            IssuingLevel::Province,
            result.name.as_str(),
            "administrativeUnits/2025-38"
        )
    );
}
