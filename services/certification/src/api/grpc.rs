//! The gRPC adapter: reads the caller from the request, calls one operation,
//! maps its result. The server span is opened by the platform.

use ocop_kit::auth::Principal;
use ocop_kit::client::bearer_of;
use ocop_proto::certification::v1::certification_service_server::{CertificationService, CertificationServiceServer};
use ocop_proto::certification::v1::*;
use tonic::{Request, Response, Status};

use crate::certificates::{self, issue, revoke};
use crate::service::Certification;
use crate::{inspections, keys, proposals, re_rating, verify};

/// The gRPC server over the service's state.
pub fn server(svc: Certification) -> CertificationServiceServer<Certification> {
    CertificationServiceServer::new(svc)
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
        let certificate = certificates::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetCertificateResponse {
            certificate: Some(certificate),
        }))
    }

    async fn list_certificates(&self, request: Request<ListCertificatesRequest>) -> Reply<ListCertificatesResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (certificates, next_page_token) = certificates::list(self, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListCertificatesResponse {
            certificates,
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
        let (certificates, next_page_token) =
            certificates::expiring(self, r.within_days, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListExpiringCertificatesResponse {
            certificates,
            next_page_token,
        }))
    }

    async fn get_certificate_history(
        &self,
        request: Request<GetCertificateHistoryRequest>,
    ) -> Reply<GetCertificateHistoryResponse> {
        Principal::from_request(&request)?;
        let events = certificates::history(self, &request.get_ref().name).await?;
        Ok(Response::new(GetCertificateHistoryResponse { events }))
    }

    async fn verify_certificate(&self, request: Request<VerifyCertificateRequest>) -> Reply<VerifyCertificateResponse> {
        // The request layer found the client (behind a trusted proxy, the forwarded one).
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
        Ok(Response::new(GetSigningKeysResponse {
            keys: keys::published(self).await?,
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
        let inspection = inspections::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetInspectionResponse {
            inspection: Some(inspection),
        }))
    }

    async fn list_inspections(&self, request: Request<ListInspectionsRequest>) -> Reply<ListInspectionsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (inspections, next_page_token) = inspections::list(self, &r.parent, r.page_size, &r.page_token).await?;
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
