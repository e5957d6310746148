//! Inspection and monitoring after certification (Decision 26/2026/QĐ-TTg
//! Điều 9): periodic and ad-hoc inspections of a certificate in force,
//! `certificates/{code}/inspections/{id}`, what each checked (the criteria
//! maintained, the use of the OCOP mark, the product's information), its
//! findings and its outcome. A non-compliant outcome opens a revocation
//! proposal (Điều 8.3.a) that an officer of the revoking authority decides
//! (`proposals.rs`). Each change is audited and written to the change feed,
//! which the national deployment mirrors.

use ocop_kit::auth::{Principal, Role};
use ocop_kit::create::Create;
use ocop_kit::date::{self, to_timestamp};
use ocop_kit::error::Violations;
use ocop_kit::idempotency;
use ocop_kit::paging::Page;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::{
    CheckResult, CreateInspectionRequest, Inspection, InspectionKind, InspectionOutcome, InspectionState,
    RecordInspectionOutcomeRequest, RevocationGround, RevocationProposal, RevocationProposalState,
};
use prost::Message;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use time::Date;

use crate::certificates::{events, revoke, store};
use crate::re_rating::lock_certificate;
use crate::rules::{authority, grounds};
use crate::service::Certification;

/// The rule, as refusals cite it.
pub const ARTICLE: &str = "Điều 9.4 of Decision 26/2026/QĐ-TTg";

/// A stored revocation proposal and its review.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredProposal {
    /// `proposed`, `accepted` or `rejected`.
    pub state: String,
    /// The ground proposed ([`grounds`]).
    pub ground: String,
    /// Who reviewed it.
    #[serde(default)]
    pub reviewer: String,
    /// When.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub review_time: Option<time::OffsetDateTime>,
    /// Why, in the reviewer's words.
    #[serde(default)]
    pub text: String,
    /// The revocation decision, on acceptance.
    #[serde(default)]
    pub document: String,
}

/// A row of `inspections`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InspectionRow {
    /// Its id.
    pub id: uuid::Uuid,
    /// The certificate's code.
    pub code: String,
    product: String,
    /// The product's province.
    pub province_code: String,
    kind: String,
    inspection_date: Date,
    inspector: String,
    reason: String,
    /// `open` or `concluded`.
    pub state: String,
    criteria: Option<String>,
    mark_use: Option<String>,
    product_information: Option<String>,
    report: String,
    outcome: Option<String>,
    /// The conclusion's document.
    pub conclusion_document: String,
    /// The conclusion's date.
    pub conclusion_date: Option<Date>,
    /// The revocation proposal, when non-compliant.
    pub proposal: Option<Json<StoredProposal>>,
    actor: String,
    /// Etag number.
    pub version: i64,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
}

/// Columns of [`InspectionRow`].
pub const INSPECTION_COLUMNS: &str = "id, code, product, province_code, kind, inspection_date, inspector, reason,
    state, criteria, mark_use, product_information, report, outcome, conclusion_document, conclusion_date, proposal,
    actor, version, create_time, update_time";

/// The name of inspection `id` of certificate `code`.
pub fn name_of(code: &str, id: &uuid::Uuid) -> String {
    format!("certificates/{code}/inspections/{id}")
}

/// The certificate code and id of `certificates/{code}/inspections/{id}`.
pub fn parse_name(field: &str, name: &str) -> Result<(String, uuid::Uuid)> {
    const FORM: &str = "certificates/{code}/inspections/{id}";
    let [code, id] = ocop_kit::names::parse(field, name, FORM, "an inspection")?;
    store::normalize_code(code)
        .zip(uuid::Uuid::parse_str(id).ok())
        .ok_or_else(|| ocop_kit::names::invalid(field, name, FORM, "an inspection"))
}

fn check_of(stored: Option<&str>) -> CheckResult {
    match stored {
        Some("compliant") => CheckResult::Compliant,
        Some("non_compliant") => CheckResult::NonCompliant,
        Some("not_checked") => CheckResult::NotChecked,
        _ => CheckResult::Unspecified,
    }
}

fn check_str(check: CheckResult) -> Option<&'static str> {
    match check {
        CheckResult::Compliant => Some("compliant"),
        CheckResult::NonCompliant => Some("non_compliant"),
        CheckResult::NotChecked => Some("not_checked"),
        CheckResult::Unspecified => None,
    }
}

fn proposal_state(state: &str) -> RevocationProposalState {
    match state {
        "proposed" => RevocationProposalState::Proposed,
        "accepted" => RevocationProposalState::Accepted,
        _ => RevocationProposalState::Rejected,
    }
}

