//! The SQL of sales points and the rows it reads.

use ocop_kit::date::{self, to_timestamp, today_vn};
use ocop_kit::{Error, Result};
use ocop_proto::promotion::v1::{CarriedProduct, LocationType, SalesPoint};

/// The stored name of a location type (none for UNSPECIFIED).
pub(super) fn location_str(t: LocationType) -> Option<&'static str> {
    Some(match t {
        LocationType::Unspecified => return None,
        LocationType::StationAirportPort => "station_airport_port",
        LocationType::HighwayStop => "highway_stop",
        LocationType::MallSupermarketMarket => "mall_supermarket_market",
        LocationType::TouristSiteHotelRestaurant => "tourist_site_hotel_restaurant",
        LocationType::CraftVillage => "craft_village",
        LocationType::CommuneTradeCentreIndustrialZone => "commune_trade_centre_industrial_zone",
        LocationType::FairCentre => "fair_centre",
        LocationType::PostOffice => "post_office",
    })
}

/// The location type a stored name stands for.
pub(super) fn location_of(s: &str) -> LocationType {
    [
        LocationType::StationAirportPort,
        LocationType::HighwayStop,
        LocationType::MallSupermarketMarket,
        LocationType::TouristSiteHotelRestaurant,
        LocationType::CraftVillage,
        LocationType::CommuneTradeCentreIndustrialZone,
        LocationType::FairCentre,
        LocationType::PostOffice,
    ]
    .into_iter()
    .find(|t| location_str(*t) == Some(s))
    .unwrap_or(LocationType::Unspecified)
}

/// A stored sales point.
#[derive(sqlx::FromRow)]
pub(super) struct Row {
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) location_type: String,
    pub(super) address: String,
    pub(super) commune_code: String,
    pub(super) province_code: String,
    pub(super) operator: String,
    pub(super) opening_date: time::Date,
    pub(super) version: i64,
    pub(super) create_time: time::OffsetDateTime,
}

/// The columns of [`Row`], in its order.
pub(super) const COLUMNS: &str = "id, display_name, location_type, address, commune_code, province_code, operator, opening_date, version, create_time";

/// A product a sales point carries, with whether its certificate is still in force.
#[derive(sqlx::FromRow)]
pub(super) struct Carried {
    pub(super) sales_point: String,
    pub(super) code: String,
    pub(super) product: String,
    pub(super) product_name: String,
    pub(super) stars: i32,
    pub(super) flag_reason: Option<String>,
    pub(super) in_force: bool,
    pub(super) add_time: time::OffsetDateTime,
}

impl Row {
    /// The sales point with those of `carried` that are its own.
    pub(super) fn to_proto(&self, carried: &[Carried]) -> SalesPoint {
        SalesPoint {
            name: format!("salesPoints/{}", self.id),
            display_name: self.display_name.clone(),
            location_type: location_of(&self.location_type) as i32,
            address: self.address.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            operator: self.operator.clone(),
            opening_date: Some(date::to_proto(self.opening_date)),
            products: carried
                .iter()
                .filter(|c| c.sales_point == self.id)
                .map(|c| {
                    // Read-time: a certificate past its date is flagged before any event says so.
                    let reason = c
                        .flag_reason
                        .clone()
                        .or_else(|| (!c.in_force).then(|| "the certificate is no longer in force".to_owned()));
                    CarriedProduct {
                        certificate: format!("certificates/{}", c.code),
                        product: c.product.clone(),
                        product_name: c.product_name.clone(),
                        stars: c.stars,
                        flagged: reason.is_some(),
                        flag_reason: reason.unwrap_or_default(),
                        add_time: Some(to_timestamp(c.add_time)),
                    }
                })
                .collect(),
            etag: ocop_kit::etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
        }
    }
}

/// The products carried by the sales points `ids`.
pub(super) async fn carried<'e, E: sqlx::PgExecutor<'e>>(db: E, ids: &[String]) -> Result<Vec<Carried>> {
    Ok(sqlx::query_as(
        "SELECT p.sales_point, p.code, p.product, p.product_name, p.stars, p.flag_reason,
             (c.code IS NOT NULL AND c.valid_until >= $2) AS in_force, p.add_time
         FROM sales_point_products p LEFT JOIN catalog c ON c.code = p.code
         WHERE p.sales_point = ANY($1) ORDER BY p.add_time, p.code",
    )
    .bind(ids)
    .bind(today_vn())
    .fetch_all(db)
    .await?)
}

/// The sales point `id`, locked for update when `lock`.
pub(super) async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, id: &str, lock: bool) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM sales_points WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(id)
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| Error::not_found(format!("salesPoints/{id}")))
}
