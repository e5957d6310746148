//! Issue 7's federation with every deployment as processes, each with its own
//! database, keys and Redis prefix: a national deployment mirrors three
//! provinces through an outage of one of them, and a province's nomination
//! becomes a national 5-star certificate that the province sees in its own
//! catalog.

use std::path::PathBuf;
use std::time::Duration;

use ocop_e2e::{Process, connect, eventually, free_addr, http_get};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{
    CertificateState, CreateInspectionRequest, GetCertificateRequest, Inspection, InspectionKind,
    IssueCertificateRequest, ListInspectionsRequest, RevocationGround, RevokeCertificateRequest, Verification,
    VerificationStatus, VerifyCertificateRequest,
};
use ocop_proto::evaluation::v1::ListNominationsRequest;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::promotion::v1::{FeedLag, GetStatisticsRequest, ListCatalogRequest, Statistics};
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    CreateSubjectRequest, GetSubjectRequest, Representative, SearchProductsRequest, Subject, SubjectKind,
    UpdateSubjectRequest,
};
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use ocop_testkit::{TestApp, TestEnv, authorized, poll};
use sqlx::PgPool;
use tonic::transport::Channel;

/// One province's deployment.
struct Province {
    code: &'static str,
    commune: &'static str,
    env: TestEnv,
    registry: Process,
    evaluation: Process,
    certification: Process,
}

impl Province {
    /// Starts the registry, evaluation and certification services of
    /// province `code`; with `national`, its certification follows the
    /// national certification feed at that address.
    async fn start(code: &'static str, commune: &'static str, national: Option<(&TestEnv, &str)>) -> Province {
        let env = TestEnv::new().await;
        let province = [("OCOP_DEPLOYMENT__PROVINCE_CODE", code)];
        // Below the ephemeral range: Huế's restarts on this port while other tests run.
        let registry = Process::start_on("registry", &env, &province, &free_addr());
        let registry_url = registry.url();
        let evaluation = Process::start(
            "evaluation",
            &env,
            &[province[0], ("OCOP_SERVICES__REGISTRY__URL", &registry_url)],
        );
        let evaluation_url = evaluation.url();
        let mut vars = vec![
            province[0],
            ("OCOP_SERVICES__REGISTRY__URL", registry_url.as_str()),
            ("OCOP_SERVICES__EVALUATION__URL", evaluation_url.as_str()),
        ];
        let config;
        if let Some((national_env, certification_addr)) = national {
            let token = env.dir.join("national.jwt");
            std::fs::write(
                &token,
                national_env.signer.issue(code, "service", None, None, 3600).unwrap(),
            )
            .unwrap();
            config = env.dir.join("province.toml");
            std::fs::write(
                &config,
                format!(
                    "[federation.national]\ncertification_url = \"http://{certification_addr}\"\ntoken_path = \"{}\"\n",
                    token.display()
                ),
            )
            .unwrap();
            vars.push(("OCOP_CONFIG", config.to_str().unwrap()));
        }
        let certification = Process::start("certification", &env, &vars);
        for process in [&registry, &evaluation, &certification] {
            TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(60)).await;
        }
        Province {
            code,
            commune,
            env,
            registry,
            evaluation,
            certification,
        }
    }

    fn officer(&self) -> String {
        self.env.token("province_officer", Some(self.code), None)
    }
}

/// The national deployment's four services.
struct National {
    env: TestEnv,
    registry: Process,
    evaluation: Process,
    certification: Process,
    promotion: Process,
}

