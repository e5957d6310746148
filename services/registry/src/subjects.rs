//! Producers (chủ thể): create, read, list, update, soft delete, search.

use ocop_kit::auth::Principal;
use ocop_kit::date::to_timestamp;
use ocop_kit::error::Violations;
use ocop_kit::filter::Filter;
use ocop_kit::paging::Page;
use ocop_kit::{Error, ErrorKind, Result};
use ocop_proto::registry::v1::{Representative, Subject, SubjectKind, SubjectState};
use prost::Message;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::access::{require_province, require_writer};
use crate::audit::{self, Change};
use crate::ids::{self, check_etag, etag, subject_name};
use crate::listing::{Order, push_state};
use crate::search;
use crate::service::Registry;
use ocop_kit::idempotency::{self, Claim};

/// Filterable fields of `ListSubjects`.
pub const FILTER_FIELDS: &[&str] = &["province_code", "commune_code", "kind", "state"];
/// Fields `UpdateSubject` may change.
pub const UPDATABLE: &[&str] = &[
    "kind",
    "legal_name",
    "registration_number",
    "representative",
    "representative.full_name",
    "representative.is_woman",
    "representative.is_ethnic_minority",
    "phone",
    "email",
    "address",
    "commune_code",
    "state",
];

macro_rules! subject_columns {
    () => {
        "id, kind, legal_name, registration_number, representative_name, representative_is_woman,
         representative_is_ethnic_minority, phone, email, address, commune_code, province_code, state,
         version, create_time, update_time, delete_time"
    };
}
pub(crate) use subject_columns;

/// A row of `subjects`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    /// Resource id.
    pub id: String,
    pub(crate) kind: String,
    pub(crate) legal_name: String,
    pub(crate) registration_number: String,
    pub(crate) representative_name: String,
    pub(crate) representative_is_woman: bool,
    pub(crate) representative_is_ethnic_minority: bool,
    pub(crate) phone: String,
    pub(crate) email: String,
    pub(crate) address: String,
    /// Commune (2025 code).
    pub commune_code: String,
    /// Province (2025 code).
    pub province_code: String,
    /// `active`, `suspended` or `dissolved`.
    pub state: String,
    /// Row version (etag).
    pub version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    /// Set when soft-deleted.
    pub delete_time: Option<time::OffsetDateTime>,
}

fn kind_str(kind: SubjectKind) -> Option<&'static str> {
    match kind {
        SubjectKind::Unspecified => None,
        SubjectKind::Cooperative => Some("cooperative"),
        SubjectKind::CooperativeGroup => Some("cooperative_group"),
        SubjectKind::Enterprise => Some("enterprise"),
        SubjectKind::HouseholdBusiness => Some("household_business"),
    }
}

fn state_str(state: SubjectState) -> Option<&'static str> {
    match state {
        SubjectState::Unspecified => None,
        SubjectState::Active => Some("active"),
        SubjectState::Suspended => Some("suspended"),
        SubjectState::Dissolved => Some("dissolved"),
    }
}

