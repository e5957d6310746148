//! `ocop call` for Decision 26/2026's procedure, against the services as
//! processes: the commune's report, a nomination approved and proposed, an
//! inspection whose non-compliance becomes a revocation an officer accepts,
//! a re-rating application, and a revocation on a ground of Điều 8.1; a
//! refusal prints its status and fails the command.

use std::time::Duration;

use ocop_e2e::{Process, connect, env_vars};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{
    CertificateState, GetCertificateRequest, GetReRatingApplicationRequest, ReRatingState, RevocationGround,
};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::{
    CouncilMember, CouncilRole, CreateEntryRequest, CreateEvaluationRoundRequest, Entry, EvaluationRound,
    GetResultRequest, ListEntriesRequest, OpenEvaluationRoundRequest, RoundLevel,
};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, EntryPlan, NewProduct, RoundPlan};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;

/// The day 36 months before `last + 1`: a certificate issued then ends about `last`.
fn issued_for(last: time::Date) -> (i32, i32, i32) {
    let after = last + time::Duration::days(1);
    let issued = after
        .replace_year(after.year() - 3)
        .unwrap_or_else(|_| after.replace_day(28).unwrap().replace_year(after.year() - 3).unwrap());
    (issued.year(), issued.month() as i32, i32::from(issued.day()))
}

/// Runs `ocop call …args` with `token` in $TOKEN; its exit and output.
fn call(vars: &[(String, String)], token: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(ocop_e2e::binary("ocop"))
        .arg("call")
        .args(args)
        .envs(vars.iter().cloned())
        .env_remove("OCOP_CONFIG")
        .env("TOKEN", token)
        .output()
        .expect("run ocop");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The first `name: "…"` in debug output that contains `part`.
fn name_in(output: &str, part: &str) -> String {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name: \""))
        .map(|l| l.trim_end_matches("\",").to_owned())
        .find(|n| n.contains(part))
        .unwrap_or_else(|| panic!("no name with {part} in:\n{output}"))
}

