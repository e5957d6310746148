//! The gRPC adapter: reads the caller from the request, calls one operation,
//! maps its result. The server span (`registry.<Method>`) is opened by the platform.

use ocop_kit::auth::Principal;
use ocop_kit::date;
use ocop_proto::registry::v1::registry_service_server::{RegistryService, RegistryServiceServer};
use ocop_proto::registry::v1::*;
use tonic::{Request, Response, Status};

use crate::service::Registry;
use crate::{audit, csv_exchange, dossiers, ideas, plans, products, subjects};

fn caller<T>(request: &Request<T>) -> Result<Principal, Status> {
    Ok(Principal::from_request(request)?)
}

fn mask(mask: &Option<prost_types::FieldMask>) -> Vec<String> {
    mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default()
}

type Reply<T> = Result<Response<T>, Status>;

/// The gRPC server over the registry's state. Imports and exports carry
/// whole files: it allows up to 32 MiB (Hà Nội's ~3,500 rows are about 1 MiB).
pub fn server(registry: Registry) -> RegistryServiceServer<Registry> {
    RegistryServiceServer::new(registry)
        .max_decoding_message_size(32 * 1024 * 1024)
        .max_encoding_message_size(32 * 1024 * 1024)
}

#[tonic::async_trait]
impl RegistryService for Registry {
    async fn get_administrative_unit(
        &self,
        request: Request<GetAdministrativeUnitRequest>,
    ) -> Reply<GetAdministrativeUnitResponse> {
        caller(&request)?;
        let unit = self.units.get(&request.get_ref().name).await?;
        Ok(Response::new(GetAdministrativeUnitResponse {
            administrative_unit: Some(unit),
        }))
    }

