//! The expiry sweep: records the expiry of certificates past their validity
//! and the notice due 30 days before it (ocop-domain.md §1), with their
//! history, audit and change-feed rows. Readers never wait for it: expiry is
//! computed when a certificate is read. It runs every
//! `certification.sweep_interval_s` and at start.

use std::time::Duration;

use ocop_kit::Result;
use ocop_kit::auth::{Principal, Role};

use crate::certificates::events;
use crate::certificates::store::{COLUMNS, ENDS, Row};
use crate::rules::validity::NOTICE_DAYS;
use crate::service::Certification;

/// At most this many certificates per transaction.
const BATCH: i64 = 500;

/// What one sweep recorded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Certificates marked expired.
    pub expired: usize,
    /// Expiry notices recorded.
    pub notices: usize,
}

fn system() -> Principal {
    Principal {
        subject: "system".into(),
        role: Role::Service,
        province: None,
        commune: None,
    }
}

/// Records every expiry and notice due on `today`.
pub async fn sweep(svc: &Certification, today: time::Date) -> Result<Swept> {
    let mut swept = Swept::default();
    loop {
        // An extended certificate expires when its extension ends.
        let n = step(
            svc,
            &format!(
                "UPDATE certificates SET state = 'expired', version = version + 1, update_time = now()
                 WHERE code IN (SELECT code FROM certificates WHERE state = 'active' AND {ENDS} <= $1
                                ORDER BY code LIMIT $2 FOR UPDATE SKIP LOCKED)"
            ),
            today,
            "expired",
            "36 months of validity ended",
        )
        .await?;
        swept.expired += n;
        if n < BATCH as usize {
            break;
        }
    }
    let due = today + time::Duration::days(NOTICE_DAYS);
    loop {
        let n = step(
            svc,
            "UPDATE certificates SET expiry_notice_time = now(), version = version + 1, update_time = now()
             WHERE code IN (SELECT code FROM certificates WHERE state = 'active' AND expiry_notice_time IS NULL
                            AND expire_date <= $1 AND extended_until IS NULL ORDER BY code LIMIT $2 FOR UPDATE SKIP LOCKED)",
            due,
            "expiry_notice",
            "expires within 30 days: the producer is to be notified to apply for renewal",
        )
        .await?;
        swept.notices += n;
        if n < BATCH as usize {
            break;
        }
    }
    Ok(swept)
}

async fn step(svc: &Certification, update: &str, day: time::Date, kind: &'static str, why: &str) -> Result<usize> {
    let mut tx = svc.db.begin().await?;
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{update} RETURNING {COLUMNS}")))
        .bind(day)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
    let who = system();
    for row in &rows {
        let before = ocop_kit::etag::of(row.version - 1);
        events::changed(&mut tx, svc, &who, row, &before, kind, why, "").await?;
    }
    tx.commit().await?;
    for row in &rows {
        events::refresh_cache(svc, row).await;
    }
    Ok(rows.len())
}

/// Sweeps now and then every `interval`, until the service stops.
pub async fn run(svc: Certification, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep(&svc, svc.today()).await {
            Ok(s) if s.expired + s.notices > 0 => {
                tracing::info!(expired = s.expired, notices = s.notices, "expiry sweep")
            }
            Ok(_) => {}
            // The database may not be migrated or reachable yet: next tick.
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed; retrying next time"),
        }
    }
}
