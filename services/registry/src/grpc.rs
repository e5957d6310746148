//! The gRPC adapter: reads the caller from the request, calls the domain,
//! maps errors. The server span (`registry.<Method>`) is opened by the platform.

use ocop_kit::auth::Principal;
use ocop_kit::date;
use ocop_proto::registry::v1::registry_service_server::RegistryService;
use ocop_proto::registry::v1::*;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::dossiers::Dossiers;
use crate::ideas::Ideas;
use crate::plans::Plans;
use crate::products::Products;
use crate::subjects::Subjects;
use crate::units::Units;
use crate::{audit, transfer};

/// Implements `ocop.registry.v1.RegistryService`.
#[derive(Clone)]
pub struct Registry {
    /// Administrative units.
    pub units: Units,
    /// Producers.
    pub subjects: Subjects,
    /// Products.
    pub products: Products,
    /// Idea registrations.
    pub ideas: Ideas,
    /// Business plans and support records.
    pub plans: Plans,
    /// Producers' dossiers for evaluation.
    pub dossiers: Dossiers,
    /// The pool (audit log, import).
    pub db: PgPool,
    /// Whether this is the national deployment (search covers every province's products).
    pub national: bool,
    /// The province this deployment writes (imports).
    pub here: ocop_kit::jurisdiction::Jurisdiction,
    /// Bounds the exports running at once, so they leave connections for other requests.
    pub exports: crate::exports::ExportSlots,
}

fn caller<T>(request: &Request<T>) -> Result<Principal, Status> {
    Ok(Principal::from_request(request)?)
}

fn mask(mask: &Option<prost_types::FieldMask>) -> Vec<String> {
    mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default()
}