    async fn list_administrative_units(
        &self,
        request: Request<ListAdministrativeUnitsRequest>,
    ) -> Reply<ListAdministrativeUnitsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (administrative_units, next_page_token) = self.units.list(r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListAdministrativeUnitsResponse {
            administrative_units,
            next_page_token,
        }))
    }

    async fn resolve_administrative_unit(
        &self,
        request: Request<ResolveAdministrativeUnitRequest>,
    ) -> Reply<ResolveAdministrativeUnitResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let at = r.at.as_ref().map(|d| date::from_proto("at", d)).transpose()?;
        let (unit, path) = self.units.resolve(&r.code, r.scheme(), at).await?;
        Ok(Response::new(ResolveAdministrativeUnitResponse {
            administrative_unit: Some(unit),
            path,
        }))
    }

    async fn create_subject(&self, request: Request<CreateSubjectRequest>) -> Reply<CreateSubjectResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let subject = r.subject.clone().unwrap_or_default();
        let subject = subjects::create(self, &who, &subject, &r.subject_id, &r.request_id).await?;
        Ok(Response::new(CreateSubjectResponse { subject: Some(subject) }))
    }

    async fn get_subject(&self, request: Request<GetSubjectRequest>) -> Reply<GetSubjectResponse> {
        caller(&request)?;
        let subject = subjects::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetSubjectResponse { subject: Some(subject) }))
    }

    async fn list_subjects(&self, request: Request<ListSubjectsRequest>) -> Reply<ListSubjectsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (subjects, next_page_token) =
            subjects::list(self, r.page_size, &r.page_token, &r.filter, &r.order_by, r.show_deleted).await?;
        Ok(Response::new(ListSubjectsResponse {
            subjects,
            next_page_token,
        }))
    }

    async fn update_subject(&self, request: Request<UpdateSubjectRequest>) -> Reply<UpdateSubjectResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let subject = r.subject.clone().unwrap_or_default();
        let subject = subjects::update(self, &who, &subject, &mask(&r.update_mask)).await?;
        Ok(Response::new(UpdateSubjectResponse { subject: Some(subject) }))
    }

    async fn delete_subject(&self, request: Request<DeleteSubjectRequest>) -> Reply<DeleteSubjectResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let subject = subjects::delete(self, &who, &r.name, &r.etag, r.force).await?;
        Ok(Response::new(DeleteSubjectResponse { subject: Some(subject) }))
    }

    async fn search_subjects(&self, request: Request<SearchSubjectsRequest>) -> Reply<SearchSubjectsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (subjects, next_page_token) =
            subjects::search(self, &r.query, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(SearchSubjectsResponse {
            subjects,
            next_page_token,
        }))
    }

    async fn create_product(&self, request: Request<CreateProductRequest>) -> Reply<CreateProductResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let product = r.product.clone().unwrap_or_default();
        let product = products::create(self, &who, &r.parent, &product, &r.product_id, &r.request_id).await?;
        Ok(Response::new(CreateProductResponse { product: Some(product) }))
    }

    async fn get_product(&self, request: Request<GetProductRequest>) -> Reply<GetProductResponse> {
        caller(&request)?;
        let product = products::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetProductResponse { product: Some(product) }))
    }

    async fn list_products(&self, request: Request<ListProductsRequest>) -> Reply<ListProductsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (products, next_page_token) = products::list(
            self,
            &r.parent,
            r.page_size,
            &r.page_token,
            &r.filter,
            &r.order_by,
            r.show_deleted,
        )
        .await?;
        Ok(Response::new(ListProductsResponse {
            products,
            next_page_token,
        }))
    }

    async fn update_product(&self, request: Request<UpdateProductRequest>) -> Reply<UpdateProductResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let product = r.product.clone().unwrap_or_default();
        let product = products::update(self, &who, &product, &mask(&r.update_mask)).await?;
        Ok(Response::new(UpdateProductResponse { product: Some(product) }))
    }

    async fn delete_product(&self, request: Request<DeleteProductRequest>) -> Reply<DeleteProductResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let product = products::delete(self, &who, &r.name, &r.etag, r.force).await?;
        Ok(Response::new(DeleteProductResponse { product: Some(product) }))
    }

    async fn search_products(&self, request: Request<SearchProductsRequest>) -> Reply<SearchProductsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (products, next_page_token) =
            products::search(self, &r.query, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(SearchProductsResponse {
            products,
            next_page_token,
        }))
    }

    async fn list_product_groups(
        &self,
        request: Request<ListProductGroupsRequest>,
    ) -> Reply<ListProductGroupsResponse> {
        caller(&request)?;
        Ok(Response::new(ListProductGroupsResponse {
            product_groups: products::groups(self).await?,
        }))
    }

    async fn import_subjects_products(
        &self,
        request: Request<ImportSubjectsProductsRequest>,
    ) -> Reply<ImportSubjectsProductsResponse> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let report = csv_exchange::import(
            &self.db,
            &self.units,
            &self.here,
            &who,
            &r.csv,
            r.validate_only,
            &r.request_id,
        )
        .await?;
        Ok(Response::new(report))
    }

    async fn export_subjects_products(
        &self,
        request: Request<ExportSubjectsProductsRequest>,
    ) -> Reply<ExportSubjectsProductsResponse> {
        let who = caller(&request)?;
        let (csv, rows) = csv_exchange::export(self, &who, &request.get_ref().province_code).await?;
        Ok(Response::new(ExportSubjectsProductsResponse { csv, rows }))
    }

    async fn list_audit_events(&self, request: Request<ListAuditEventsRequest>) -> Reply<ListAuditEventsResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let (audit_events, next_page_token) =
            audit::list(&self.db, &who, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListAuditEventsResponse {
            audit_events,
            next_page_token,
        }))
    }

    async fn create_idea_registration(
        &self,
        request: Request<CreateIdeaRegistrationRequest>,
    ) -> Reply<CreateIdeaRegistrationResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let idea = r.idea_registration.clone().unwrap_or_default();
        let idea = ideas::create(self, &who, &r.parent, &idea, &r.idea_registration_id, &r.request_id).await?;
        Ok(Response::new(CreateIdeaRegistrationResponse {
            idea_registration: Some(idea),
        }))
    }

    async fn get_idea_registration(
        &self,
        request: Request<GetIdeaRegistrationRequest>,
    ) -> Reply<GetIdeaRegistrationResponse> {
        caller(&request)?;
        let idea = ideas::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetIdeaRegistrationResponse {
            idea_registration: Some(idea),
        }))
    }

    async fn list_idea_registrations(
        &self,
        request: Request<ListIdeaRegistrationsRequest>,
    ) -> Reply<ListIdeaRegistrationsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (idea_registrations, next_page_token) =
            ideas::list(self, &r.parent, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListIdeaRegistrationsResponse {
            idea_registrations,
            next_page_token,
        }))
    }

    async fn review_idea_registration(
        &self,
        request: Request<ReviewIdeaRegistrationRequest>,
    ) -> Reply<ReviewIdeaRegistrationResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let idea = ideas::review(self, &who, &r.name, &r.etag, r.decision(), &r.reason).await?;
        Ok(Response::new(ReviewIdeaRegistrationResponse {
            idea_registration: Some(idea),
        }))
    }

    async fn create_business_plan(
        &self,
        request: Request<CreateBusinessPlanRequest>,
    ) -> Reply<CreateBusinessPlanResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let plan = r.business_plan.clone().unwrap_or_default();
        let plan = plans::create(self, &who, &r.parent, &plan, &r.business_plan_id, &r.request_id).await?;
        Ok(Response::new(CreateBusinessPlanResponse {
            business_plan: Some(plan),
        }))
    }

    async fn get_business_plan(&self, request: Request<GetBusinessPlanRequest>) -> Reply<GetBusinessPlanResponse> {
        caller(&request)?;
        let plan = plans::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetBusinessPlanResponse {
            business_plan: Some(plan),
        }))
    }

    async fn list_business_plans(
        &self,
        request: Request<ListBusinessPlansRequest>,
    ) -> Reply<ListBusinessPlansResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (business_plans, next_page_token) =
            plans::list(self, &r.parent, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListBusinessPlansResponse {
            business_plans,
            next_page_token,
        }))
    }

    async fn update_business_plan(
        &self,
        request: Request<UpdateBusinessPlanRequest>,
    ) -> Reply<UpdateBusinessPlanResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let plan = r.business_plan.clone().unwrap_or_default();
        let plan = plans::update(self, &who, &plan, &mask(&r.update_mask)).await?;
        Ok(Response::new(UpdateBusinessPlanResponse {
            business_plan: Some(plan),
        }))
    }

    async fn submit_business_plan(
        &self,
        request: Request<SubmitBusinessPlanRequest>,
    ) -> Reply<SubmitBusinessPlanResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let plan = plans::submit(self, &who, &r.name, &r.etag).await?;
        Ok(Response::new(SubmitBusinessPlanResponse {
            business_plan: Some(plan),
        }))
    }

    async fn review_business_plan(
        &self,
        request: Request<ReviewBusinessPlanRequest>,
    ) -> Reply<ReviewBusinessPlanResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let plan = plans::review(self, &who, &r.name, &r.etag, r.decision(), &r.reason).await?;
        Ok(Response::new(ReviewBusinessPlanResponse {
            business_plan: Some(plan),
        }))
    }

    async fn create_support_record(
        &self,
        request: Request<CreateSupportRecordRequest>,
    ) -> Reply<CreateSupportRecordResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let record = r.support_record.clone().unwrap_or_default();
        let record = plans::add_support(self, &who, &r.parent, &record, &r.request_id).await?;
        Ok(Response::new(CreateSupportRecordResponse {
            support_record: Some(record),
        }))
    }

    async fn list_support_records(
        &self,
        request: Request<ListSupportRecordsRequest>,
    ) -> Reply<ListSupportRecordsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (support_records, next_page_token) =
            plans::list_support(self, &r.parent, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListSupportRecordsResponse {
            support_records,
            next_page_token,
        }))
    }

    async fn create_product_dossier(
        &self,
        request: Request<CreateProductDossierRequest>,
    ) -> Reply<CreateProductDossierResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let dossier = r.product_dossier.clone().unwrap_or_default();
        let dossier = dossiers::create(self, &who, &r.parent, &dossier, &r.product_dossier_id, &r.request_id).await?;
        Ok(Response::new(CreateProductDossierResponse {
            product_dossier: Some(dossier),
        }))
    }

    async fn get_product_dossier(
        &self,
        request: Request<GetProductDossierRequest>,
    ) -> Reply<GetProductDossierResponse> {
        caller(&request)?;
        let dossier = dossiers::get(self, &request.get_ref().name).await?;
        Ok(Response::new(GetProductDossierResponse {
            product_dossier: Some(dossier),
        }))
    }

    async fn list_product_dossiers(
        &self,
        request: Request<ListProductDossiersRequest>,
    ) -> Reply<ListProductDossiersResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (product_dossiers, next_page_token) =
            dossiers::list(self, &r.parent, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListProductDossiersResponse {
            product_dossiers,
            next_page_token,
        }))
    }
}