async fn product(
    registry: &mut RegistryServiceClient<Channel>,
    officer: &str,
    number: &str,
    name: &str,
) -> ocop_proto::registry::v1::Product {
    let new = NewProduct {
        commune: "14758",
        registration: number,
        name,
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    flows::product(registry, officer, new).await.1
}

#[tokio::test]
async fn operators_make_the_steps_of_26_2026_with_the_cli() {
    let env = TestEnv::new().await;
    let province = ("OCOP_DEPLOYMENT__PROVINCE_CODE", "38");
    let registry = Process::start("registry", &env, &[province]);
    let registry_url = registry.url();
    let evaluation = Process::start(
        "evaluation",
        &env,
        &[province, ("OCOP_SERVICES__REGISTRY__URL", &registry_url)],
    );
    let evaluation_url = evaluation.url();
    let certification = Process::start(
        "certification",
        &env,
        &[
            province,
            ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ("OCOP_SERVICES__EVALUATION__URL", &evaluation_url),
        ],
    );
    for process in [&registry, &evaluation, &certification] {
        TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(60)).await;
    }
    let mut vars = env_vars(&env);
    vars.retain(|(k, _)| k != "OCOP_CONFIG");
    vars.push(("OCOP_SERVICES__REGISTRY__URL".into(), registry_url.clone()));
    vars.push(("OCOP_SERVICES__EVALUATION__URL".into(), evaluation_url.clone()));
    vars.push(("OCOP_SERVICES__CERTIFICATION__URL".into(), certification.url()));
    let officer = env.token("province_officer", Some("38"), None);
    let commune = env
        .signer
        .issue("can-bo-xa", "commune_officer", Some("38"), Some("14758"), 600)
        .unwrap();
    let mut registry_client = RegistryServiceClient::new(connect(&registry).await);
    let mut evaluation_client = EvaluationServiceClient::new(connect(&evaluation).await);
    let mut certification_client = CertificationServiceClient::new(connect(&certification).await);

    // A 91 of an additional batch of 2026, certified 4★: approved and proposed by the CLI.
    let nem = product(&mut registry_client, &officer, "2809990001", "Nem chua Thanh Hóa").await;
    let dossier = flows::file_dossier(&mut registry_client, &officer, &nem, (2026, 5, 25)).await;
    let provincial = flows::run(
        &env,
        &mut evaluation_client,
        &officer,
        &[EntryPlan::of(&nem, &dossier.name, Some(91))],
        RoundPlan::under_26_2026(RoundLevel::Province, 3, (2026, 7, 10), 4),
    )
    .await;
    let result = provincial.results[0].name.clone();
    let four = flows::certify(&mut certification_client, &officer, &result, (2026, 7, 11)).await;
    let (ok, out) = call(
        &vars,
        &officer,
        &[
            "approve-nomination",
            &result,
            "--reference",
            "Quyết định 2345/QĐ-UBND",
            "--date",
            "2026-07-12",
        ],
    );
    assert!(ok && out.contains("Quyết định 2345/QĐ-UBND"), "{out}");
    let (ok, out) = call(
        &vars,
        &officer,
        &[
            "propose-nomination",
            &result,
            "--reference",
            "Công văn 678/UBND-NN",
            "--date",
            "2026-07-15",
        ],
    );
    assert!(ok, "{out}");
    let proposed = evaluation_client
        .get_result(authorized(GetResultRequest { name: result.clone() }, &officer))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(
        proposed.proposal.map(|p| (p.reference, p.date)),
        Some((
            "Công văn 678/UBND-NN".to_owned(),
            Some(Date {
                year: 2026,
                month: 7,
                day: 15
            })
        ))
    );

    // An ad-hoc inspection finds the criteria no longer met; the officer accepts the revocation.
    let (ok, out) = call(
        &vars,
        &officer,
        &[
            "create-inspection",
            &four.name,
            "--kind",
            "ad-hoc",
            "--date",
            "2026-08-01",
            "--inspector",
            "Văn phòng Điều phối NTM tỉnh Thanh Hóa",
            "--reason",
            "Phản ánh của người tiêu dùng",
        ],
    );
    assert!(ok, "{out}");
    let inspection = name_in(&out, "/inspections/");
    let (ok, out) = call(
        &vars,
        &officer,
        &[
            "record-inspection-outcome",
            &inspection,
            "--criteria",
            "non-compliant",
            "--mark-use",
            "compliant",
            "--product-information",
            "compliant",
            "--report",
            "Chỉ tiêu an toàn thực phẩm không đạt",
            "--conclusion-document",
            "Kết luận 15/KL-VPĐP",
            "--conclusion-date",
            "2026-08-05",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = call(
        &vars,
        &officer,
        &[
            "review-revocation-proposal",
            &inspection,
            "--accept",
            "--text",
            "Không duy trì tiêu chí",
            "--document",
            "Quyết định 99/QĐ-UBND",
        ],
    );
    assert!(ok, "{out}");
    let get = |name: &str| GetCertificateRequest { name: name.into() };
    let revoked = certification_client
        .get_certificate(authorized(get(&four.name), &officer))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(revoked.state(), CertificateState::Revoked);

    // Two certificates ending in 150 days: one re-rated, one revoked for misuse of the mark.
    let today = ocop_kit::date::today_vn();
    let (honey, tea) = (
        product(&mut registry_client, &officer, "2809990002", "Mật ong bạc hà").await,
        product(&mut registry_client, &officer, "2809990003", "Chè Shan tuyết").await,
    );
    let round = RoundPlan {
        date: (2023, 3, 1),
        ..RoundPlan::province_2026(1, 4)
    };
    let results = flows::evaluate(&env, &mut evaluation_client, &officer, &[&honey, &tea], round)
        .await
        .results;
    let issued = issued_for(today + time::Duration::days(150));
    let honey_cert = flows::certify(&mut certification_client, &officer, &results[0].name, issued).await;
    let tea_cert = flows::certify(&mut certification_client, &officer, &results[1].name, issued).await;
    let (ok, out) = call(
        &vars,
        &officer,
        &[
            "file-re-rating",
            &honey_cert.name,
            "--dossier-reference",
            "Tờ trình 12/TTr-UBND",
        ],
    );
    assert!(ok, "{out}");
    let application = certification_client
        .get_re_rating_application(authorized(
            GetReRatingApplicationRequest {
                name: format!("{}/reRating", honey_cert.name),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .re_rating_application
        .unwrap();
    assert_eq!(application.state(), ReRatingState::Filed);
    let today_text = today.to_string();
    let revoke = [
        "revoke",
        &tea_cert.name,
        "--ground",
        "mark-misuse",
        "--text",
        "Dùng nhãn OCOP cho sản phẩm khác",
        "--document",
        "Quyết định 100/QĐ-UBND",
        "--conclusion-document",
        "Kết luận 16/KL-QLTT",
        "--conclusion-date",
        &today_text,
    ];
    let (ok, out) = call(&vars, &officer, &revoke);
    assert!(ok, "{out}");
    let revoked = certification_client
        .get_certificate(authorized(get(&tea_cert.name), &officer))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(
        (
            revoked.state(),
            revoked.revocation.map(|r| (r.ground(), r.conclusion_document))
        ),
        (
            CertificateState::Revoked,
            Some((RevocationGround::MarkMisuse, "Kết luận 16/KL-QLTT".to_owned()))
        )
    );
    // A refusal prints its status and fails; a ground not in Điều 8.1 never leaves the CLI.
    let (ok, out) = call(&vars, &officer, &revoke);
    assert!(!ok && out.contains("FailedPrecondition"), "{out}");
    let mut bogus = revoke;
    bogus[3] = "dislike";
    let (ok, out) = call(&vars, &officer, &bogus);
    assert!(!ok && out.contains("invalid value 'dislike'"), "{out}");

    // The commune's report (Mẫu 03) on an entry of batch 2 of 2026.
    let rice = product(&mut registry_client, &officer, "2809990004", "Gạo Nàng Hương").await;
    let dossier = flows::file_dossier(&mut registry_client, &officer, &rice, (2026, 9, 7)).await;
    let round = EvaluationRound {
        level: RoundLevel::Province as i32,
        year: 2026,
        batch: 2,
        province_code: "38".into(),
        decision_date: Some(Date {
            year: 2026,
            month: 11,
            day: 20,
        }),
        council: [
            ("chu-tich", CouncilRole::Chair),
            ("uy-vien-1", CouncilRole::Member),
            ("thu-ky", CouncilRole::Secretary),
        ]
        .iter()
        .map(|(user, role)| CouncilMember {
            user: (*user).into(),
            role: *role as i32,
        })
        .collect(),
        ..Default::default()
    };
    let round = evaluation_client
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
    evaluation_client
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            &officer,
        ))
        .await
        .unwrap();
    let entry = evaluation_client
        .create_entry(authorized(
            CreateEntryRequest {
                parent: round.name.clone(),
                entry: Some(Entry {
                    product: rice.name.clone(),
                    product_dossier: dossier.name.clone(),
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
    let report = |token: &str| {
        call(
            &vars,
            token,
            &[
                "commune-report",
                &entry.name,
                "--local-materials",
                "Lúa trồng tại xã, 40 ha",
                "--local-labour",
                "12 lao động của xã",
                "--idea-origin",
                "Giống lúa địa phương",
                "--local-identity",
                "Cách xay xát truyền thống",
                "--date",
                "2026-09-28",
                "--proposal-reference",
                "Tờ trình 12/TTr-UBND",
                "--signed-by",
                "Chủ tịch UBND xã",
                "--sealed",
            ],
        )
    };
    let (ok, out) = report(&officer);
    assert!(
        !ok && out.contains("PermissionDenied"),
        "the province does not report: {out}"
    );
    let (ok, out) = report(&commune);
    assert!(ok, "{out}");
    let listed = evaluation_client
        .list_entries(authorized(
            ListEntriesRequest {
                parent: round.name.clone(),
                ..Default::default()
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let recorded = listed[0].commune_report.clone().unwrap();
    assert_eq!(
        (recorded.signed_by.as_str(), recorded.sealed, recorded.late),
        ("Chủ tịch UBND xã", true, false)
    );
}
