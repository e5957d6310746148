//! The registry, evaluation and certification services on one database, and
//! the steps certification tests share.

use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::*;
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::EvaluationResult;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::registry::v1::Product;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, RoundPlan};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub(crate) fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

pub(crate) fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub(crate) fn day(year: i32, month: u8, day: u8) -> Option<Date> {
    Some(Date {
        year,
        month: month.into(),
        day: day.into(),
    })
}

pub(crate) fn from_date(d: time::Date) -> Option<Date> {
    day(d.year(), d.month() as u8, d.day())
}

pub(crate) struct World {
    pub env: TestEnv,
    pub apps: Vec<TestApp>,
    pub registry: RegistryServiceClient<Channel>,
    pub evaluation: EvaluationServiceClient<Channel>,
    pub certification: CertificationServiceClient<Channel>,
    pub officer: String,
    /// The certification service's HTTP address (the verify page).
    pub http: std::net::SocketAddr,
    products: u32,
}

pub(crate) async fn world() -> World {
    world_with(|_| {}).await
}

pub(crate) async fn world_with(edit: impl FnOnce(&mut ocop_kit::config::Config)) -> World {
    world_built(edit, ocop_certification::routes).await
}

/// A world whose certification service is built by `routes` (one on a fixed day, say).
pub(crate) async fn world_built(
    edit: impl FnOnce(&mut ocop_kit::config::Config),
    routes: ocop_kit::server::Build,
) -> World {
    let mut env = TestEnv::new().await;
    edit(&mut env.config);
    let registry = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    env.config.services.registry.url = format!("http://{}", registry.grpc_addr);
    let evaluation = env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await;
    env.config.services.evaluation.url = format!("http://{}", evaluation.grpc_addr);
    let certification = env.spawn(ocop_certification::spec(), routes).await;
    World {
        officer: env.token("province_officer", Some("38"), None),
        registry: RegistryServiceClient::new(registry.channel().await),
        evaluation: EvaluationServiceClient::new(evaluation.channel().await),
        certification: CertificationServiceClient::new(certification.channel().await),
        http: certification.http_addr,
        env,
        apps: vec![registry, evaluation, certification],
        products: 0,
    }
}

impl World {
    /// A new product of a new producer in commune 14758 of province 38.
    pub(crate) async fn product(&mut self, name: &str) -> Product {
        self.products += 1;
        let registration = format!("28{:08}", self.products);
        let officer = self.officer.clone();
        let new = flows::NewProduct {
            commune: "14758",
            registration: &registration,
            name,
            subgroup: "rau-cu-qua-hat-tuoi",
        };
        flows::product(&mut self.registry, &officer, new).await.1
    }

    /// Runs `plan` on `products` and returns their results.
    pub(crate) async fn results(&mut self, products: &[&Product], plan: RoundPlan) -> Vec<EvaluationResult> {
        let officer = self.officer.clone();
        flows::evaluate(&self.env, &mut self.evaluation, &officer, products, plan)
            .await
            .results
    }

    /// IssueCertificate as the province officer.
    pub(crate) async fn issue(&mut self, request: IssueCertificateRequest) -> Result<Certificate, tonic::Status> {
        let officer = self.officer.clone();
        self.issue_as(request, &officer).await
    }

    /// IssueCertificate with `token`.
    pub(crate) async fn issue_as(
        &mut self,
        request: IssueCertificateRequest,
        token: &str,
    ) -> Result<Certificate, tonic::Status> {
        self.certification
            .issue_certificate(authorized(request, token))
            .await
            .map(|r| r.into_inner().certificate.unwrap())
    }

    /// VerifyCertificate, with no token.
    pub(crate) async fn verify(&mut self, code: &str) -> Result<Verification, tonic::Status> {
        self.certification
            .verify_certificate(VerifyCertificateRequest { code: code.into() })
            .await
            .map(|r| r.into_inner().verification.unwrap())
    }

    /// GetCertificate.
    pub(crate) async fn get(&mut self, name: &str) -> Certificate {
        let officer = self.officer.clone();
        self.certification
            .get_certificate(authorized(GetCertificateRequest { name: name.into() }, &officer))
            .await
            .unwrap()
            .into_inner()
            .certificate
            .unwrap()
    }

    /// The kinds of a certificate's history events.
    pub(crate) async fn history(&mut self, name: &str) -> Vec<String> {
        let officer = self.officer.clone();
        self.certification
            .get_certificate_history(authorized(GetCertificateHistoryRequest { name: name.into() }, &officer))
            .await
            .unwrap()
            .into_inner()
            .events
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// What the certification schema holds, table by table: a refusal changes none of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    pub certificates: i64,
    pub versions: i64,
    pub history: i64,
    pub audit: i64,
    pub outbox: i64,
    pub re_ratings: i64,
    pub inspections: i64,
    pub request_ids: i64,
}

impl World {
    /// A pool on the test's database (every schema).
    pub(crate) async fn db(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.env.config.database.url).await.unwrap()
    }

    /// Counts of what the certification schema holds.
    pub(crate) async fn written(&self) -> Written {
        let db = self.db().await;
        let row: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM certification.certificates),
                    (SELECT COALESCE(sum(version), 0)::bigint FROM certification.certificates),
                    (SELECT count(*) FROM certification.certificate_events),
                    (SELECT count(*) FROM certification.audit_events),
                    (SELECT count(*) FROM certification.outbox),
                    (SELECT COALESCE(sum(version), 0)::bigint FROM certification.re_ratings),
                    (SELECT COALESCE(sum(version), 0)::bigint FROM certification.inspections),
                    (SELECT count(*) FROM certification.request_ids)",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        db.close().await;
        Written {
            certificates: row.0,
            versions: row.1,
            history: row.2,
            audit: row.3,
            outbox: row.4,
            re_ratings: row.5,
            inspections: row.6,
            request_ids: row.7,
        }
    }

    /// The certification feed's rows, as (resource, change), in order.
    pub(crate) async fn outbox(&self) -> Vec<(String, String)> {
        let db = self.db().await;
        let rows = sqlx::query_as("SELECT resource, change FROM certification.outbox ORDER BY sequence")
            .fetch_all(&db)
            .await
            .unwrap();
        db.close().await;
        rows
    }

    /// Starts another certification service on this world's database and
    /// services, built by `routes` (one on another day, say), and its client.
    pub(crate) async fn another(
        &self,
        routes: ocop_kit::server::Build,
    ) -> (TestApp, CertificationServiceClient<Channel>) {
        let app = self.env.spawn(ocop_certification::spec(), routes).await;
        let client = CertificationServiceClient::new(app.channel().await);
        (app, client)
    }
}

/// The ErrorInfo metadata of a status.
pub(crate) fn metadata(status: &tonic::Status) -> std::collections::HashMap<String, String> {
    status.get_details_error_info().map(|i| i.metadata).unwrap_or_default()
}

/// An issue request for `result`, decided and issued on `decision`.
pub(crate) fn issue_request(result: &str, decision: Option<Date>) -> IssueCertificateRequest {
    IssueCertificateRequest {
        result: result.into(),
        decision_date: decision,
        ..Default::default()
    }
}
