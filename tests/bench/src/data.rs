//! Data the registry scenarios run against: 20,000 products of 2,000
//! producers in Thanh Hóa's communes, and a 3,500-row import file.

use sqlx::PgPool;

/// Product words, so that searches have realistic, overlapping names.
const WORDS: &[&str] = &[
    "Mật ong",
    "Chè xanh",
    "Nem chua",
    "Nước mắm",
    "Bánh gai",
    "Gạo nếp",
    "Rượu",
    "Chiếu cói",
    "Tương",
    "Mắm tôm",
];

/// Fills the registry schema with `subjects` producers and `products` products.
pub(crate) async fn fill_registry(db: &PgPool, subjects: i64, products: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO registry.subjects (id, kind, legal_name, registration_number, representative_name, commune_code, province_code, state)
         SELECT 'bench-s' || i, 'cooperative', 'HTX ' || c.name || ' số ' || i, 'BENCH' || lpad(i::text, 8, '0'), 'Người đại diện',
                c.code, '38', 'active'
         FROM generate_series(1, $1) AS i
         JOIN LATERAL (SELECT code, name FROM registry.administrative_units
                       WHERE scheme = 2025 AND province_code = '38' AND level = 'commune'
                       ORDER BY code OFFSET (i % 160) LIMIT 1) c ON TRUE
         ON CONFLICT DO NOTHING",
    )
    .bind(subjects)
    .execute(db)
    .await?;
    sqlx::query(
        "INSERT INTO registry.products (subject_id, id, display_name, group_code, subgroup_code, origin_commune_code, province_code, state)
         SELECT s.id, 'p' || i, ($3::text[])[i % array_length($3::text[], 1) + 1] || ' ' || regexp_replace(s.legal_name, '^HTX (.*) số .*$', '\\1') || ' ' || i,
                'thuc-pham', 'gia-vi-khac', s.commune_code, '38', 'active'
         FROM generate_series(1, $1) AS i
         JOIN registry.subjects s ON s.id = 'bench-s' || (i % $2 + 1)
         ON CONFLICT DO NOTHING",
    )
    .bind(products)
    .bind(subjects)
    .bind(WORDS.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    .execute(db)
    .await?;
    // Fresh statistics, as autovacuum would give a long-running deployment.
    sqlx::raw_sql("ANALYZE registry.subjects; ANALYZE registry.products")
        .execute(db)
        .await?;
    Ok(())
}

/// A 3,500-row import file (Hà Nội's size): 1,000 producers of Thanh Hóa with
/// 3 or 4 products each. `run` keeps files of several runs apart.
pub(crate) fn import_file(run: usize, communes: &[String]) -> Vec<u8> {
    let mut out = String::from(
        "subject_id,registration_number,subject_kind,legal_name,representative_name,representative_is_woman,representative_is_ethnic_minority,phone,email,address,commune_code,subject_state,product_id,product_name,group_code,subgroup_code,description,origin_commune_code,raw_material_area,product_state,standards\n",
    );
    let mut rows = 0;
    let mut s = 0;
    while rows < 3_500 {
        s += 1;
        let commune = &communes[s % communes.len()];
        for p in 0..(3 + s % 2) {
            if rows == 3_500 {
                break;
            }
            out.push_str(&format!(
                "imp{run}-s{s},IMP{run:02}{s:07},cooperative,HTX Nhập {run} số {s},Nguyễn Thị {s},true,false,,,,{commune},active,p{p},{} nhập {s}-{p},thuc-pham,gia-vi-khac,,,,active,food_safety_certificate|{s}/ATTP|Sở Y tế|2028-01-01\n",
                WORDS[(s + p) % WORDS.len()]
            ));
            rows += 1;
        }
    }
    out.into_bytes()
}

/// The communes of Thanh Hóa in force.
pub(crate) async fn communes(db: &PgPool) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT code FROM registry.administrative_units WHERE scheme = 2025 AND province_code = '38' AND level = 'commune' ORDER BY code",
    )
    .fetch_all(db)
    .await?)
}
