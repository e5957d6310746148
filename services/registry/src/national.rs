//! The registry on the national deployment: every province's producers and
//! products, mirrored from its registry feed (read-only here), the products
//! also kept with the columns that national search needs.

use ocop_kit::filter::Filter;
use ocop_kit::follow::Apply;
use ocop_kit::mirror::Mirror;
use ocop_kit::server::BoxFuture;
use ocop_kit::{Error, Result};
use ocop_proto::feed::v1::Change;
use ocop_proto::registry::v1::Product;
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use crate::search;

/// What the national deployment keeps of a province's registry feed: its
/// producers, products and dossiers (`subjects/{s}`, `subjects/{s}/products/{p}`,
/// `…/dossiers/{d}`).
pub fn mirrored(change: &Change) -> Option<&'static str> {
    let mut parts = change.resource.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("subjects"), Some(_), None, None, None) => Some("subject"),
        (Some("subjects"), Some(_), Some("products"), Some(_), None) => Some("product"),
        // A CENTRAL round reads the dossier its nomination was rated on.
        (Some("subjects"), Some(_), Some("products"), Some(_), Some("dossiers")) => Some("dossier"),
        _ => None,
    }
}

/// Applies one province's registry feed: the mirror, and the searchable products.
pub struct Provinces(pub Mirror);

impl Apply for Provinces {
    fn apply<'a>(&'a self, tx: &'a mut PgConnection, change: &'a Change) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.0.apply(tx, change).await?;
            if mirrored(change) != Some("product") {
                return Ok(());
            }
            let product = Product::decode(change.payload.as_slice())
                .map_err(|e| Error::internal(format!("{} from province {}: {e}", change.resource, self.0.origin)))?;
            // As in the mirror, a name owned by another province is not overwritten.
            sqlx::query(
                "INSERT INTO national_products (name, origin, province_code, group_code, display_name, deleted, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE SET province_code = EXCLUDED.province_code,
                     group_code = EXCLUDED.group_code, display_name = EXCLUDED.display_name,
                     deleted = EXCLUDED.deleted, payload = EXCLUDED.payload
                 WHERE national_products.origin = EXCLUDED.origin",
            )
            .bind(&change.resource)
            .bind(&self.0.origin)
            .bind(&product.province_code)
            .bind(&product.group_code)
            .bind(&product.display_name)
            .bind(product.delete_time.is_some())
            .bind(&change.payload)
            .execute(&mut *tx)
            .await?;
            Ok(())
        })
    }
}

#[derive(sqlx::FromRow)]
struct Payload {
    payload: Vec<u8>,
}

/// `SearchProducts` over every province's products, as for one province's.
pub async fn search(
    db: &PgPool,
    query: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Product>, String)> {
    let filter = Filter::parse(filter, &["province_code", "group_code"])?;
    let from = |sql: &mut QueryBuilder<Postgres>| {
        sql.push(" FROM national_products WHERE NOT deleted");
        crate::products::store::push_filters(sql, &filter)
    };
    let (rows, next): (Vec<Payload>, String) = search::run(
        db,
        "payload",
        from,
        &["name"],
        query,
        page_size,
        page_token,
        &filter.canonical(),
    )
    .await?;
    let products = rows
        .iter()
        .map(|r| Product::decode(r.payload.as_slice()).map_err(|e| Error::internal(format!("a national product: {e}"))))
        .collect::<Result<_>>()?;
    Ok((products, next))
}