impl Row {
    /// An empty row with id `id`, to fill with [`Row::apply`].
    pub(crate) fn blank(id: String) -> Row {
        let now = time::OffsetDateTime::now_utc();
        Row {
            id,
            kind: String::new(),
            legal_name: String::new(),
            registration_number: String::new(),
            representative_name: String::new(),
            representative_is_woman: false,
            representative_is_ethnic_minority: false,
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            commune_code: String::new(),
            province_code: String::new(),
            state: String::new(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        }
    }

    /// The proto form.
    pub fn to_proto(&self) -> Subject {
        let kind = match self.kind.as_str() {
            "cooperative" => SubjectKind::Cooperative,
            "cooperative_group" => SubjectKind::CooperativeGroup,
            "enterprise" => SubjectKind::Enterprise,
            _ => SubjectKind::HouseholdBusiness,
        };
        let state = match self.state.as_str() {
            "active" => SubjectState::Active,
            "suspended" => SubjectState::Suspended,
            _ => SubjectState::Dissolved,
        };
        Subject {
            name: subject_name(&self.id),
            kind: kind as i32,
            legal_name: self.legal_name.clone(),
            registration_number: self.registration_number.clone(),
            representative: Some(Representative {
                full_name: self.representative_name.clone(),
                is_woman: self.representative_is_woman,
                is_ethnic_minority: self.representative_is_ethnic_minority,
            }),
            phone: self.phone.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            commune_code: self.commune_code.clone(),
            province_code: self.province_code.clone(),
            state: state as i32,
            etag: etag(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
            delete_time: self.delete_time.map(to_timestamp),
        }
    }

    /// Applies the proto's values (validated) to this row; `mask` limits which.
    pub(crate) fn apply(&mut self, s: &Subject, mask: Option<&[String]>, v: &mut Violations) {
        let wants = |f: &str| mask.is_none_or(|m| m.iter().any(|p| p == f || f.starts_with(&format!("{p}."))));
        if wants("kind") {
            match kind_str(s.kind()) {
                Some(k) => self.kind = k.into(),
                None => v.push(
                    "subject.kind",
                    "required: cooperative, cooperative group, enterprise or household business",
                ),
            }
        }
        if wants("legal_name") {
            self.legal_name = s.legal_name.trim().to_owned();
            check_len(v, "subject.legal_name", &self.legal_name, 1, 300);
        }
        if wants("registration_number") {
            self.registration_number = s.registration_number.trim().to_owned();
            let ok = (5..=30).contains(&self.registration_number.len())
                && self
                    .registration_number
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-./".contains(c));
            if !ok {
                v.push(
                    "subject.registration_number",
                    "required: 5 to 30 of letters, digits, '-', '.', '/' (e.g. 2801234567)",
                );
            }
        }
        let rep = s.representative.clone().unwrap_or_default();
        if wants("representative.full_name") {
            self.representative_name = rep.full_name.trim().to_owned();
            check_len(v, "subject.representative.full_name", &self.representative_name, 1, 200);
        }
        if wants("representative.is_woman") {
            self.representative_is_woman = rep.is_woman;
        }
        if wants("representative.is_ethnic_minority") {
            self.representative_is_ethnic_minority = rep.is_ethnic_minority;
        }
        if wants("phone") {
            self.phone = s.phone.trim().to_owned();
            let digits = self.phone.chars().filter(char::is_ascii_digit).count();
            let ok = self.phone.is_empty()
                || ((8..=15).contains(&digits)
                    && self
                        .phone
                        .chars()
                        .enumerate()
                        .all(|(i, c)| c.is_ascii_digit() || " .-".contains(c) || (i == 0 && c == '+')));
            if !ok {
                v.push(
                    "subject.phone",
                    "8 to 15 digits, optionally with a leading + and spaces, dots or dashes",
                );
            }
        }
        if wants("email") {
            self.email = s.email.trim().to_owned();
            let ok = self.email.is_empty()
                || self
                    .email
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'));
            if !ok {
                v.push("subject.email", "not an e-mail address");
            }
        }
        if wants("address") {
            self.address = s.address.trim().to_owned();
            check_len(v, "subject.address", &self.address, 0, 500);
        }
        if wants("state") {
            match state_str(s.state()) {
                Some(st) => self.state = st.into(),
                None if mask.is_none() => self.state = "active".into(),
                None => v.push(
                    "subject.state",
                    "required when in update_mask: active, suspended or dissolved",
                ),
            }
        }
    }
}

fn check_len(v: &mut Violations, field: &str, value: &str, min: usize, max: usize) {
    let n = value.chars().count();
    if n < min || n > max {
        v.push(
            field,
            if min > 0 {
                format!("required, {min} to {max} characters")
            } else {
                format!("at most {max} characters")
            },
        );
    }
}

/// Registers a producer.
pub async fn create(
    svc: &Registry,
    who: &Principal,
    subject: &Subject,
    subject_id: &str,
    request_id: &str,
) -> Result<Subject> {
    require_writer(who)?;
    let mut v = Violations::default();
    let id = ids::id_or_generate("subject_id", subject_id)
        .map_err(|e| v.push("subject_id", e.message()))
        .ok();
    let request_id = idempotency::parse("request_id", request_id)
        .map_err(|e| v.push("request_id", e.message()))
        .ok()
        .flatten();
    let mut row = Row::blank(id.unwrap_or_default());
    row.commune_code = subject.commune_code.trim().to_owned();
    row.apply(subject, None, &mut v);
    match svc
        .units
        .commune_in_force("subject.commune_code", &row.commune_code)
        .await
    {
        Ok(province) => row.province_code = province,
        Err(e) if e.kind() == ErrorKind::InvalidArgument => {
            v.push("subject.commune_code", e.violations()[0].description.clone())
        }
        Err(e) => return Err(e),
    }
    v.check()?;
    require_province(&svc.here, who, &row.province_code, "the producer's commune")?;

    let name = subject_name(&row.id);
    let mut tx = svc.db.begin().await?;
    if let Claim::Done(first, _) = idempotency::claim(&mut tx, request_id, "CreateSubject", &name).await? {
        drop(tx);
        return get(svc, &first).await;
    }
    ensure_unique(&mut tx, &row.registration_number, None).await?;
    let inserted = sqlx::query_as::<_, Row>(concat!(
        "INSERT INTO subjects (id, kind, legal_name, registration_number, representative_name, representative_is_woman,
                representative_is_ethnic_minority, phone, email, address, commune_code, province_code, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (id) DO NOTHING RETURNING ",
        subject_columns!()
    ))
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.legal_name)
    .bind(&row.registration_number)
    .bind(&row.representative_name)
    .bind(row.representative_is_woman)
    .bind(row.representative_is_ethnic_minority)
    .bind(&row.phone)
    .bind(&row.email)
    .bind(&row.address)
    .bind(&row.commune_code)
    .bind(&row.province_code)
    .bind(&row.state)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        Error::new(
            ErrorKind::AlreadyExists,
            "ALREADY_EXISTS",
            format!("{name} already exists; choose another subject_id"),
        )
        .with_metadata("resource", name.clone())
    })?;
    let proto = inserted.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "CreateSubject",
            kind: "created",
            resource: &name,
            province: &inserted.province_code,
            etag_before: "",
            etag_after: &proto.etag,
            request_id: &request_id.map(|r| r.to_string()).unwrap_or_default(),
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}

