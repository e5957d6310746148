//! Steps the tests of Decision 26/2026's procedure share: rounds of a batch,
//! dossiers filed in the registry, entries made with them, and what the
//! evaluation schema holds (a refusal writes nothing).

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::{CreateProductDossierRequest, DossierKind, Product, ProductDossier};
use ocop_testkit::authorized;
use ocop_testkit::flows::dossier_of;
use tonic_types::StatusExt;

use crate::support::world::*;

pub(crate) fn day(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// The ErrorInfo metadata `key` of a refusal.
pub(crate) fn metadata(status: &tonic::Status, key: &str) -> String {
    status
        .get_details_error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

/// A round of `level` (province 38's, or the ministry's) decided on `date`;
/// an additional batch (3 or more) names its basis.
pub(crate) fn round(level: RoundLevel, batch: i32, (year, month, d): (i32, i32, i32)) -> EvaluationRound {
    EvaluationRound {
        level: level as i32,
        province_code: if level == RoundLevel::Central {
            String::new()
        } else {
            "38".into()
        },
        decision_date: Some(day(year, month, d)),
        batch_basis: if batch >= 3 {
            "Quyết định 45/QĐ-UBND; Kế hoạch 12/KH-UBND".into()
        } else {
            String::new()
        },
        ..province_round(year, batch, full_council())
    }
}

impl World {
    /// Creates and opens `round` as `token`.
    pub(crate) async fn open(&mut self, round: EvaluationRound, token: &str) -> EvaluationRound {
        let created = self.create_round(round, token).await.unwrap();
        self.evaluation
            .open_evaluation_round(authorized(
                OpenEvaluationRoundRequest {
                    name: created.name.clone(),
                    etag: created.etag.clone(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .evaluation_round
            .unwrap()
    }

    /// Files a dossier of `product` of `kind` on `filed`, received on `received`,
    /// by an officer of its commune.
    pub(crate) async fn file(
        &mut self,
        product: &Product,
        kind: DossierKind,
        filed: (i32, u8, u8),
        received: Option<Date>,
    ) -> ProductDossier {
        let commune = self
            .env
            .signer
            .issue(
                "can-bo-xa",
                "commune_officer",
                Some("38"),
                Some(&product.origin_commune_code),
                600,
            )
            .unwrap();
        self.registry
            .create_product_dossier(authorized(
                CreateProductDossierRequest {
                    parent: product.name.clone(),
                    product_dossier: Some(ProductDossier {
                        received_date: received,
                        ..dossier_of(product, kind, filed)
                    }),
                    ..Default::default()
                },
                &commune,
            ))
            .await
            .unwrap()
            .into_inner()
            .product_dossier
            .unwrap()
    }

    /// Enters `entry` (product, dossier, nomination) into `round` as `token`.
    pub(crate) async fn enter_as(&mut self, round: &str, entry: Entry, token: &str) -> Result<Entry, tonic::Status> {
        self.evaluation
            .create_entry(authorized(
                CreateEntryRequest {
                    parent: round.into(),
                    entry: Some(entry),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().entry.unwrap())
    }

    /// Enters `product` with `dossier` into `round` as the province's officer.
    pub(crate) async fn enter_with(
        &mut self,
        round: &str,
        product: &Product,
        dossier: &str,
    ) -> Result<Entry, tonic::Status> {
        let officer = self.officer.clone();
        let entry = Entry {
            product: product.name.clone(),
            product_dossier: dossier.into(),
            ..Default::default()
        };
        self.enter_as(round, entry, &officer).await
    }

    /// A round's entries, as `ListEntries` gives them with `filter`.
    pub(crate) async fn entries(&mut self, parent: &str, filter: &str) -> Vec<Entry> {
        let officer = self.officer.clone();
        self.evaluation
            .list_entries(authorized(
                ListEntriesRequest {
                    parent: parent.into(),
                    filter: filter.into(),
                    page_size: 500,
                    ..Default::default()
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .entries
    }

    /// Rounds, entries, results, audit and outbox rows of the evaluation schema.
    pub(crate) async fn written(&self) -> (i64, i64, i64, i64, i64) {
        let db = sqlx::PgPool::connect(&self.env.config.database.url).await.unwrap();
        let counts = sqlx::query_as(
            "SELECT (SELECT count(*) FROM evaluation.rounds), (SELECT count(*) FROM evaluation.entries),
                    (SELECT count(*) FROM evaluation.results), (SELECT count(*) FROM evaluation.audit_events),
                    (SELECT count(*) FROM evaluation.outbox)",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        db.close().await;
        counts
    }
}
