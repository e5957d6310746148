//! The gRPC adapter of the certification service.

use std::sync::Arc;

use ocop_kit::ErrorKind;
use ocop_kit::auth::Principal;
use ocop_kit::cache::Cache;
use ocop_kit::client::{TracedChannel, bearer_of};
use ocop_proto::certification::v1::certification_service_server::CertificationService;
use ocop_proto::certification::v1::*;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::clock::Clock;
use crate::keys::{self, Keys};
use crate::verify;
use crate::{federation, inspections, issue, proposals, re_rating, revoke, store};

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
    /// Rate limits per client address, and who the client is behind a proxy.
    pub limiter: Arc<ocop_kit::ratelimit::Limiter>,
    /// The budget of verifications (page and RPC together).
    pub verify_limit: ocop_kit::ratelimit::Rule,
    /// Base URL of the verify page, for QR payloads.
    pub public_url: String,
    /// A national deployment (issues 5 stars only).
    pub national: bool,
    /// The province whose certificates this deployment issues and revokes
    /// (none nationally: central ones only).
    pub here: ocop_kit::jurisdiction::Jurisdiction,
    /// Whether it keeps other deployments' certificates (national, or a
    /// province following the national feed): only then does a code unknown
    /// here cost a look in `mirrored`.
    pub mirrors: bool,
    /// Where "today" comes from.
    pub clock: Clock,
}

impl Certification {
    /// Today, the day the rules are read on.
    pub fn today(&self) -> time::Date {
        self.clock.today()
    }
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
            Ok(row) => row.to_proto(&self.public_url, self.today()),
            // Another deployment's, mirrored here.
            Err(e) if e.kind() == ErrorKind::NotFound => match ocop_kit::mirror::find(&self.db, name).await? {
                Some(mirrored) => federation::as_seen_here(self, mirrored).await?,
                None => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(Response::new(GetCertificateResponse {
            certificate: Some(certificate),
        }))
    }

    async fn list_certificates(&self, request: Request<ListCertificatesRequest>) -> Reply<ListCertificatesResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let today = self.today();
        let (rows, next_page_token) = store::list(&self.db, today, r.page_size, &r.page_token, &r.filter).await?;
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
        let today = self.today();
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
        // The Gate found the client (behind a trusted proxy, the forwarded one).
        let client = request
            .extensions()
            .get::<ocop_kit::ratelimit::ClientAddr>()
            .map(|c| c.0)
            .or_else(|| request.remote_addr().map(|a| a.ip()));
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

    async fn create_re_rating_application(
        &self,
        request: Request<CreateReRatingApplicationRequest>,
    ) -> Reply<CreateReRatingApplicationResponse> {
        let who = Principal::from_request(&request)?;
        let application = re_rating::create(self, &who, request.get_ref()).await?;
        Ok(Response::new(CreateReRatingApplicationResponse {
            re_rating_application: Some(application),
        }))
    }

    async fn get_re_rating_application(
        &self,
        request: Request<GetReRatingApplicationRequest>,
    ) -> Reply<GetReRatingApplicationResponse> {
        Principal::from_request(&request)?;
        let application = re_rating::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetReRatingApplicationResponse {
            re_rating_application: Some(application),
        }))
    }

    async fn record_re_rating_outcome(
        &self,
        request: Request<RecordReRatingOutcomeRequest>,
    ) -> Reply<RecordReRatingOutcomeResponse> {
        let who = Principal::from_request(&request)?;
        let application = re_rating::record_outcome(self, &who, request.get_ref()).await?;
        Ok(Response::new(RecordReRatingOutcomeResponse {
            re_rating_application: Some(application),
        }))
    }

    async fn create_inspection(&self, request: Request<CreateInspectionRequest>) -> Reply<CreateInspectionResponse> {
        let who = Principal::from_request(&request)?;
        let inspection = inspections::create(self, &who, request.get_ref()).await?;
        Ok(Response::new(CreateInspectionResponse {
            inspection: Some(inspection),
        }))
    }

    async fn get_inspection(&self, request: Request<GetInspectionRequest>) -> Reply<GetInspectionResponse> {
        Principal::from_request(&request)?;
        let inspection = inspections::get(&self.db, &request.get_ref().name).await?;
        Ok(Response::new(GetInspectionResponse {
            inspection: Some(inspection),
        }))
    }

    async fn list_inspections(&self, request: Request<ListInspectionsRequest>) -> Reply<ListInspectionsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (inspections, next_page_token) = inspections::list(&self.db, &r.parent, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListInspectionsResponse {
            inspections,
            next_page_token,
        }))
    }

    async fn record_inspection_outcome(
        &self,
        request: Request<RecordInspectionOutcomeRequest>,
    ) -> Reply<RecordInspectionOutcomeResponse> {
        let who = Principal::from_request(&request)?;
        let inspection = inspections::record_outcome(self, &who, request.get_ref()).await?;
        Ok(Response::new(RecordInspectionOutcomeResponse {
            inspection: Some(inspection),
        }))
    }

    async fn review_revocation_proposal(
        &self,
        request: Request<ReviewRevocationProposalRequest>,
    ) -> Reply<ReviewRevocationProposalResponse> {
        let who = Principal::from_request(&request)?;
        let (inspection, certificate) = proposals::review(self, &who, request.get_ref()).await?;
        Ok(Response::new(ReviewRevocationProposalResponse {
            inspection: Some(inspection),
            certificate,
        }))
    }
}
