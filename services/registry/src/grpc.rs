//! The gRPC adapter: validates the envelope, calls the domain, maps errors.
//! The server span (`registry.<Method>`) is opened by the platform's server.

use ocop_kit::auth::Principal;
use ocop_kit::date;
use ocop_proto::registry::v1::registry_service_server::RegistryService;
use ocop_proto::registry::v1::*;
use tonic::{Request, Response, Status};

use crate::units::Units;

/// Implements `ocop.registry.v1.RegistryService`.
#[derive(Clone)]
pub struct Registry {
    /// Administrative units.
    pub units: Units,
}

#[tonic::async_trait]
impl RegistryService for Registry {
    async fn get_administrative_unit(
        &self,
        request: Request<GetAdministrativeUnitRequest>,
    ) -> Result<Response<GetAdministrativeUnitResponse>, Status> {
        Principal::from_request(&request)?;
        let unit = self.units.get(&request.get_ref().name).await?;
        Ok(Response::new(GetAdministrativeUnitResponse {
            administrative_unit: Some(unit),
        }))
    }

    async fn list_administrative_units(
        &self,
        request: Request<ListAdministrativeUnitsRequest>,
    ) -> Result<Response<ListAdministrativeUnitsResponse>, Status> {
        Principal::from_request(&request)?;
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
    ) -> Result<Response<ResolveAdministrativeUnitResponse>, Status> {
        Principal::from_request(&request)?;
        let r = request.get_ref();
        let at = r.at.as_ref().map(|d| date::from_proto("at", d)).transpose()?;
        let (unit, path) = self.units.resolve(&r.code, r.scheme(), at).await?;
        Ok(Response::new(ResolveAdministrativeUnitResponse {
            administrative_unit: Some(unit),
            path,
        }))
    }
}
