//! The evaluation service on the national deployment: every province's
//! published results, mirrored from its feed, and the nominations among
//! them (provincial results of 90 or more), which wait here for the central
//! round. CENTRAL rounds themselves are ordinary rounds of this service.
//! A province, the other way, mirrors the CENTRAL results of its products
//! from the national feed ([`follow_national`]).

use ocop_kit::filter::Filter;
use ocop_kit::mirror;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::EvaluationResult;
use ocop_proto::feed::v1::Change;
use prost::Message;
use sqlx::PgPool;

/// The label of a mirrored nomination.
const NOMINATION: &str = "nomination";

/// What the national deployment keeps of a province's evaluation feed: its
/// published results, nominations labelled apart.
pub fn mirrored(change: &Change) -> Option<&'static str> {
    if !(change.resource.starts_with("evaluationRounds/") && change.resource.ends_with("/result")) {
        return None;
    }
    let nominated = EvaluationResult::decode(change.payload.as_slice()).is_ok_and(|r| r.nominated);
    Some(if nominated { NOMINATION } else { "result" })
}

/// The label of a CENTRAL result a province mirrors from the national feed.
const CENTRAL_RESULT: &str = "central_result";

/// On a province whose `[federation.national]` names the national evaluation
/// service: a follower of its feed keeping the CENTRAL results of this
/// province's products. Decision 26/2026 Điều 7.4 lets the province certify
/// 3 or 4 stars on a central result below 90; its certification service asks
/// this service for that result (`GetResult` answers from the mirror).
pub fn follow_national(
    config: &ocop_kit::config::Config,
    db: &PgPool,
) -> Option<ocop_kit::server::BoxFuture<'static, ()>> {
    mirror::follow_national(
        config,
        db,
        "evaluation",
        |n| &n.evaluation_url,
        |province| mirror::Mirror {
            origin: "national".into(),
            keep: Box::new(move |change| central_result_of(change, &province)),
            pass_on: false,
        },
    )
}

/// Whether `change` is a CENTRAL result of a product of `province`.
fn central_result_of(change: &Change, province: &str) -> Option<&'static str> {
    if !(change.resource.starts_with("evaluationRounds/") && change.resource.ends_with("/result")) {
        return None;
    }
    let result = EvaluationResult::decode(change.payload.as_slice()).ok()?;
    (result.level() == ocop_proto::evaluation::v1::RoundLevel::Central && result.province_code == province)
        .then_some(CENTRAL_RESULT)
}

/// Rows read per query while filtering.
const SCAN: i64 = 500;

/// A page of the provinces' nominations waiting for the central round, by
/// result name: a nomination leaves the queue when its product is entered in
/// a CENTRAL round that is not cancelled; under 26/2026 it enters the queue
/// when its province proposes it. `filter` on `province_code`,
/// `group_code` and `subgroup_code` as on a province.
pub async fn nominations(
    db: &PgPool,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<EvaluationResult>, String)> {
    let filter = Filter::parse(filter, &["province_code", "group_code", "subgroup_code"])?;
    let query_id = format!("national-nominations|{}", filter.canonical());
    let page = Page::parse(page_size, page_token, &query_id)?;
    // Under Decision 26/2026 a nomination reaches the ministry once its
    // province has proposed it (Điều 7.3.e), after the chairman's approval.
    let wanted = |r: &EvaluationResult| {
        (r.regime != crate::entries::admission::regime_key(ocop_kit::regime::Regime::D26_2026) || r.proposal.is_some())
            && [
                ("province_code", &r.province_code),
                ("group_code", &r.group_code),
                ("subgroup_code", &r.subgroup_code),
            ]
            .iter()
            .all(|(field, value)| filter.get(field).is_none_or(|f| f == value.as_str()))
    };
    let mut found = Vec::new();
    let mut after = page.after.clone().unwrap_or_default();
    // Nominations are few (a mean of 90 is rare), so filtering them here is cheap.
    'scan: loop {
        let rows = mirror::page(db, NOMINATION, &after, SCAN).await?;
        let Some(last) = rows.last() else { break };
        after = last.resource.clone();
        let results = rows
            .iter()
            .map(|row| {
                EvaluationResult::decode(row.payload.as_slice())
                    .map_err(|e| Error::internal(format!("mirrored {} does not decode: {e}", row.resource)))
            })
            .collect::<Result<Vec<_>>>()?;
        let entered = entered_centrally(db, &results).await?;
        for result in results {
            if wanted(&result) && !entered.contains(&result.product) {
                found.push(result);
                if found.len() as i64 == page.fetch_limit() {
                    break 'scan;
                }
            }
        }
    }
    let next = page.finish(&mut found, |r| r.name.clone(), &query_id);
    Ok((found, next))
}

/// The products of `results` already entered in a live CENTRAL round.
async fn entered_centrally(db: &PgPool, results: &[EvaluationResult]) -> Result<std::collections::HashSet<String>> {
    let products: Vec<&str> = results.iter().map(|r| r.product.as_str()).collect();
    let entered: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT e.product FROM entries e JOIN rounds r ON r.id = e.round_id
         WHERE r.level = 'central' AND r.state <> 'cancelled' AND e.product = ANY($1)",
    )
    .bind(&products)
    .fetch_all(db)
    .await?;
    Ok(entered.into_iter().collect())
}
