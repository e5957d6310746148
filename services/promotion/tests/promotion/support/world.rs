//! The four services on one database, and a product taken through the OCOP
//! cycle to a certificate, for the promotion tests.

use std::time::Duration;

use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{Certificate, IssueCertificateRequest};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::promotion::v1::{CatalogEntry, ListCatalogRequest};
use ocop_proto::registry::v1::Product;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use ocop_testkit::{TestApp, TestEnv, authorized, poll};
use tonic::transport::Channel;

pub(crate) fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

pub(crate) struct World {
    pub env: TestEnv,
    /// The four services (registry, evaluation, certification, promotion),
    /// kept running for as long as the world lives.
    pub apps: Vec<TestApp>,
    pub registry: RegistryServiceClient<Channel>,
    pub evaluation: EvaluationServiceClient<Channel>,
    pub certification: CertificationServiceClient<Channel>,
    pub promotion: PromotionServiceClient<Channel>,
    pub officer: String,
    products: u32,
}

pub(crate) async fn world() -> World {
    let mut env = TestEnv::new().await;
    let registry = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    env.config.services.registry.url = format!("http://{}", registry.grpc_addr);
    let evaluation = env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await;
    env.config.services.evaluation.url = format!("http://{}", evaluation.grpc_addr);
    let certification = env.spawn(ocop_certification::spec(), ocop_certification::routes).await;
    env.config.services.certification.url = format!("http://{}", certification.grpc_addr);
    let promotion = env.spawn(ocop_promotion::spec(), ocop_promotion::routes).await;
    World {
        officer: env.token("province_officer", Some("38"), None),
        registry: RegistryServiceClient::new(registry.channel().await),
        evaluation: EvaluationServiceClient::new(evaluation.channel().await),
        certification: CertificationServiceClient::new(certification.channel().await),
        promotion: PromotionServiceClient::new(promotion.channel().await),
        env,
        apps: vec![registry, evaluation, certification, promotion],
        products: 0,
    }
}

impl World {
    /// A product of a new producer in commune 14758.
    pub(crate) async fn product(&mut self, name: &str) -> Product {
        self.products += 1;
        let registration = format!("28{:08}", self.products);
        let new = NewProduct {
            commune: "14758",
            registration: &registration,
            name,
            subgroup: "rau-cu-qua-hat-tuoi",
        };
        let officer = self.officer.clone();
        flows::product(&mut self.registry, &officer, new).await.1
    }

    /// `product` through a round of `plan` to a certificate decided on `decision`.
    pub(crate) async fn certify(&mut self, product: &Product, plan: RoundPlan, decision: Option<Date>) -> Certificate {
        let officer = self.officer.clone();
        let evaluated = flows::evaluate(&self.env, &mut self.evaluation, &officer, &[product], plan).await;
        self.certification
            .issue_certificate(authorized(
                IssueCertificateRequest {
                    result: evaluated.results[0].name.clone(),
                    decision_date: decision,
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .certificate
            .unwrap()
    }

    /// One page of the catalog.
    pub(crate) async fn catalog(&mut self, filter: &str, query: &str) -> Vec<CatalogEntry> {
        catalog(&mut self.promotion, filter, query).await
    }

    /// Polls the catalog until `done` holds (the feeds are asynchronous).
    pub(crate) async fn until(&mut self, what: &str, done: impl Fn(&[CatalogEntry]) -> bool) -> Vec<CatalogEntry> {
        let (promotion, done) = (self.promotion.clone(), &done);
        poll::until_ok(what, Duration::from_secs(15), || {
            let mut promotion = promotion.clone();
            async move {
                let entries = catalog(&mut promotion, "", "").await;
                if done(&entries) { Ok(entries) } else { Err(entries) }
            }
        })
        .await
    }
}

async fn catalog(promotion: &mut PromotionServiceClient<Channel>, filter: &str, query: &str) -> Vec<CatalogEntry> {
    promotion
        .list_catalog(ListCatalogRequest {
            filter: filter.into(),
            query: query.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
}