impl InspectionRow {
    /// Its name.
    pub fn name(&self) -> String {
        name_of(&self.code, &self.id)
    }

    /// The proto form.
    pub fn to_proto(&self) -> Inspection {
        Inspection {
            name: self.name(),
            certificate: store::name_of(&self.code),
            product: self.product.clone(),
            province_code: self.province_code.clone(),
            kind: match self.kind.as_str() {
                "periodic" => InspectionKind::Periodic,
                _ => InspectionKind::AdHoc,
            } as i32,
            inspection_date: Some(date::to_proto(self.inspection_date)),
            inspector: self.inspector.clone(),
            reason: self.reason.clone(),
            state: if self.state == "open" {
                InspectionState::Open
            } else {
                InspectionState::Concluded
            } as i32,
            criteria: check_of(self.criteria.as_deref()) as i32,
            mark_use: check_of(self.mark_use.as_deref()) as i32,
            product_information: check_of(self.product_information.as_deref()) as i32,
            report: self.report.clone(),
            outcome: match self.outcome.as_deref() {
                Some("compliant") => InspectionOutcome::Compliant,
                Some("non_compliant") => InspectionOutcome::NonCompliant,
                _ => InspectionOutcome::Unspecified,
            } as i32,
            conclusion_document: self.conclusion_document.clone(),
            conclusion_date: self.conclusion_date.map(date::to_proto),
            revocation_proposal: self.proposal.as_ref().map(|p| RevocationProposal {
                state: proposal_state(&p.state) as i32,
                ground: grounds::of(&p.ground) as i32,
                reviewer: p.reviewer.clone(),
                review_time: p.review_time.map(to_timestamp),
                text: p.text.clone(),
                document: p.document.clone(),
            }),
            actor: self.actor.clone(),
            etag: ocop_kit::etag::of(self.version),
            create_time: Some(to_timestamp(self.create_time)),
            update_time: Some(to_timestamp(self.update_time)),
        }
    }
}

/// Writes the audit and change-feed rows of `row` after a change by `method`
/// (a creation, when there was no etag before).
pub async fn recorded(
    tx: &mut sqlx::PgConnection,
    who: &Principal,
    method: &'static str,
    row: &InspectionRow,
    etag_before: &str,
) -> Result<Inspection> {
    let proto = row.to_proto();
    let kind = if etag_before.is_empty() { "created" } else { "updated" };
    events::resource(
        tx,
        who,
        method,
        kind,
        &proto.name,
        &row.province_code,
        etag_before,
        &proto.etag,
        proto.encode_to_vec(),
    )
    .await?;
    Ok(proto)
}

/// A day of a request, checked into `v`: required, a real day, not after `today`.
fn past_day(
    v: &mut Violations,
    field: &str,
    given: Option<&ocop_proto::common::v1::Date>,
    today: Date,
) -> Option<Date> {
    let Some(given) = given else {
        v.push(field, "required");
        return None;
    };
    match date::from_proto(field, given) {
        Ok(day) if day > today => {
            v.push(field, format!("{day} is in the future; record what was done"));
            None
        }
        Ok(day) => Some(day),
        Err(e) => {
            v.push(
                field,
                e.violations()
                    .first()
                    .map(|f| f.description.clone())
                    .unwrap_or_default(),
            );
            None
        }
    }
}

