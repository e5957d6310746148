//! The gRPC adapter: reads the caller from the request, calls one operation,
//! maps its result. The server span is opened by the platform.

use ocop_kit::ErrorKind;
use ocop_kit::auth::Principal;
use ocop_proto::evaluation::v1::evaluation_service_server::{EvaluationService, EvaluationServiceServer};
use ocop_proto::evaluation::v1::*;
use tonic::{Request, Response, Status};

use crate::entries::commune;
use crate::rounds::transitions;
use crate::service::Evaluation;
use crate::{criteria, entries, national, nominations, publish, rounds, score_sheets};

/// The gRPC server over the evaluation service's state.
pub fn server(evaluation: Evaluation) -> EvaluationServiceServer<Evaluation> {
    EvaluationServiceServer::new(evaluation)
}

type Reply<T> = Result<Response<T>, Status>;

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

    async fn create_evaluation_round(
        &self,
        request: Request<CreateEvaluationRoundRequest>,
    ) -> Reply<CreateEvaluationRoundResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let round = r.evaluation_round.clone().unwrap_or_default();
        let round = rounds::create(&self.db, &self.here, &who, &round, &r.request_id).await?;
        Ok(Response::new(CreateEvaluationRoundResponse {
            evaluation_round: Some(round),
        }))
    }

    async fn get_evaluation_round(
        &self,
        request: Request<GetEvaluationRoundRequest>,
    ) -> Reply<GetEvaluationRoundResponse> {
        Principal::from_request(&request)?;
        let round = rounds::get(&self.db, &request.get_ref().name).await?;
        Ok(Response::new(GetEvaluationRoundResponse {
            evaluation_round: Some(round),
        }))
    }

    async fn list_evaluation_rounds(
        &self,
        request: Request<ListEvaluationRoundsRequest>,
    ) -> Reply<ListEvaluationRoundsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (evaluation_rounds, next_page_token) =
            rounds::list(&self.db, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListEvaluationRoundsResponse {
            evaluation_rounds,
            next_page_token,
        }))
    }

    async fn open_evaluation_round(
        &self,
        request: Request<OpenEvaluationRoundRequest>,
    ) -> Reply<OpenEvaluationRoundResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let round = transitions::open(&self.db, &self.here, &who, &r.name, &r.etag).await?;
        Ok(Response::new(OpenEvaluationRoundResponse {
            evaluation_round: Some(round),
        }))
    }

    async fn create_entry(&self, request: Request<CreateEntryRequest>) -> Reply<CreateEntryResponse> {
        let who = Principal::from_request(&request)?;
        // The registry is asked with the caller's own token.
        let bearer = ocop_kit::client::bearer_of(&request);
        let r = request.get_ref();
        let entry = r.entry.clone().unwrap_or_default();
        let entry = entries::create(
            &self.db,
            &self.registry,
            &self.certification,
            &self.here,
            self.national,
            &who,
            bearer,
            &r.parent,
            &entry,
            &r.request_id,
        )
        .await?;
        Ok(Response::new(CreateEntryResponse { entry: Some(entry) }))
    }

    async fn list_entries(&self, request: Request<ListEntriesRequest>) -> Reply<ListEntriesResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (entries, next_page_token) =
            entries::list(&self.db, &r.parent, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListEntriesResponse {
            entries,
            next_page_token,
        }))
    }

    async fn start_scoring(&self, request: Request<StartScoringRequest>) -> Reply<StartScoringResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let round = transitions::start_scoring(&self.db, &self.here, &who, &r.name, &r.etag).await?;
        Ok(Response::new(StartScoringResponse {
            evaluation_round: Some(round),
        }))
    }

    async fn cancel_evaluation_round(
        &self,
        request: Request<CancelEvaluationRoundRequest>,
    ) -> Reply<CancelEvaluationRoundResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let round = transitions::cancel(&self.db, &self.here, &who, &r.name, &r.etag, &r.reason).await?;
        Ok(Response::new(CancelEvaluationRoundResponse {
            evaluation_round: Some(round),
        }))
    }

    async fn save_score_sheet(&self, request: Request<SaveScoreSheetRequest>) -> Reply<SaveScoreSheetResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let sheet = score_sheets::save(&self.db, &self.sets, &who, &r.entry, &r.answers, &r.etag).await?;
        Ok(Response::new(SaveScoreSheetResponse {
            score_sheet: Some(sheet),
        }))
    }

    async fn submit_score_sheet(&self, request: Request<SubmitScoreSheetRequest>) -> Reply<SubmitScoreSheetResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let sheet = score_sheets::submit(&self.db, &who, &r.name, &r.etag, &r.request_id).await?;
        Ok(Response::new(SubmitScoreSheetResponse {
            score_sheet: Some(sheet),
        }))
    }

    async fn get_score_sheet(&self, request: Request<GetScoreSheetRequest>) -> Reply<GetScoreSheetResponse> {
        let who = Principal::from_request(&request)?;
        let sheet = score_sheets::get(&self.db, &who, &request.get_ref().name).await?;
        Ok(Response::new(GetScoreSheetResponse {
            score_sheet: Some(sheet),
        }))
    }

    async fn publish_evaluation_round(
        &self,
        request: Request<PublishEvaluationRoundRequest>,
    ) -> Reply<PublishEvaluationRoundResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let (round, results) =
            publish::publish(&self.db, &self.sets, &self.rules, &self.here, &who, &r.name, &r.etag).await?;
        Ok(Response::new(PublishEvaluationRoundResponse {
            evaluation_round: Some(round),
            results,
        }))
    }

    async fn get_result(&self, request: Request<GetResultRequest>) -> Reply<GetResultResponse> {
        Principal::from_request(&request)?;
        let name = &request.get_ref().name;
        let result = match publish::get(&self.db, name).await {
            // Nationally, a province's result is mirrored; on a province, the
            // ministry's CENTRAL results of its products.
            Err(e) if e.kind() == ErrorKind::NotFound => ocop_kit::mirror::find(&self.db, name).await?.ok_or(e)?,
            found => found?,
        };
        Ok(Response::new(GetResultResponse { result: Some(result) }))
    }

    async fn list_results(&self, request: Request<ListResultsRequest>) -> Reply<ListResultsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (results, next_page_token) =
            publish::list(&self.db, &r.parent, r.page_size, &r.page_token, &r.filter, false).await?;
        Ok(Response::new(ListResultsResponse {
            results,
            next_page_token,
        }))
    }

    async fn list_nominations(&self, request: Request<ListNominationsRequest>) -> Reply<ListNominationsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        // Nationally, the provinces' nominations (a CENTRAL round nominates nobody).
        let (results, next_page_token) = if self.national {
            national::nominations(&self.db, r.page_size, &r.page_token, &r.filter).await?
        } else {
            publish::list(
                &self.db,
                "evaluationRounds/-",
                r.page_size,
                &r.page_token,
                &r.filter,
                true,
            )
            .await?
        };
        Ok(Response::new(ListNominationsResponse {
            results,
            next_page_token,
        }))
    }

    async fn recompute_result(&self, request: Request<RecomputeResultRequest>) -> Reply<RecomputeResultResponse> {
        Principal::from_request(&request)?;
        let (result, identical) = publish::recompute(&self.db, &self.sets, &request.get_ref().name).await?;
        Ok(Response::new(RecomputeResultResponse {
            result: Some(result),
            identical,
        }))
    }

    async fn disqualify_entry(&self, request: Request<DisqualifyEntryRequest>) -> Reply<DisqualifyEntryResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let entry = entries::disqualify(&self.db, &self.here, &who, &r.name, &r.reason).await?;
        Ok(Response::new(DisqualifyEntryResponse { entry: Some(entry) }))
    }

    async fn record_commune_assessment(
        &self,
        request: Request<RecordCommuneAssessmentRequest>,
    ) -> Reply<RecordCommuneAssessmentResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let entry =
            entries::record_assessment(&self.db, &self.here, &who, &r.name, r.commune_assessment.as_ref()).await?;
        Ok(Response::new(RecordCommuneAssessmentResponse { entry: Some(entry) }))
    }

    async fn update_dossier_item(
        &self,
        request: Request<UpdateDossierItemRequest>,
    ) -> Reply<UpdateDossierItemResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let entry =
            entries::update_dossier(&self.db, &self.here, &who, &r.entry, &r.document, r.status(), &r.note).await?;
        Ok(Response::new(UpdateDossierItemResponse { entry: Some(entry) }))
    }

    async fn record_commune_report(
        &self,
        request: Request<RecordCommuneReportRequest>,
    ) -> Reply<RecordCommuneReportResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let entry = commune::record_report(&self.db, &self.here, &who, &r.name, r.commune_report.as_ref()).await?;
        Ok(Response::new(RecordCommuneReportResponse { entry: Some(entry) }))
    }

    async fn approve_nomination(&self, request: Request<ApproveNominationRequest>) -> Reply<ApproveNominationResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let result = nominations::approve(&self.db, &self.here, &who, &r.name, r.approval.as_ref()).await?;
        Ok(Response::new(ApproveNominationResponse { result: Some(result) }))
    }

    async fn propose_nomination(&self, request: Request<ProposeNominationRequest>) -> Reply<ProposeNominationResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let result = nominations::propose(&self.db, &self.here, &who, &r.name, r.proposal.as_ref()).await?;
        Ok(Response::new(ProposeNominationResponse { result: Some(result) }))
    }
}