type Reply<T> = Result<Response<T>, Status>;

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
        let subject = self
            .subjects
            .create(&who, &subject, &r.subject_id, &r.request_id)
            .await?;
        Ok(Response::new(CreateSubjectResponse { subject: Some(subject) }))
    }

    async fn get_subject(&self, request: Request<GetSubjectRequest>) -> Reply<GetSubjectResponse> {
        caller(&request)?;
        let subject = self.subjects.get(&request.get_ref().name).await?;
        Ok(Response::new(GetSubjectResponse { subject: Some(subject) }))
    }

    async fn list_subjects(&self, request: Request<ListSubjectsRequest>) -> Reply<ListSubjectsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (subjects, next_page_token) = self
            .subjects
            .list(r.page_size, &r.page_token, &r.filter, &r.order_by, r.show_deleted)
            .await?;
        Ok(Response::new(ListSubjectsResponse {
            subjects,
            next_page_token,
        }))
    }

    async fn update_subject(&self, request: Request<UpdateSubjectRequest>) -> Reply<UpdateSubjectResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let subject = r.subject.clone().unwrap_or_default();
        let subject = self.subjects.update(&who, &subject, &mask(&r.update_mask)).await?;
        Ok(Response::new(UpdateSubjectResponse { subject: Some(subject) }))
    }

    async fn delete_subject(&self, request: Request<DeleteSubjectRequest>) -> Reply<DeleteSubjectResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let subject = self.subjects.delete(&who, &r.name, &r.etag, r.force).await?;
        Ok(Response::new(DeleteSubjectResponse { subject: Some(subject) }))
    }

    async fn search_subjects(&self, request: Request<SearchSubjectsRequest>) -> Reply<SearchSubjectsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (subjects, next_page_token) = self
            .subjects
            .search(&r.query, r.page_size, &r.page_token, &r.filter)
            .await?;
        Ok(Response::new(SearchSubjectsResponse {
            subjects,
            next_page_token,
        }))
    }

    async fn create_product(&self, request: Request<CreateProductRequest>) -> Reply<CreateProductResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let product = r.product.clone().unwrap_or_default();
        let product = self
            .products
            .create(&who, &r.parent, &product, &r.product_id, &r.request_id)
            .await?;
        Ok(Response::new(CreateProductResponse { product: Some(product) }))
    }

    async fn get_product(&self, request: Request<GetProductRequest>) -> Reply<GetProductResponse> {
        caller(&request)?;
        let product = self.products.get(&request.get_ref().name).await?;
        Ok(Response::new(GetProductResponse { product: Some(product) }))
    }

    async fn list_products(&self, request: Request<ListProductsRequest>) -> Reply<ListProductsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (products, next_page_token) = self
            .products
            .list(
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
        let product = self.products.update(&who, &product, &mask(&r.update_mask)).await?;
        Ok(Response::new(UpdateProductResponse { product: Some(product) }))
    }

    async fn delete_product(&self, request: Request<DeleteProductRequest>) -> Reply<DeleteProductResponse> {
        let who = caller(&request)?;
        let r = request.get_ref();
        let product = self.products.delete(&who, &r.name, &r.etag, r.force).await?;
        Ok(Response::new(DeleteProductResponse { product: Some(product) }))
    }

    async fn search_products(&self, request: Request<SearchProductsRequest>) -> Reply<SearchProductsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let (products, next_page_token) = if self.national {
            crate::national::search(&self.db, &r.query, r.page_size, &r.page_token, &r.filter).await?
        } else {
            self.products
                .search(&r.query, r.page_size, &r.page_token, &r.filter)
                .await?
        };
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
            product_groups: self.products.groups().await?,
        }))
    }

    async fn import_subjects_products(
        &self,
        request: Request<ImportSubjectsProductsRequest>,
    ) -> Reply<ImportSubjectsProductsResponse> {
        let who = caller(&request)?;
        let r = request.into_inner();
        let report = transfer::import(
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
        let _slot = self.exports.enter().await?;
        let (csv, rows) = transfer::export(&self.db, &who, &request.get_ref().province_code).await?;
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
        let idea = self
            .ideas
            .create(&who, &r.parent, &idea, &r.idea_registration_id, &r.request_id)
            .await?;
        Ok(Response::new(CreateIdeaRegistrationResponse {
            idea_registration: Some(idea),
        }))
    }

    async fn get_idea_registration(
        &self,
        request: Request<GetIdeaRegistrationRequest>,
    ) -> Reply<GetIdeaRegistrationResponse> {
        caller(&request)?;
        let idea = self.ideas.get(&request.get_ref().name).await?;
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
        let (idea_registrations, next_page_token) = self
            .ideas
            .list(&r.parent, r.page_size, &r.page_token, &r.filter)
            .await?;
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
        let idea = self
            .ideas
            .review(&who, &r.name, &r.etag, r.decision(), &r.reason)
            .await?;
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
        let plan = self
            .plans
            .create(&who, &r.parent, &plan, &r.business_plan_id, &r.request_id)
            .await?;
        Ok(Response::new(CreateBusinessPlanResponse {
            business_plan: Some(plan),
        }))
    }

    async fn get_business_plan(&self, request: Request<GetBusinessPlanRequest>) -> Reply<GetBusinessPlanResponse> {
        caller(&request)?;
        let plan = self.plans.get(&request.get_ref().name).await?;
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
        let (business_plans, next_page_token) = self
            .plans
            .list(&r.parent, r.page_size, &r.page_token, &r.filter)
            .await?;
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
        let plan = self.plans.update(&who, &plan, &mask(&r.update_mask)).await?;
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
        let plan = self.plans.submit(&who, &r.name, &r.etag).await?;
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
        let plan = self
            .plans
            .review(&who, &r.name, &r.etag, r.decision(), &r.reason)
            .await?;
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
        let record = self.plans.add_support(&who, &r.parent, &record, &r.request_id).await?;
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
        let (support_records, next_page_token) = self.plans.list_support(&r.parent, r.page_size, &r.page_token).await?;
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
        let dossier = self
            .dossiers
            .create(&who, &r.parent, &dossier, &r.product_dossier_id, &r.request_id)
            .await?;
        Ok(Response::new(CreateProductDossierResponse {
            product_dossier: Some(dossier),
        }))
    }

    async fn get_product_dossier(
        &self,
        request: Request<GetProductDossierRequest>,
    ) -> Reply<GetProductDossierResponse> {
        caller(&request)?;
        let dossier = self.dossiers.get(&request.get_ref().name).await?;
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
        let (product_dossiers, next_page_token) = self
            .dossiers
            .list(&r.parent, r.page_size, &r.page_token, &r.filter)
            .await?;
        Ok(Response::new(ListProductDossiersResponse {
            product_dossiers,
            next_page_token,
        }))
    }
}