/// ALREADY_EXISTS, naming the producer that holds `number`, unless it is `except`.
async fn ensure_unique(tx: &mut PgConnection, number: &str, except: Option<&str>) -> Result<()> {
    let holder: Option<String> = sqlx::query_scalar("SELECT id FROM subjects WHERE registration_number = $1")
        .bind(number)
        .fetch_optional(&mut *tx)
        .await?;
    match holder {
        Some(id) if Some(id.as_str()) != except => Err(Error::new(
            ErrorKind::AlreadyExists,
            "REGISTRATION_NUMBER_TAKEN",
            format!(
                "registration number {number} is already registered to {}",
                subject_name(&id)
            ),
        )
        .with_metadata("existing", subject_name(&id))),
        _ => Ok(()),
    }
}

/// One producer, from the cache when warm.
pub async fn get(svc: &Registry, name: &str) -> Result<Subject> {
    let id = ids::parse_subject("name", name)?;
    let found = svc
        .cache
        .get_or_load(&cache_key(&id), || async {
            fetch(&svc.db, &id)
                .await?
                .map(|r| r.to_proto())
                .ok_or_else(|| Error::not_found(subject_name(&id)))
        })
        .await;
    // On the national deployment, a province's producer (never cached:
    // only its feed changes it).
    match found {
        Err(e) if e.kind() == ErrorKind::NotFound => ocop_kit::mirror::find(&svc.db, name).await?.ok_or(e),
        found => found,
    }
}