/// Records an inspection of `r.parent`, OPEN.
pub async fn create(svc: &Certification, who: &Principal, r: &CreateInspectionRequest) -> Result<Inspection> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let code = store::parse_name("parent", &r.parent)?;
    let request_id = idempotency::parse("request_id", &r.request_id)?;
    let today = svc.today();
    let given = r.inspection.clone().unwrap_or_default();
    let mut v = Violations::default();
    let kind = match given.kind() {
        InspectionKind::Periodic => "periodic",
        InspectionKind::AdHoc => "ad_hoc",
        InspectionKind::Unspecified => {
            v.push("inspection.kind", "required: PERIODIC or AD_HOC (Điều 9.2.a)");
            ""
        }
    };
    let day = past_day(
        &mut v,
        "inspection.inspection_date",
        given.inspection_date.as_ref(),
        today,
    );
    let inspector = given.inspector.trim();
    if inspector.is_empty() {
        v.push(
            "inspection.inspector",
            "required: the inspecting body, e.g. \"Văn phòng Điều phối NTM tỉnh Thanh Hóa\"",
        );
    }
    let reason = given.reason.trim();
    if kind == "ad_hoc" && reason.is_empty() {
        v.push(
            "inspection.reason",
            "required for an AD_HOC inspection: why it was made",
        );
    }
    v.check()?;
    let day = day.expect("checked with the other fields");

    let id = uuid::Uuid::now_v7();
    let mut tx = svc.db.begin().await?;
    let cert = lock_certificate(&mut tx, &code).await?;
    authority::require_competent(&svc.here, who, cert.stars, &cert.province_code, &r.parent, ARTICLE)?;
    let name = name_of(&code, &id);
    let create = Create {
        method: "CreateInspection",
        name: &name,
        request_id,
    };
    if let Some(resource) = create.claim(&mut tx).await? {
        drop(tx);
        let (code, id) = parse_name("request_id", &resource)?;
        return Ok(fetch(&svc.db, &code, &id)
            .await?
            .ok_or_else(|| Error::not_found(resource))?
            .to_proto());
    }
    revoke::require_in_force(&cert, today, &r.parent)?;
    if day < cert.issue_date() {
        return Err(Error::invalid(
            "inspection.inspection_date",
            format!(
                "{day} is before the certificate was issued ({}); an inspection follows certification",
                cert.issue_date()
            ),
        ));
    }
    let row: InspectionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO inspections (id, code, product, province_code, kind, inspection_date, inspector, reason, state, actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9)
         RETURNING {INSPECTION_COLUMNS}"
    )))
    .bind(id)
    .bind(&code)
    .bind(&cert.product)
    .bind(&cert.province_code)
    .bind(kind)
    .bind(day)
    .bind(inspector)
    .bind(reason)
    .bind(&who.subject)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    create.commit(tx, who, &row.province_code, &proto.etag, &proto).await?;
    Ok(proto)
}

/// Inspection `id` of `code`, if this deployment keeps it.
pub async fn fetch<'e, E: sqlx::PgExecutor<'e>>(db: E, code: &str, id: &uuid::Uuid) -> Result<Option<InspectionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INSPECTION_COLUMNS} FROM inspections WHERE code = $1 AND id = $2"
    )))
    .bind(code)
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// The inspection `name`: this deployment's, or one mirrored here.
pub async fn get(svc: &Certification, name: &str) -> Result<Inspection> {
    let db = &svc.db;
    let (code, id) = parse_name("name", name)?;
    match fetch(db, &code, &id).await? {
        Some(row) => Ok(row.to_proto()),
        None => ocop_kit::mirror::find(db, &name_of(&code, &id))
            .await?
            .ok_or_else(|| Error::not_found(name_of(&code, &id))),
    }
}

/// A page of the inspections of `parent` (`certificates/{code}`, or
/// `certificates/-` for all), by name: this deployment's and those mirrored
/// here (the national deployment sees every province's).
pub async fn list(
    svc: &Certification,
    parent: &str,
    page_size: i32,
    page_token: &str,
) -> Result<(Vec<Inspection>, String)> {
    let db = &svc.db;
    let prefix = if parent == "certificates/-" {
        "certificates/".to_owned()
    } else {
        format!("{}/inspections/", store::name_of(&store::parse_name("parent", parent)?))
    };
    let query_id = format!("inspections|{prefix}");
    let page = Page::parse(page_size, page_token, &query_id)?;
    // Both sources by one order of names; `payload` is empty for this
    // deployment's own rows, which are read from their table.
    let mut sql = QueryBuilder::<Postgres>::new(
        "SELECT name, payload FROM (
             SELECT 'certificates/' || code || '/inspections/' || id AS name, NULL::bytea AS payload FROM inspections
             UNION ALL
             SELECT resource, payload FROM mirrored WHERE label = 'inspection') AS found
         WHERE starts_with(name, ",
    );
    sql.push_bind(prefix).push(")");
    if let Some(after) = &page.after {
        sql.push(" AND name > ").push_bind(after.clone());
    }
    sql.push(" ORDER BY name LIMIT ").push_bind(page.fetch_limit());
    let mut found: Vec<(String, Option<Vec<u8>>)> = sql.build_query_as().fetch_all(db).await?;
    let next = page.finish(&mut found, |(name, _)| name.clone(), &query_id);
    let own: Vec<uuid::Uuid> = found
        .iter()
        .filter(|(_, payload)| payload.is_none())
        .filter_map(|(name, _)| parse_name("name", name).ok().map(|(_, id)| id))
        .collect();
    let rows: Vec<InspectionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INSPECTION_COLUMNS} FROM inspections WHERE id = ANY($1)"
    )))
    .bind(&own)
    .fetch_all(db)
    .await?;
    let mut rows: std::collections::HashMap<String, InspectionRow> = rows.into_iter().map(|r| (r.name(), r)).collect();
    let mut inspections = Vec::with_capacity(found.len());
    for (name, payload) in found {
        inspections.push(match payload {
            Some(bytes) => Inspection::decode(bytes.as_slice())
                .map_err(|e| Error::internal(format!("mirrored {name} does not decode: {e}")))?,
            None => rows
                .remove(&name)
                .ok_or_else(|| Error::internal(format!("{name} vanished while listed")))?
                .to_proto(),
        });
    }
    Ok((inspections, next))
}

