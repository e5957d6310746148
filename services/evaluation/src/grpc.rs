//! The gRPC adapter of the evaluation service.

use ocop_kit::auth::Principal;
use ocop_proto::evaluation::v1::evaluation_service_server::EvaluationService;
use ocop_proto::evaluation::v1::*;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::criteria;

/// Implements `ocop.evaluation.v1.EvaluationService`.
#[derive(Clone)]
pub struct Evaluation {
    /// The evaluation schema's pool.
    pub db: PgPool,
}

#[tonic::async_trait]
impl EvaluationService for Evaluation {
    async fn get_criteria_set(
        &self,
        request: Request<GetCriteriaSetRequest>,
    ) -> Result<Response<GetCriteriaSetResponse>, Status> {
        Principal::from_request(&request)?;
        let set = criteria::get(&self.db, &request.get_ref().name).await?;
        Ok(Response::new(GetCriteriaSetResponse {
            criteria_set: Some(set),
        }))
    }

    async fn list_criteria_sets(
        &self,
        request: Request<ListCriteriaSetsRequest>,
    ) -> Result<Response<ListCriteriaSetsResponse>, Status> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (criteria_sets, next_page_token) = criteria::list(&self.db, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListCriteriaSetsResponse {
            criteria_sets,
            next_page_token,
        }))
    }
}