/// The row of `id`, if any.
pub async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, id: &str) -> Result<Option<Row>> {
    Ok(
        sqlx::query_as(concat!("SELECT ", subject_columns!(), " FROM subjects WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

/// The row of `id`, locked for update; NOT_FOUND when missing or deleted.
pub async fn lock(tx: &mut PgConnection, id: &str) -> Result<Row> {
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        subject_columns!(),
        " FROM subjects WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(row) if row.delete_time.is_none() => Ok(row),
        // A producer mirrored from a province is not ours to change.
        _ => Err(ocop_kit::mirror::missing(&mut *tx, &subject_name(id)).await),
    }
}

/// A page of producers.
pub async fn list(
    svc: &Registry,
    page_size: i32,
    page_token: &str,
    filter: &str,
    order_by: &str,
    show_deleted: bool,
) -> Result<(Vec<Subject>, String)> {
    let filter = Filter::parse(filter, FILTER_FIELDS)?;
    let order = Order::parse(order_by, "legal_name")?;
    let query_id = format!("{}|{}|{show_deleted}", filter.canonical(), order.id());
    let page = Page::parse(page_size, page_token, &query_id)?;
    let mut sql = QueryBuilder::<Postgres>::new(concat!("SELECT ", subject_columns!(), " FROM subjects WHERE TRUE"));
    push_filters(&mut sql, &filter)?;
    if !show_deleted {
        sql.push(" AND delete_time IS NULL");
    }
    if let Some(after) = &page.after {
        order.push_after(&mut sql, "legal_name", &["id"], after)?;
    }
    order.push_order(&mut sql, "legal_name", &["id"]);
    sql.push(" LIMIT ").push_bind(page.fetch_limit());
    let mut rows: Vec<Row> = sql.build_query_as().fetch_all(&svc.db).await?;
    let next = page.finish(
        &mut rows,
        |r| order.cursor(r.create_time, &r.legal_name, &[&r.id]),
        &query_id,
    );
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// Changes the fields in `mask`.
pub async fn update(svc: &Registry, who: &Principal, subject: &Subject, mask: &[String]) -> Result<Subject> {
    require_writer(who)?;
    let id = ids::parse_subject("subject.name", &subject.name)?;
    check_mask(mask, UPDATABLE)?;
    let name = subject_name(&id);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &id).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    check_etag("subject.etag", &subject.etag, &name, current.version)?;
    let mut row = current.clone();
    let mut v = Violations::default();
    row.apply(subject, Some(mask), &mut v);
    if mask.iter().any(|m| m == "commune_code") {
        row.commune_code = subject.commune_code.trim().to_owned();
        match svc
            .units
            .commune_in_force("subject.commune_code", &row.commune_code)
            .await
        {
            Ok(province) => row.province_code = province,
            Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                v.push("subject.commune_code", e.violations()[0].description.clone())
            }
            Err(e) => return Err(e),
        }
    }
    v.check()?;
    if row.province_code != current.province_code {
        require_province(&svc.here, who, &row.province_code, "the new commune")?;
    }
    if row.registration_number != current.registration_number {
        ensure_unique(&mut tx, &row.registration_number, Some(&id)).await?;
    }
    let updated: Row = sqlx::query_as(concat!(
        "UPDATE subjects SET kind = $2, legal_name = $3, registration_number = $4, representative_name = $5,
                representative_is_woman = $6, representative_is_ethnic_minority = $7, phone = $8, email = $9,
                address = $10, commune_code = $11, province_code = $12, state = $13,
                version = version + 1, update_time = now()
             WHERE id = $1 RETURNING ",
        subject_columns!()
    ))
    .bind(&id)
    .bind(&row.kind)
    .bind(&row.legal_name)
    .bind(&row.registration_number)
    .bind(&row.representative_name)
    .bind(row.representative_is_woman)
    .bind(row.representative_is_ethnic_minority)
    .bind(&row.phone)
    .bind(&row.email)
    .bind(&row.address)
    .bind(&row.commune_code)
    .bind(&row.province_code)
    .bind(&row.state)
    .fetch_one(&mut *tx)
    .await?;
    // Products take their province from their producer.
    let moved: Vec<String> = if updated.province_code != current.province_code {
        sqlx::query_scalar("UPDATE products SET province_code = $2 WHERE subject_id = $1 RETURNING id")
            .bind(&id)
            .bind(&updated.province_code)
            .fetch_all(&mut *tx)
            .await?
    } else {
        Vec::new()
    };
    let proto = updated.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "UpdateSubject",
            kind: "updated",
            resource: &name,
            province: &updated.province_code,
            etag_before: &etag(current.version),
            etag_after: &proto.etag,
            request_id: "",
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
    svc.cache.put(&cache_key(&id), &proto).await;
    for product in moved {
        svc.cache.invalidate(&crate::products::cache_key(&id, &product)).await;
    }
    Ok(proto)
}

/// Soft-deletes a producer (and, with `force`, its products).
pub async fn delete(svc: &Registry, who: &Principal, name: &str, given_etag: &str, force: bool) -> Result<Subject> {
    require_writer(who)?;
    let id = ids::parse_subject("name", name)?;
    let name = subject_name(&id);
    let mut tx = svc.db.begin().await?;
    let current = lock(&mut tx, &id).await?;
    require_province(&svc.here, who, &current.province_code, &name)?;
    check_etag("etag", given_etag, &name, current.version)?;
    let products: Vec<String> =
        sqlx::query_scalar("SELECT id FROM products WHERE subject_id = $1 AND delete_time IS NULL ORDER BY id")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
    if !products.is_empty() && !force {
        return Err(Error::failed_precondition(
            "HAS_PRODUCTS",
            format!(
                "{name} still has {} product(s) (e.g. {}); delete them first or set force",
                products.len(),
                crate::ids::product_name(&id, &products[0])
            ),
        ));
    }
    let deleted: Row = sqlx::query_as(concat!(
        "UPDATE subjects SET delete_time = now(), version = version + 1, update_time = now() WHERE id = $1 RETURNING ",
        subject_columns!()
    ))
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    for product in &products {
        crate::products::soft_delete_in(&mut tx, who, &id, product, "DeleteSubject").await?;
    }
    let proto = deleted.to_proto();
    audit::record(
        &mut tx,
        who,
        Change {
            method: "DeleteSubject",
            kind: "deleted",
            resource: &name,
            province: &deleted.province_code,
            etag_before: &etag(current.version),
            etag_after: &proto.etag,
            request_id: "",
            payload: proto.encode_to_vec(),
        },
    )
    .await?;
    tx.commit().await?;
    svc.cache.put(&cache_key(&id), &proto).await;
    for product in products {
        svc.cache.invalidate(&crate::products::cache_key(&id, &product)).await;
    }
    Ok(proto)
}

/// Producers whose name or registration number matches `query`, best first.
pub async fn search(
    svc: &Registry,
    query: &str,
    page_size: i32,
    page_token: &str,
    filter: &str,
) -> Result<(Vec<Subject>, String)> {
    let filter = Filter::parse(filter, &["province_code", "kind"])?;
    let mut sql = QueryBuilder::<Postgres>::new(concat!(
        "SELECT ",
        subject_columns!(),
        " FROM subjects WHERE delete_time IS NULL"
    ));
    push_filters(&mut sql, &filter)?;
    let (rows, next): (Vec<Row>, String) =
        search::run(&svc.db, sql, "id", query, page_size, page_token, &filter.canonical()).await?;
    Ok((rows.iter().map(Row::to_proto).collect(), next))
}

/// The cache key of a producer.
pub fn cache_key(id: &str) -> String {
    format!("subject:{id}")
}

fn push_filters(sql: &mut QueryBuilder<Postgres>, filter: &Filter) -> Result<()> {
    if let Some(p) = filter.get("province_code") {
        sql.push(" AND province_code = ").push_bind(p.to_owned());
    }
    if let Some(c) = filter.get("commune_code") {
        sql.push(" AND commune_code = ").push_bind(c.to_owned());
    }
    if let Some(k) = filter.get("kind") {
        if !["cooperative", "cooperative_group", "enterprise", "household_business"].contains(&k) {
            return Err(Error::invalid(
                "filter",
                format!("kind `{k}` is not cooperative, cooperative_group, enterprise or household_business"),
            ));
        }
        sql.push(" AND kind = ").push_bind(k.to_owned());
    }
    push_state(sql, filter, &["active", "suspended", "dissolved"])?;
    Ok(())
}

/// INVALID_ARGUMENT unless `mask` is non-empty and names only `allowed` fields.
pub fn check_mask(mask: &[String], allowed: &[&str]) -> Result<()> {
    if mask.is_empty() {
        return Err(Error::invalid(
            "update_mask",
            format!("required: name the fields to change ({})", allowed.join(", ")),
        ));
    }
    let mut v = Violations::default();
    for path in mask {
        if !allowed.contains(&path.as_str()) {
            v.push(
                "update_mask",
                format!("`{path}` cannot be updated; allowed: {}", allowed.join(", ")),
            );
        }
    }
    v.check()
}
