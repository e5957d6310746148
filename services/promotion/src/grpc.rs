//! The gRPC adapter of the promotion service.

use std::time::Duration;

use ocop_kit::auth::Principal;
use ocop_kit::client::{TracedChannel, bearer_of};
use ocop_proto::promotion::v1::promotion_service_server::PromotionService;
use ocop_proto::promotion::v1::*;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::{catalog, fairs, sales_points, statistics};

/// Implements `ocop.promotion.v1.PromotionService`.
#[derive(Clone)]
pub struct Promotion {
    /// The promotion schema's pool.
    pub db: PgPool,
    /// Where communes are resolved to their province.
    pub registry: RegistryServiceClient<TracedChannel>,
    /// Public reads, reused for up to [`PUBLIC_KEEP`].
    pub cache: ocop_kit::cache::Cache,
    /// The province whose sales points, fairs, listings and targets this
    /// deployment writes.
    pub here: ocop_kit::jurisdiction::Jurisdiction,
}

/// How long a public catalog page or statistics answer is served as is;
/// after that it is still served while one background load replaces it.
pub const PUBLIC_FRESH: Duration = Duration::from_millis(500);
/// The oldest answer ever served. The feeds lag by a fraction of a second, so
/// a revocation leaves the catalog well within its 2 s; expiry is re-checked
/// on every read anyway.
pub const PUBLIC_KEEP: Duration = Duration::from_millis(1200);

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl PromotionService for Promotion {
    async fn list_catalog(&self, request: Request<ListCatalogRequest>) -> Reply<ListCatalogResponse> {
        let r = request.get_ref().clone();
        let key = format!(
            "catalog:{:x}",
            ocop_kit::fnv1a(format!("{}|{}|{}|{}", r.page_size, r.page_token, r.filter, r.query).as_bytes())
        );
        let db = self.db.clone();
        let mut page = self
            .cache
            .get_or_refresh(&key, PUBLIC_FRESH, PUBLIC_KEEP, move || async move {
                let (entries, next_page_token) =
                    catalog::list(&db, r.page_size, &r.page_token, &r.filter, &r.query).await?;
                Ok(ListCatalogResponse {
                    entries,
                    next_page_token,
                })
            })
            .await?;
        // A page cached just before midnight must not show what expired at it.
        let today = ocop_kit::date::to_proto(ocop_kit::date::today_vn());
        page.entries.retain(|e| {
            e.valid_until
                .as_ref()
                .is_some_and(|u| (u.year, u.month, u.day) >= (today.year, today.month, today.day))
        });
        Ok(Response::new(page))
    }

    async fn create_sales_point(&self, request: Request<CreateSalesPointRequest>) -> Reply<CreateSalesPointResponse> {
        let who = Principal::from_request(&request)?;
        let bearer = bearer_of(&request);
        let r = request.get_ref();
        let point = r.sales_point.clone().unwrap_or_default();
        let sales_point = sales_points::create(
            &self.db,
            &self.registry,
            &self.here,
            &who,
            &bearer,
            &point,
            &r.request_id,
        )
        .await?;
        Ok(Response::new(CreateSalesPointResponse {
            sales_point: Some(sales_point),
        }))
    }

    async fn get_sales_point(&self, request: Request<GetSalesPointRequest>) -> Reply<GetSalesPointResponse> {
        Principal::from_request(&request)?;
        let sales_point = sales_points::get(&self.db, &request.get_ref().name).await?;
        Ok(Response::new(GetSalesPointResponse {
            sales_point: Some(sales_point),
        }))
    }

    async fn list_sales_points(&self, request: Request<ListSalesPointsRequest>) -> Reply<ListSalesPointsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (sales_points, next_page_token) =
            sales_points::list(&self.db, r.page_size, &r.page_token, &r.filter).await?;
        Ok(Response::new(ListSalesPointsResponse {
            sales_points,
            next_page_token,
        }))
    }

    async fn add_sales_point_product(
        &self,
        request: Request<AddSalesPointProductRequest>,
    ) -> Reply<AddSalesPointProductResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let sales_point =
            sales_points::add_product(&self.db, &self.here, &who, &r.sales_point, &r.certificate, &r.etag).await?;
        Ok(Response::new(AddSalesPointProductResponse {
            sales_point: Some(sales_point),
        }))
    }

    async fn remove_sales_point_product(
        &self,
        request: Request<RemoveSalesPointProductRequest>,
    ) -> Reply<RemoveSalesPointProductResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let sales_point =
            sales_points::remove_product(&self.db, &self.here, &who, &r.sales_point, &r.certificate, &r.etag).await?;
        Ok(Response::new(RemoveSalesPointProductResponse {
            sales_point: Some(sales_point),
        }))
    }

    async fn create_fair(&self, request: Request<CreateFairRequest>) -> Reply<CreateFairResponse> {
        let who = Principal::from_request(&request)?;
        let fair = request.get_ref().fair.clone().unwrap_or_default();
        let fair = fairs::create_fair(&self.db, &self.here, &who, &fair).await?;
        Ok(Response::new(CreateFairResponse { fair: Some(fair) }))
    }

    async fn get_fair(&self, request: Request<GetFairRequest>) -> Reply<GetFairResponse> {
        Principal::from_request(&request)?;
        let fair = fairs::get_fair(&self.db, &request.get_ref().name).await?;
        Ok(Response::new(GetFairResponse { fair: Some(fair) }))
    }

    async fn list_fairs(&self, request: Request<ListFairsRequest>) -> Reply<ListFairsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (fairs, next_page_token) = fairs::list_fairs(&self.db, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListFairsResponse { fairs, next_page_token }))
    }

    async fn add_fair_booth(&self, request: Request<AddFairBoothRequest>) -> Reply<AddFairBoothResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let booth = r.booth.clone().unwrap_or_default();
        let fair = fairs::add_booth(&self.db, &self.here, &who, &r.fair, &booth, &r.etag).await?;
        Ok(Response::new(AddFairBoothResponse { fair: Some(fair) }))
    }

    async fn create_listing(&self, request: Request<CreateListingRequest>) -> Reply<CreateListingResponse> {
        let who = Principal::from_request(&request)?;
        let listing = request.get_ref().listing.clone().unwrap_or_default();
        let listing = fairs::create_listing(&self.db, &self.here, &who, &listing).await?;
        Ok(Response::new(CreateListingResponse { listing: Some(listing) }))
    }

    async fn list_listings(&self, request: Request<ListListingsRequest>) -> Reply<ListListingsResponse> {
        Principal::from_request(&request)?;
        let listings = fairs::list_listings(&self.db, &request.get_ref().certificate).await?;
        Ok(Response::new(ListListingsResponse { listings }))
    }

    async fn set_target(&self, request: Request<SetTargetRequest>) -> Reply<SetTargetResponse> {
        let who = Principal::from_request(&request)?;
        let target = request.get_ref().target.clone().unwrap_or_default();
        let target = statistics::set_target(&self.db, &self.here, &who, &target).await?;
        Ok(Response::new(SetTargetResponse { target: Some(target) }))
    }

    async fn get_statistics(&self, request: Request<GetStatisticsRequest>) -> Reply<GetStatisticsResponse> {
        let r = request.get_ref().clone();
        statistics::check_province(&r.province_code)?;
        let db = self.db.clone();
        let key = format!("statistics:{}:{}", r.province_code, r.year);
        let response = self
            .cache
            .get_or_refresh(&key, PUBLIC_FRESH, PUBLIC_KEEP, move || async move {
                let statistics = statistics::statistics(&db, &r.province_code, r.year).await?;
                Ok(GetStatisticsResponse {
                    statistics: Some(statistics),
                })
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn export_catalog(&self, request: Request<ExportCatalogRequest>) -> Reply<ExportCatalogResponse> {
        let province = &request.get_ref().province_code;
        statistics::check_province(province)?;
        let csv = statistics::catalog_csv(&self.db, province).await?;
        Ok(Response::new(ExportCatalogResponse { csv }))
    }

    async fn export_statistics(&self, request: Request<ExportStatisticsRequest>) -> Reply<ExportStatisticsResponse> {
        let r = request.get_ref();
        let stats = statistics::statistics(&self.db, &r.province_code, r.year).await?;
        Ok(Response::new(ExportStatisticsResponse {
            csv: statistics::statistics_csv(&stats),
        }))
    }
}
