//! The gRPC adapter of the promotion service: each method reads the caller,
//! calls one operation and maps its result; the rules and the caching live in
//! the operations.

use ocop_kit::auth::Principal;
use ocop_kit::client::bearer_of;
use ocop_proto::promotion::v1::promotion_service_server::PromotionService;
use ocop_proto::promotion::v1::*;
use tonic::{Request, Response, Status};

use crate::service::Promotion;
use crate::{catalog, exports, fairs, listings, sales_points, statistics, targets};

/// Implements `ocop.promotion.v1.PromotionService` over the service's state.
#[derive(Clone)]
pub struct Adapter(pub Promotion);

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl PromotionService for Adapter {
    async fn list_catalog(&self, request: Request<ListCatalogRequest>) -> Reply<ListCatalogResponse> {
        Ok(Response::new(
            catalog::list_public(&self.0, request.into_inner()).await?,
        ))
    }

    async fn create_sales_point(&self, request: Request<CreateSalesPointRequest>) -> Reply<CreateSalesPointResponse> {
        let who = Principal::from_request(&request)?;
        let bearer = bearer_of(&request);
        let r = request.get_ref();
        let point = r.sales_point.clone().unwrap_or_default();
        let sales_point = sales_points::create(
            &self.0.db,
            &self.0.registry,
            &self.0.here,
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
        let sales_point = sales_points::get(&self.0.db, &request.get_ref().name).await?;
        Ok(Response::new(GetSalesPointResponse {
            sales_point: Some(sales_point),
        }))
    }

    async fn list_sales_points(&self, request: Request<ListSalesPointsRequest>) -> Reply<ListSalesPointsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (sales_points, next_page_token) =
            sales_points::list(&self.0.db, r.page_size, &r.page_token, &r.filter).await?;
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
            sales_points::add_product(&self.0.db, &self.0.here, &who, &r.sales_point, &r.certificate, &r.etag).await?;
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
            sales_points::remove_product(&self.0.db, &self.0.here, &who, &r.sales_point, &r.certificate, &r.etag)
                .await?;
        Ok(Response::new(RemoveSalesPointProductResponse {
            sales_point: Some(sales_point),
        }))
    }

    async fn create_fair(&self, request: Request<CreateFairRequest>) -> Reply<CreateFairResponse> {
        let who = Principal::from_request(&request)?;
        let fair = request.get_ref().fair.clone().unwrap_or_default();
        let fair = fairs::create_fair(&self.0.db, &self.0.here, &who, &fair).await?;
        Ok(Response::new(CreateFairResponse { fair: Some(fair) }))
    }

    async fn get_fair(&self, request: Request<GetFairRequest>) -> Reply<GetFairResponse> {
        Principal::from_request(&request)?;
        let fair = fairs::get_fair(&self.0.db, &request.get_ref().name).await?;
        Ok(Response::new(GetFairResponse { fair: Some(fair) }))
    }

    async fn list_fairs(&self, request: Request<ListFairsRequest>) -> Reply<ListFairsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (fairs, next_page_token) = fairs::list_fairs(&self.0.db, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListFairsResponse { fairs, next_page_token }))
    }

    async fn add_fair_booth(&self, request: Request<AddFairBoothRequest>) -> Reply<AddFairBoothResponse> {
        let who = Principal::from_request(&request)?;
        let r = request.get_ref();
        let booth = r.booth.clone().unwrap_or_default();
        let fair = fairs::add_booth(&self.0.db, &self.0.here, &who, &r.fair, &booth, &r.etag).await?;
        Ok(Response::new(AddFairBoothResponse { fair: Some(fair) }))
    }

    async fn create_listing(&self, request: Request<CreateListingRequest>) -> Reply<CreateListingResponse> {
        let who = Principal::from_request(&request)?;
        let listing = request.get_ref().listing.clone().unwrap_or_default();
        let listing = listings::create_listing(&self.0.db, &self.0.here, &who, &listing).await?;
        Ok(Response::new(CreateListingResponse { listing: Some(listing) }))
    }

    async fn list_listings(&self, request: Request<ListListingsRequest>) -> Reply<ListListingsResponse> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let (listings, next_page_token) =
            listings::list_listings(&self.0.db, &r.certificate, r.page_size, &r.page_token).await?;
        Ok(Response::new(ListListingsResponse {
            listings,
            next_page_token,
        }))
    }

    async fn set_target(&self, request: Request<SetTargetRequest>) -> Reply<SetTargetResponse> {
        let who = Principal::from_request(&request)?;
        let target = request.get_ref().target.clone().unwrap_or_default();
        let target = targets::set_target(&self.0.db, &self.0.here, &who, &target).await?;
        Ok(Response::new(SetTargetResponse { target: Some(target) }))
    }

    async fn get_statistics(&self, request: Request<GetStatisticsRequest>) -> Reply<GetStatisticsResponse> {
        Ok(Response::new(
            statistics::get_public(&self.0, request.into_inner()).await?,
        ))
    }

    async fn export_catalog(&self, request: Request<ExportCatalogRequest>) -> Reply<ExportCatalogResponse> {
        let province = &request.get_ref().province_code;
        statistics::check_province(province)?;
        let csv = exports::catalog_csv(&self.0.db, province).await?;
        Ok(Response::new(ExportCatalogResponse { csv }))
    }

    async fn export_statistics(&self, request: Request<ExportStatisticsRequest>) -> Reply<ExportStatisticsResponse> {
        let r = request.get_ref();
        let stats = statistics::statistics(&self.0.db, &r.province_code, r.year).await?;
        Ok(Response::new(ExportStatisticsResponse {
            csv: exports::statistics_csv(&stats),
        }))
    }
}
