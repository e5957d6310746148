//! The gRPC adapter of the certification service.

use std::sync::Arc;

use ocop_kit::ErrorKind;
use ocop_kit::auth::Principal;
use ocop_kit::cache::Cache;
use ocop_kit::client::{TracedChannel, bearer_of};
use ocop_kit::date::today_vn;
use ocop_proto::certification::v1::certification_service_server::CertificationService;
use ocop_proto::certification::v1::*;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::keys::{self, Keys};
use crate::verify::{self, Limiter};
use crate::{issue, revoke, store};

/// Implements `ocop.certification.v1.CertificationService` (and serves the verify page).
#[derive(Clone)]
pub struct Certification {
    /// The certification schema's pool.
    pub db: PgPool,
    /// Verifications by code.
    pub cache: Cache,
    /// Where results come from.
    pub evaluation: EvaluationServiceClient<TracedChannel>,
    /// Where product, producer and unit names come from.
    pub registry: RegistryServiceClient<TracedChannel>,
    /// This deployment's signing key.
    pub keys: Arc<Keys>,
    /// Verifications per client address.
    pub limiter: Arc<Limiter>,
    /// Base URL of the verify page, for QR payloads.
    pub public_url: String,
    /// A national deployment (issues 5 stars only).
    pub national: bool,
    /// Whether it keeps other deployments' certificates (national, or a
    /// province following the national feed): only then does a code unknown
    /// here cost a look in `mirrored`.
    pub mirrors: bool,
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl CertificationService for Certification {
    async fn issue_certificate(&self, request: Request<IssueCertificateRequest>) -> Reply<IssueCertificateResponse> {
        let who = Principal::from_request(&request)?;
        let bearer = bearer_of(&request);
        let certificate = issue::issue(self, &who, &bearer, request.get_ref()).await?;
        Ok(Response::new(IssueCertificateResponse {
            certificate: Some(certificate),
        }))
    }

    async fn get_certificate(&self, request: Request<GetCertificateRequest>) -> Reply<GetCertificateResponse> {
        Principal::from_request(&request)?;
        let name = &request.get_ref().name;
        let certificate = match store::get(&self.db, name).await {
            Ok(row) => row.to_proto(&self.public_url, today_vn()),
            // Another deployment's, mirrored here.
            Err(e) if e.kind() == ErrorKind::NotFound => ocop_kit::mirror::find(&self.db, name).await?.ok_or(e)?,
            Err(e) => return Err(e.into()),
        };
        Ok(Response::new(GetCertificateResponse {
            certificate: Some(certificate),
        }))
    }

    async fn list_certificates(&self, request: Request<ListCertificatesRequest>) -> Reply<ListCertificatesResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (rows, next_page_token) = store::list(&self.db, r.page_size, &r.page_token, &r.filter).await?;
        let today = today_vn();
        Ok(Response::new(ListCertificatesResponse {
            certificates: rows.iter().map(|row| row.to_proto(&self.public_url, today)).collect(),
            next_page_token,
        }))
    }

    async fn revoke_certificate(&self, request: Request<RevokeCertificateRequest>) -> Reply<RevokeCertificateResponse> {
        let who = Principal::from_request(&request)?;
        let certificate = revoke::revoke(self, &who, request.get_ref()).await?;
        Ok(Response::new(RevokeCertificateResponse {
            certificate: Some(certificate),
        }))
    }

    async fn list_expiring_certificates(
        &self,
        request: Request<ListExpiringCertificatesRequest>,
    ) -> Reply<ListExpiringCertificatesResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let today = today_vn();
        let (rows, next_page_token) =
            store::expiring(&self.db, today, r.within_days, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListExpiringCertificatesResponse {
            certificates: rows.iter().map(|row| row.to_proto(&self.public_url, today)).collect(),
            next_page_token,
        }))
    }

    async fn get_certificate_history(
        &self,
        request: Request<GetCertificateHistoryRequest>,
    ) -> Reply<GetCertificateHistoryResponse> {
        Principal::from_request(&request)?;
        let events = store::history(&self.db, &request.get_ref().name).await?;
        Ok(Response::new(GetCertificateHistoryResponse { events }))
    }

    async fn verify_certificate(&self, request: Request<VerifyCertificateRequest>) -> Reply<VerifyCertificateResponse> {
        let client = request.remote_addr().map(|a| a.ip());
        let verification = verify::verify(self, &request.get_ref().code, client).await?;
        Ok(Response::new(VerifyCertificateResponse {
            verification: Some(verification),
        }))
    }

    async fn get_signing_keys(&self, _request: Request<GetSigningKeysRequest>) -> Reply<GetSigningKeysResponse> {
        self.keys.register(&self.db).await?;
        Ok(Response::new(GetSigningKeysResponse {
            keys: keys::list(&self.db).await?,
        }))
    }
}