impl National {
    /// Writes a configuration that follows `provinces` (with a `service`
    /// token each province issued) and starts the four services, certification
    /// on `certification_addr`.
    async fn start(env: TestEnv, provinces: &[&Province], certification_addr: &str) -> National {
        let mut toml = String::from("[deployment]\nrole = \"national\"\n");
        for p in provinces {
            let token = env.dir.join(format!("{}.jwt", p.code));
            std::fs::write(
                &token,
                p.env.signer.issue("national", "service", None, None, 3600).unwrap(),
            )
            .unwrap();
            toml += &format!(
                "\n[[federation.provinces]]\nprovince_code = \"{}\"\nregistry_url = \"{}\"\nevaluation_url = \"{}\"\ncertification_url = \"{}\"\ntoken_path = \"{}\"\n",
                p.code,
                p.registry.url(),
                p.evaluation.url(),
                p.certification.url(),
                token.display()
            );
        }
        let config: PathBuf = env.dir.join("national.toml");
        std::fs::write(&config, toml).unwrap();
        let config = config.to_str().unwrap().to_owned();
        let registry = Process::start("registry", &env, &[("OCOP_CONFIG", &config)]);
        let registry_url = registry.url();
        let evaluation = Process::start(
            "evaluation",
            &env,
            &[
                ("OCOP_CONFIG", &config),
                ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ],
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
        let certification_url = certification.url();
        let promotion = Process::start(
            "promotion",
            &env,
            &[
                ("OCOP_CONFIG", &config),
                ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
                ("OCOP_SERVICES__CERTIFICATION__URL", &certification_url),
            ],
        );
        for process in [&registry, &evaluation, &certification, &promotion] {
            TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(60)).await;
        }
        National {
            env,
            registry,
            evaluation,
            certification,
            promotion,
        }
    }

    fn officer(&self) -> String {
        self.env.token("national_officer", None, None)
    }
}

