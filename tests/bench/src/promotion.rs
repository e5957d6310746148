//! Issue 6's figures: ListCatalog's first page and GetStatistics over a
//! province of 3,500 certified products, and how long a revocation takes to
//! leave the catalog through the certification feed.

use std::time::{Duration, Instant};

use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{
    GetCertificateRequest, RevocationGround, RevocationReason, RevokeCertificateRequest,
};
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::promotion::v1::{GetStatisticsRequest, ListCatalogRequest};
use ocop_testkit::{TestEnv, authorized};
use sqlx::PgPool;
use tonic::transport::Channel;

/// Fills the promotion read models with `n` certified products of province
/// 38 (and as many again elsewhere), as the feeds would have: the read
/// figures do not depend on how the rows arrived.
pub(crate) async fn fill_catalog(db: &PgPool, n: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO promotion.catalog (code, product, product_name, subject, subject_name, province_code, province_name,
             commune_code, group_code, stars, issue_date, valid_until)
         SELECT p || '-B' || lpad(i::text, 7, '0'), 'subjects/b' || i || '/products/p' || i, 'Sản phẩm ' || i,
                'subjects/b' || i, 'HTX số ' || i, p, 'Tỉnh ' || p, '1' || lpad((i % 160)::text, 4, '0'),
                (ARRAY['thuc-pham', 'do-uong', 'thao-duoc', 'thu-cong'])[i % 4 + 1], 3 + i % 3,
                date '2025-01-01' + (i % 600)::int, date '2028-01-01' + (i % 600)::int
         FROM generate_series(1, $1) AS i, unnest(ARRAY['38', '01']) AS p
         ON CONFLICT DO NOTHING",
    )
    .bind(n)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO promotion.registered_products (product, subject, province_code, group_code, deleted)
         SELECT 'subjects/b' || i || '/products/p' || i, 'subjects/b' || i, '38', 'thuc-pham', false
         FROM generate_series(1, $1 * 3 / 2) AS i ON CONFLICT DO NOTHING",
    )
    .bind(n)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO promotion.producers (subject, kind, province_code)
         SELECT 'subjects/b' || i, (ARRAY['cooperative', 'enterprise', 'household_business'])[i % 3 + 1], '38'
         FROM generate_series(1, $1) AS i ON CONFLICT DO NOTHING",
    )
    .bind(n)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO promotion.targets (province_code, year, id, kind, min_stars, max_stars, value, description)
         VALUES ('38', 2026, 'share-3-stars', 'certified_share_percent', 3, 5, 70, 'bench'),
                ('38', 2026, '4-star', 'certified_products', 4, 4, 20, 'bench'),
                ('38', 2026, 'communes', 'sales_point_communes', 3, 5, 18, 'bench')
         ON CONFLICT DO NOTHING",
    )
    .execute(db)
    .await?;
    sqlx::raw_sql("ANALYZE promotion.catalog; ANALYZE promotion.registered_products; ANALYZE promotion.producers")
        .execute(db)
        .await?;
    Ok(())
}

/// One ListCatalog first page of province 38.
pub(crate) async fn list(channel: Channel) -> bool {
    PromotionServiceClient::new(channel)
        .list_catalog(ListCatalogRequest {
            filter: "province_code = \"38\"".into(),
            ..Default::default()
        })
        .await
        .is_ok_and(|r| r.into_inner().entries.len() == 50)
}

/// One GetStatistics of province 38.
pub(crate) async fn statistics(channel: Channel) -> bool {
    PromotionServiceClient::new(channel)
        .get_statistics(GetStatisticsRequest {
            province_code: "38".into(),
            year: 2026,
        })
        .await
        .is_ok()
}

/// Revokes each certificate and measures how long until the catalog no longer shows it.
pub(crate) async fn revocation_latency(
    env: &TestEnv,
    certification: &str,
    promotion: &str,
    codes: &[String],
) -> anyhow::Result<Vec<Duration>> {
    let officer = env.token("province_officer", Some("38"), None);
    let mut certification =
        CertificationServiceClient::new(Channel::from_shared(certification.to_owned())?.connect().await?);
    let mut promotion = PromotionServiceClient::new(Channel::from_shared(promotion.to_owned())?.connect().await?);
    let mut latencies = Vec::new();
    for code in codes {
        let name = format!("certificates/{code}");
        // Listed first (the feed may still be delivering it).
        let listed = |promotion: &mut PromotionServiceClient<Channel>| {
            let request = ListCatalogRequest {
                query: "nem chua bench".into(),
                ..Default::default()
            };
            let mut promotion = promotion.clone();
            let code = code.clone();
            async move {
                promotion
                    .list_catalog(request)
                    .await
                    .map(|r| r.into_inner().entries.iter().any(|e| e.code == code))
                    .unwrap_or(false)
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !listed(&mut promotion).await {
            anyhow::ensure!(Instant::now() < deadline, "{code} never reached the catalog");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let cert = certification
            .get_certificate(authorized(GetCertificateRequest { name: name.clone() }, &officer))
            .await?
            .into_inner()
            .certificate
            .unwrap_or_default();
        let started = Instant::now();
        certification
            .revoke_certificate(authorized(
                RevokeCertificateRequest {
                    name,
                    etag: cert.etag,
                    reason: RevocationReason::Other as i32,
                    text: "bench".into(),
                    document: "bench".into(),
                    ground: RevocationGround::OtherConclusion as i32,
                    conclusion_document: "bench".into(),
                    conclusion_date: cert.issue_date,
                },
                &officer,
            ))
            .await?;
        while listed(&mut promotion).await {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "{code} never left the catalog"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}