/// Records what an OPEN inspection found.
pub async fn record_outcome(
    svc: &Certification,
    who: &Principal,
    r: &RecordInspectionOutcomeRequest,
) -> Result<Inspection> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let (code, id) = parse_name("name", &r.name)?;
    let today = svc.today();
    let mut v = Violations::default();
    let checks = [
        ("criteria", r.criteria()),
        ("mark_use", r.mark_use()),
        ("product_information", r.product_information()),
    ];
    for (field, check) in checks {
        if check == CheckResult::Unspecified {
            v.push(field, "required: COMPLIANT, NON_COMPLIANT or NOT_CHECKED");
        }
    }
    let known = || checks.iter().filter(|(_, c)| *c != CheckResult::Unspecified);
    if known().count() == checks.len() && known().all(|(_, c)| *c == CheckResult::NotChecked) {
        v.push("criteria", "an inspection checks at least one point (Điều 9.3)");
    }
    let failed = known().any(|(_, c)| *c == CheckResult::NonCompliant);
    let report = r.report.trim();
    if failed && report.is_empty() {
        v.push("report", "required when a point is NON_COMPLIANT: what was found");
    }
    let conclusion = r.conclusion_document.trim();
    if conclusion.is_empty() {
        v.push(
            "conclusion_document",
            "required: the inspection's conclusion, e.g. \"Kết luận 15/KL-VPĐP ngày 20/11/2026\"",
        );
    }
    let concluded = past_day(&mut v, "conclusion_date", r.conclusion_date.as_ref(), today);
    if r.etag.is_empty() {
        v.push("etag", "required: send the etag of the version you read");
    }
    v.check()?;
    let concluded = concluded.expect("checked with the other fields");

    let name = name_of(&code, &id);
    let mut tx = svc.db.begin().await?;
    let Some(current) = lock(&mut tx, &code, &id).await? else {
        return Err(ocop_kit::mirror::missing(&mut *tx, &name).await);
    };
    let cert = lock_certificate(&mut tx, &code).await?;
    authority::require_competent(&svc.here, who, cert.stars, &cert.province_code, &name, ARTICLE)?;
    let before = ocop_kit::etag::check("etag", &r.etag, &name, current.version)?;
    if current.state != "open" {
        return Err(Error::failed_precondition(
            "INSPECTION_CONCLUDED",
            format!("{name} is concluded already; its outcome is recorded once"),
        ));
    }
    if concluded < current.inspection_date {
        return Err(Error::invalid(
            "conclusion_date",
            format!("{concluded} is before the inspection ({})", current.inspection_date),
        ));
    }
    // The criteria failing is ground b; only the mark or the product's
    // information failing is a misuse of the mark, ground d.
    let proposal = failed.then(|| {
        let ground = if r.criteria() == CheckResult::NonCompliant {
            RevocationGround::CriteriaNotMet
        } else {
            RevocationGround::MarkMisuse
        };
        StoredProposal {
            state: "proposed".into(),
            ground: grounds::stored(ground).unwrap_or_default().to_owned(),
            reviewer: String::new(),
            review_time: None,
            text: String::new(),
            document: String::new(),
        }
    });
    let row: InspectionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE inspections SET state = 'concluded', criteria = $3, mark_use = $4, product_information = $5,
             report = $6, outcome = $7, conclusion_document = $8, conclusion_date = $9, proposal = $10,
             version = version + 1, update_time = now()
         WHERE code = $1 AND id = $2 RETURNING {INSPECTION_COLUMNS}"
    )))
    .bind(&code)
    .bind(id)
    .bind(check_str(r.criteria()))
    .bind(check_str(r.mark_use()))
    .bind(check_str(r.product_information()))
    .bind(report)
    .bind(if failed { "non_compliant" } else { "compliant" })
    .bind(conclusion)
    .bind(concluded)
    .bind(proposal.map(Json))
    .fetch_one(&mut *tx)
    .await?;
    let proto = recorded(&mut tx, who, "RecordInspectionOutcome", &row, &before).await?;
    tx.commit().await?;
    Ok(proto)
}

/// Locks inspection `id` of `code` in `tx`, if this deployment keeps it.
pub async fn lock(tx: &mut sqlx::PgConnection, code: &str, id: &uuid::Uuid) -> Result<Option<InspectionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INSPECTION_COLUMNS} FROM inspections WHERE code = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(code)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?)
}