fn subject(code: &str, commune: &str, i: usize) -> CreateSubjectRequest {
    CreateSubjectRequest {
        subject: Some(Subject {
            kind: SubjectKind::Cooperative as i32,
            legal_name: format!("Hợp tác xã {code} số {i}"),
            registration_number: format!("{code}{i:08}"),
            representative: Some(Representative {
                full_name: "Lê Thị Hoa".into(),
                ..Default::default()
            }),
            commune_code: commune.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Creates subjects `range` in province `code` through the registry at
/// `url`; stops at the first failure (the registry was killed) and says how
/// many it created.
async fn write(
    url: String,
    token: String,
    code: &'static str,
    commune: &'static str,
    range: std::ops::Range<usize>,
) -> usize {
    let Ok(mut registry) = RegistryServiceClient::connect(url).await else {
        return 0;
    };
    let mut written = 0;
    for i in range {
        if registry
            .create_subject(authorized(subject(code, commune, i), &token))
            .await
            .is_err()
        {
            break;
        }
        written += 1;
    }
    written
}

impl Province {
    async fn write(&self, range: std::ops::Range<usize>) -> usize {
        write(self.registry.url(), self.officer(), self.code, self.commune, range).await
    }
}

/// Row count and checksum of what the national registry mirrors of `origin`.
async fn mirrored(national: &PgPool, origin: &str) -> (i64, String) {
    sqlx::query_as(
        "SELECT count(*), COALESCE(md5(string_agg(resource || ':' || md5(payload), ',' ORDER BY resource)), '')
         FROM registry.mirrored WHERE origin = $1",
    )
    .bind(origin)
    .fetch_one(national)
    .await
    .unwrap()
}

/// The same over the province's own feed: each producer's and product's
/// latest state, as its registry published it.
async fn published(province: &PgPool) -> (i64, String) {
    sqlx::query_as(
        "SELECT count(*), COALESCE(md5(string_agg(resource || ':' || md5(payload), ',' ORDER BY resource)), '')
         FROM (SELECT DISTINCT ON (resource) resource, payload FROM registry.outbox
               WHERE position IS NOT NULL ORDER BY resource, position DESC) latest
         WHERE resource ~ '^subjects/[^/]+(/products/[^/]+)?$'",
    )
    .fetch_one(province)
    .await
    .unwrap()
}

/// Waits (up to 30 s) until the national mirror of `province` equals what
/// the province published, and returns the count.
async fn converged(national: &PgPool, province: &Province) -> i64 {
    let own = PgPool::connect(&province.env.config.database.url).await.unwrap();
    let what = format!(
        "the national mirror of province {} to equal what it published",
        province.code
    );
    let count = poll::until_ok(&what, Duration::from_secs(30), || async {
        let (theirs, ours) = (published(&own).await, mirrored(national, province.code).await);
        if theirs == ours {
            Ok(theirs.0)
        } else {
            Err(format!("published {theirs:?}, national mirror {ours:?}"))
        }
    })
    .await;
    let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM registry.subjects")
        .fetch_one(&own)
        .await
        .unwrap();
    assert_eq!(count, registered, "every producer of {} is published", province.code);
    count
}

#[tokio::test]
async fn the_national_mirror_survives_a_province_outage_without_gaps_or_duplicates() {
    let mut provinces = vec![
        Province::start("38", "14758", None).await,
        Province::start("46", "19753", None).await,
        Province::start("48", "20194", None).await,
    ];
    for p in &provinces {
        assert_eq!(p.write(0..30).await, 30);
    }
    let national = National::start(
        TestEnv::new().await,
        &provinces.iter().collect::<Vec<_>>(),
        &free_addr(),
    )
    .await;
    let db = PgPool::connect(&national.env.config.database.url).await.unwrap();
    for p in &provinces {
        assert_eq!(converged(&db, p).await, 30);
    }
    let statistics = PromotionServiceClient::new(connect(&national.promotion).await);

    // Huế writes on, and its registry is killed while the national deployment follows.
    let hue = &provinces[1];
    let writer = tokio::spawn(write(hue.registry.url(), hue.officer(), "46", "19753", 30..2000));
    poll::until(
        "the national deployment to see Huế's new producers",
        Duration::from_secs(20),
        || async { (mirrored(&db, "46").await.0 >= 60).then_some(()) },
    )
    .await;
    let hue_addr = hue.registry.grpc_addr.to_string();
    provinces[1].registry.kill();
    let acknowledged = 30 + writer.await.unwrap();
    assert!(acknowledged < 2000, "the kill landed while Huế was still writing");
    // The create in flight at the kill may have committed without an answer:
    // count what the province holds.
    let hue_db = PgPool::connect(&provinces[1].env.config.database.url).await.unwrap();
    let before_outage: usize = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM registry.subjects")
        .fetch_one(&hue_db)
        .await
        .unwrap() as usize;
    assert!((acknowledged..=acknowledged + 1).contains(&before_outage));

    // The outage: Huế keeps registering (its registry back on an address the
    // national deployment does not know); the national deployment serves what it has.
    let hue = &provinces[1];
    let elsewhere = Process::start("registry", &hue.env, &[("OCOP_DEPLOYMENT__PROVINCE_CODE", "46")]);
    TestApp::wait_serving_at(elsewhere.grpc_addr, Duration::from_secs(60)).await;
    let during = write(
        elsewhere.url(),
        hue.officer(),
        "46",
        "19753",
        before_outage..before_outage + 50,
    )
    .await;
    assert_eq!(during, 50);
    let mut national_registry = RegistryServiceClient::new(connect(&national.registry).await);
    let some_hue_producer: String =
        sqlx::query_scalar("SELECT min(resource) FROM registry.mirrored WHERE origin = '46'")
            .fetch_one(&db)
            .await
            .unwrap();
    let still = national_registry
        .get_subject(authorized(
            GetSubjectRequest {
                name: some_hue_producer.clone(),
            },
            &national.officer(),
        ))
        .await
        .expect("the national deployment still answers for Huế's producers")
        .into_inner()
        .subject
        .unwrap();
    assert_eq!(still.name, some_hue_producer);
    // Writes to a mirrored producer are refused nationally: a national
    // officer may not write producers at all, and even a Huế officer's token
    // at the national deployment meets a read-only mirror.
    let rename = || UpdateSubjectRequest {
        subject: Some(Subject {
            legal_name: "Đổi tên".into(),
            ..still.clone()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["legal_name".into()],
        }),
    };
    let refused = national_registry
        .update_subject(authorized(rename(), &national.officer()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let hue_officer_here = national.env.token("province_officer", Some("46"), None);
    let refused = national_registry
        .update_subject(authorized(rename(), &hue_officer_here))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("province 46"), "{}", refused.message());
    let lag = poll::until_ok("Huế to show as disconnected", Duration::from_secs(15), || {
        let mut statistics = statistics.clone();
        async move {
            let stats = statistics
                .get_statistics(GetStatisticsRequest {
                    province_code: "46".into(),
                    year: 0,
                })
                .await
                .unwrap()
                .into_inner()
                .statistics
                .unwrap();
            let lag = lag_of(&stats, "46/registry");
            if lag.connected { Err(lag) } else { Ok(lag) }
        }
    })
    .await;
    assert!(lag.sequence > 0 && lag.last_contact_time.is_some(), "{lag:?}");
    let metrics = http_get(national.promotion.http_addr, "/metrics").await;
    assert!(
        metrics.contains("ocop_feed_connected{source=\"46/registry\"} 0"),
        "the metric shows Huế's feed down:\n{metrics}"
    );
    elsewhere.terminate();
    drop(elsewhere);

    // Huế comes back where the national deployment expects it, and is caught up.
    provinces[1].registry = Process::start_on(
        "registry",
        &provinces[1].env,
        &[("OCOP_DEPLOYMENT__PROVINCE_CODE", "46")],
        &hue_addr,
    );
    assert_eq!(converged(&db, &provinces[1]).await as usize, before_outage + 50);
    for p in [&provinces[0], &provinces[2]] {
        assert_eq!(converged(&db, p).await, 30, "the other provinces are untouched");
    }
    let last: i64 = sqlx::query_scalar("SELECT max(position) FROM registry.outbox")
        .fetch_one(&hue_db)
        .await
        .unwrap();
    let lag = eventually("the statistics show Huế connected and caught up", || {
        let mut client = statistics.clone();
        async move {
            let stats = client
                .get_statistics(GetStatisticsRequest {
                    province_code: "46".into(),
                    year: 0,
                })
                .await
                .unwrap()
                .into_inner()
                .statistics
                .unwrap();
            let lag = lag_of(&stats, "46/registry");
            (lag.connected && lag.sequence == last).then_some(lag)
        }
    })
    .await;
    assert!(lag.last_contact_time.is_some());
}

/// Waits until `code` verifies as VALID at `certification`.
async fn valid(certification: &CertificationServiceClient<Channel>, code: &str, what: &str) -> Verification {
    verified_as(certification, code, VerificationStatus::Valid, what).await
}

/// Waits until `code` verifies as `status` at `certification`.
async fn verified_as(
    certification: &CertificationServiceClient<Channel>,
    code: &str,
    status: VerificationStatus,
    what: &str,
) -> Verification {
    eventually(what, || {
        let (mut client, code) = (certification.clone(), code.to_owned());
        async move {
            let request = VerifyCertificateRequest { code };
            let v = client
                .verify_certificate(request)
                .await
                .unwrap()
                .into_inner()
                .verification
                .unwrap();
            (v.status() == status).then_some(v)
        }
    })
    .await
}

/// The lag shown for `source`.
fn lag_of(stats: &Statistics, source: &str) -> FeedLag {
    let found = stats.feeds.iter().find(|f| f.source == source);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no lag shown for {source}: {stats:?}"))
}

#[tokio::test]
async fn a_nomination_becomes_a_national_five_star_certificate_in_its_province() {
    let national_env = TestEnv::new().await;
    let national_certification = free_addr();
    let thanh_hoa = Province::start("38", "14758", Some((&national_env, &national_certification))).await;
    let national = National::start(national_env, &[&thanh_hoa], &national_certification).await;
    let promotion = Process::start(
        "promotion",
        &thanh_hoa.env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &thanh_hoa.registry.url()),
            ("OCOP_SERVICES__CERTIFICATION__URL", &thanh_hoa.certification.url()),
        ],
    );

    // Thanh Hóa: a product scores 90+ in its 2026 round, gets 4 stars there and is nominated.
    let officer = thanh_hoa.officer();
    let mut registry = RegistryServiceClient::new(connect(&thanh_hoa.registry).await);
    let mut evaluation = EvaluationServiceClient::new(connect(&thanh_hoa.evaluation).await);
    let mut certification = CertificationServiceClient::new(connect(&thanh_hoa.certification).await);
    let new = NewProduct {
        commune: "14758",
        registration: "2809998887",
        name: "Mắm tép Hà Trung",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (_, product) = flows::product(&mut registry, &officer, new).await;
    let provincial = flows::evaluate(
        &thanh_hoa.env,
        &mut evaluation,
        &officer,
        &[&product],
        RoundPlan::province_2026(1, 5),
    )
    .await;
    let result = &provincial.results[0];
    assert!(result.nominated, "{result:?}");
    let four = flows::certify(&mut certification, &officer, &result.name, (2026, 6, 15)).await;
    assert_eq!(four.stars, 4);
    // Thanh Hóa inspects it (Điều 9); the national deployment sees the inspection.
    let inspection = certification
        .create_inspection(authorized(
            CreateInspectionRequest {
                parent: four.name.clone(),
                inspection: Some(Inspection {
                    kind: InspectionKind::Periodic as i32,
                    inspection_date: four.issue_date,
                    inspector: "Văn phòng Điều phối NTM tỉnh Thanh Hóa".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .inspection
        .unwrap();

    // Nationally: the nomination waits in the queue, and Thanh Hóa's certificate verifies.
    let ministry = national.officer();
    let mut national_evaluation = EvaluationServiceClient::new(connect(&national.evaluation).await);
    let mut national_certification = CertificationServiceClient::new(connect(&national.certification).await);
    let nominations = eventually("the nomination reaches the national queue", || {
        let mut client = national_evaluation.clone();
        let token = ministry.clone();
        async move {
            let page = client
                .list_nominations(authorized(ListNominationsRequest::default(), &token))
                .await
                .unwrap()
                .into_inner();
            (!page.results.is_empty()).then_some(page.results)
        }
    })
    .await;
    assert_eq!(nominations[0].name, result.name);
    assert_eq!(nominations[0].product, product.name);
    let verified = valid(
        &national_certification,
        &four.code,
        "the national deployment verifies Thanh Hóa's",
    )
    .await;
    assert_eq!((verified.stars, verified.province_code.as_str()), (4, "38"));

    // National search covers the provinces' products, diacritics ignored.
    let mut national_registry = RegistryServiceClient::new(connect(&national.registry).await);
    let found = eventually("national search finds the product", || {
        let mut client = national_registry.clone();
        let token = ministry.clone();
        async move {
            let request = SearchProductsRequest {
                query: "mam tep ha".into(),
                filter: "province_code = \"38\"".into(),
                ..Default::default()
            };
            let page = client
                .search_products(authorized(request, &token))
                .await
                .unwrap()
                .into_inner();
            page.products.into_iter().next()
        }
    })
    .await;
    assert_eq!(found.name, product.name);
    let short = national_registry
        .search_products(authorized(
            SearchProductsRequest {
                query: "m".into(),
                ..Default::default()
            },
            &ministry,
        ))
        .await
        .unwrap_err();
    assert_eq!(short.code(), tonic::Code::InvalidArgument, "{short:?}");

    // The central round scores the mirrored product; the ministry issues 5 stars.
    let central = flows::evaluate(
        &national.env,
        &mut national_evaluation,
        &ministry,
        &[&product],
        RoundPlan::central_2026(1),
    )
    .await;
    let five = flows::certify(
        &mut national_certification,
        &ministry,
        &central.results[0].name,
        (2026, 9, 15),
    )
    .await;
    assert_eq!((five.stars, five.province_code.as_str()), (5, "38"));
    let queue = national_evaluation
        .list_nominations(authorized(ListNominationsRequest::default(), &ministry))
        .await
        .unwrap()
        .into_inner();
    assert!(
        queue.results.is_empty(),
        "entered centrally, it left the queue: {queue:?}"
    );
    assert!(five.code.starts_with("TW-"), "{}", five.code);

    // Thanh Hóa verifies it and lists it in its own catalog.
    let seen = valid(&certification, &five.code, "Thanh Hóa verifies the national one").await;
    assert_eq!(seen.stars, 5);
    // One certificate in force per product: the national one supersedes
    // Thanh Hóa's 4 stars, there and nationally, and each names it.
    for (client, whose) in [(&certification, "Thanh Hóa"), (&national_certification, "the ministry")] {
        let old = verified_as(
            client,
            &four.code,
            VerificationStatus::Superseded,
            &format!("{whose} sees the 4 stars superseded"),
        )
        .await;
        assert_eq!(old.superseded_by_code, five.code, "{whose}");
    }
    let old = certification
        .get_certificate(authorized(
            GetCertificateRequest {
                name: four.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(
        (old.state(), old.superseded_by.as_str()),
        (CertificateState::Superseded, five.name.as_str())
    );
    let page = http_get(thanh_hoa.certification.http_addr, &format!("/verify/{}", four.code)).await;
    assert!(
        page.contains("data-state=\"superseded\"") && page.contains(&format!("<a href=\"{0}\">{0}</a>", five.code)),
        "{page}"
    );
    // While the ministry's 5 stars are in force, Thanh Hóa certifies the product no more.
    let again = flows::evaluate(
        &thanh_hoa.env,
        &mut evaluation,
        &officer,
        &[&product],
        RoundPlan::province_2026(2, 4),
    )
    .await;
    let refused = certification
        .issue_certificate(authorized(
            IssueCertificateRequest {
                result: again.results[0].name.clone(),
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
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains(&five.name), "{}", refused.message());
    let catalog = PromotionServiceClient::new(connect(&promotion).await);
    let listed = eventually("Thanh Hóa's catalog lists the 5 stars", || {
        let mut client = catalog.clone();
        let code = five.code.clone();
        async move {
            let page = client
                .list_catalog(ListCatalogRequest::default())
                .await
                .unwrap()
                .into_inner();
            page.entries.into_iter().find(|e| e.code == code)
        }
    })
    .await;
    assert_eq!(listed.stars, 5);

    // Each side revokes only its own: the other's certificate is a read-only mirror.
    let revoke = |c: &ocop_proto::certification::v1::Certificate| RevokeCertificateRequest {
        name: c.name.clone(),
        etag: c.etag.clone(),
        ground: RevocationGround::LawViolation as i32,
        text: "Vi phạm an toàn thực phẩm".into(),
        document: "Quyết định 77/QĐ-UBND".into(),
        conclusion_document: "Kết luận 5/KL-CCATTP".into(),
        conclusion_date: c.issue_date,
        ..Default::default()
    };
    let refused = national_certification
        .revoke_certificate(authorized(revoke(&four), &ministry))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    let refused = certification
        .revoke_certificate(authorized(revoke(&five), &officer))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("national deployment"),
        "{}",
        refused.message()
    );
    // Nominations are filtered as on a province, and a bad filter says why.
    let bad = national_evaluation
        .list_nominations(authorized(
            ListNominationsRequest {
                filter: "stars = 5".into(),
                ..Default::default()
            },
            &ministry,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    let elsewhere = national_evaluation
        .list_nominations(authorized(
            ListNominationsRequest {
                filter: "province_code = \"46\"".into(),
                ..Default::default()
            },
            &ministry,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(elsewhere.results.is_empty(), "{elsewhere:?}");
    // And the national catalog lists the product once: its 5 stars.
    let national_catalog = PromotionServiceClient::new(connect(&national.promotion).await);
    eventually("the national catalog lists the 5 stars only", || {
        let mut client = national_catalog.clone();
        let (four, five) = (four.code.clone(), five.code.clone());
        async move {
            let page = client
                .list_catalog(ListCatalogRequest::default())
                .await
                .unwrap()
                .into_inner();
            let listed = |code: &str| page.entries.iter().any(|e| e.code == code);
            (listed(&five) && !listed(&four)).then_some(())
        }
    })
    .await;
    // The national deployment sees the province's inspection.
    let seen = eventually("the national deployment sees Thanh Hóa's inspection", || {
        let mut client = national_certification.clone();
        let token = ministry.clone();
        async move {
            let page = client
                .list_inspections(authorized(
                    ListInspectionsRequest {
                        parent: "certificates/-".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            page.inspections.into_iter().next()
        }
    })
    .await;
    assert_eq!(seen, inspection);
    // Thanh Hóa's feed passes the 5 stars on; the national deployment, which
    // issued them, does not mirror them back from it.
    let province_db = PgPool::connect(&thanh_hoa.env.config.database.url).await.unwrap();
    let national_db = PgPool::connect(&national.env.config.database.url).await.unwrap();
    let passed_on: i64 = sqlx::query_scalar("SELECT max(position) FROM certification.outbox WHERE resource = $1")
        .bind(&five.name)
        .fetch_one(&province_db)
        .await
        .unwrap();
    eventually(
        "the national deployment follows Thanh Hóa's certification feed past it",
        || {
            let db = national_db.clone();
            async move {
                let at: Option<i64> = sqlx::query_scalar(
                    "SELECT sequence FROM certification.feed_cursors WHERE source = '38/certification'",
                )
                .fetch_optional(&db)
                .await
                .unwrap();
                at.filter(|at| *at >= passed_on)
            }
        },
    )
    .await;
    let echoed: i64 = sqlx::query_scalar("SELECT count(*) FROM certification.mirrored WHERE resource = $1")
        .bind(&five.name)
        .fetch_one(&national_db)
        .await
        .unwrap();
    assert_eq!(echoed, 0);

    // The ministry revokes its 5 stars (Điều 8.2.b), and Thanh Hóa sees it.
    let revoked = national_certification
        .revoke_certificate(authorized(revoke(&five), &ministry))
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(revoked.revocation.unwrap().ground(), RevocationGround::LawViolation);
    verified_as(
        &certification,
        &five.code,
        VerificationStatus::Revoked,
        "Thanh Hóa sees the 5 stars revoked",
    )
    .await;
}
