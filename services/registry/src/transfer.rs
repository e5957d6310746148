//! CSV import and export of a province's producers and products, one row per
//! product (a producer without products has one row with the product columns
//! empty). The format is in the README; export writes what import reads, so
//! export → import into an empty deployment round-trips, ids included.
//!
//! Import is all or nothing: every row is checked first, and any problem
//! comes back as a field violation `rows[N].column` (N is the line number in
//! the file, the header being line 1) with nothing written.

use std::collections::{HashMap, HashSet};

use ocop_kit::auth::{Principal, Role};
use ocop_kit::error::Violations;
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::{
    ImportSubjectsProductsResponse, Product, ProductState, Representative, Standard, Subject, SubjectKind, SubjectState,
};
use prost::Message;
use sqlx::PgPool;

use crate::audit::{self, Created};
use crate::ids::{self, product_name, subject_name};
use crate::products;
use crate::rules::access::{require_own_province, require_province, require_writer};
use crate::service::Registry;
use crate::subjects;
use crate::units::Units;
use ocop_kit::idempotency::{self, Claim};
use ocop_kit::jurisdiction::{Jurisdiction, OUTSIDE_DEPLOYMENT, OUTSIDE_JURISDICTION};
use ocop_proto::boundary::{Sanitize, Walk};

/// The columns of the file, in order.
pub const COLUMNS: &[&str] = &[
    "subject_id",
    "registration_number",
    "subject_kind",
    "legal_name",
    "representative_name",
    "representative_is_woman",
    "representative_is_ethnic_minority",
    "phone",
    "email",
    "address",
    "commune_code",
    "subject_state",
    "product_id",
    "product_name",
    "group_code",
    "subgroup_code",
    "description",
    "origin_commune_code",
    "raw_material_area",
    "product_state",
    "standards",
];

/// The most problems reported for one file.
const MAX_PROBLEMS: usize = 1000;

/// Maps a validation field of the domain to the CSV column it came from.
fn column_of(field: &str) -> &str {
    match field {
        "subject.kind" => "subject_kind",
        "subject.state" => "subject_state",
        "subject.representative.full_name" => "representative_name",
        "product.display_name" => "product_name",
        "product.state" => "product_state",
        f if f.starts_with("product.standards") => "standards",
        f => f.rsplit('.').next().unwrap_or(f),
    }
}

struct Problems {
    v: Violations,
    count: usize,
}

impl Problems {
    fn add(&mut self, line: usize, column: &str, problem: impl Into<String>) {
        self.count += 1;
        if self.count <= MAX_PROBLEMS {
            self.v.push(format!("rows[{line}].{column}"), problem);
        }
    }

    fn absorb(&mut self, line: usize, violations: Violations) {
        if let Some(err) = violations.into_error() {
            for v in err.violations() {
                self.add(line, column_of(&v.field), v.description.clone());
            }
        }
    }
}

/// The checks a request passes where it is decoded (NFC, control and
/// bidirectional characters, lengths), for a message built from a file's
/// cells, which no codec decoded.
fn check_cells<M: Sanitize>(message: &mut M, prefix: &str, v: &mut Violations) {
    let mut walk = Walk::default();
    message.sanitize(&mut walk);
    for (field, why) in walk.violations() {
        v.push(format!("{prefix}.{field}"), why.clone());
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" => Some(false),
        "true" | "1" | "yes" => Some(true),
        _ => None,
    }
}

fn kind_of(text: &str) -> SubjectKind {
    match text.trim() {
        "cooperative" => SubjectKind::Cooperative,
        "cooperative_group" => SubjectKind::CooperativeGroup,
        "enterprise" => SubjectKind::Enterprise,
        "household_business" => SubjectKind::HouseholdBusiness,
        _ => SubjectKind::Unspecified,
    }
}

fn subject_state_of(text: &str) -> Option<SubjectState> {
    match text.trim() {
        "" | "active" => Some(SubjectState::Active),
        "suspended" => Some(SubjectState::Suspended),
        "dissolved" => Some(SubjectState::Dissolved),
        _ => None,
    }
}

/// `type|number|issuer|valid_until` entries joined by `;`.
fn parse_standards(text: &str) -> std::result::Result<Vec<Standard>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let parts: Vec<&str> = entry.split('|').map(str::trim).collect();
            if !(2..=4).contains(&parts.len()) {
                return Err(format!("`{entry}` is not type|number|issuer|valid_until"));
            }
            let kind =
                products::standard_type_of(parts[0]).ok_or_else(|| format!("`{}` is not a standard type", parts[0]))?;
            let valid_until = match parts.get(3).filter(|d| !d.is_empty()) {
                Some(d) => Some(ocop_kit::date::to_proto(
                    ocop_kit::date::parse_iso("standards", d).map_err(|e| e.violations()[0].description.clone())?,
                )),
                None => None,
            };
            Ok(Standard {
                r#type: kind as i32,
                number: parts[1].to_owned(),
                issuer: parts.get(2).unwrap_or(&"").to_string(),
                valid_until,
            })
        })
        .collect()
}

fn format_standards(standards: &[products::StoredStandard]) -> String {
    standards
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}|{}",
                s.kind,
                s.number,
                s.issuer,
                s.valid_until.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// What the file asks for, once checked.
struct Plan {
    new_subjects: Vec<subjects::Row>,
    new_products: Vec<products::Row>,
    unchanged_subjects: usize,
    rows: usize,
}

/// Imports a CSV file (see the module documentation).
///
/// Every row must be a producer of `here`'s province, and of the caller's.
pub async fn import(
    db: &PgPool,
    units: &Units,
    here: &Jurisdiction,
    who: &Principal,
    csv: &[u8],
    validate_only: bool,
    request_id: &str,
) -> Result<ImportSubjectsProductsResponse> {
    require_writer(who)?;
    let request_id = idempotency::parse("request_id", request_id)?;
    let plan = plan(db, units, here, who, csv).await?;
    let mut report = ImportSubjectsProductsResponse {
        subjects_created: plan.new_subjects.len() as i32,
        subjects_unchanged: plan.unchanged_subjects as i32,
        products_created: plan.new_products.len() as i32,
        rows: plan.rows as i32,
    };
    if validate_only {
        return Ok(report);
    }
    let mut tx = db.begin().await?;
    let marker = format!("imports/{}", request_id.unwrap_or_else(uuid::Uuid::now_v7));
    if let Claim::Done(_, Some(response)) =
        idempotency::claim(&mut tx, request_id, "ImportSubjectsProducts", &marker).await?
    {
        return ImportSubjectsProductsResponse::decode(response.as_slice()).map_err(Error::internal);
    }
    let request = request_id.map(|r| r.to_string()).unwrap_or_default();
    let created = subjects::store::insert_many(&mut tx, &plan.new_subjects).await?;
    let created_products = products::store::insert_many(&mut tx, &plan.new_products).await?;
    let subject_events = created
        .iter()
        .map(|r| {
            let proto = r.to_proto();
            Created {
                resource: proto.name.clone(),
                province: r.province_code.clone(),
                etag: proto.etag.clone(),
                payload: proto.encode_to_vec(),
            }
        })
        .collect();
    audit::record_created(&mut tx, who, "ImportSubjectsProducts", &request, subject_events).await?;
    let product_events = created_products
        .iter()
        .map(|r| {
            let proto = r.to_proto();
            Created {
                resource: proto.name.clone(),
                province: r.province_code.clone(),
                etag: proto.etag.clone(),
                payload: proto.encode_to_vec(),
            }
        })
        .collect();
    audit::record_created(&mut tx, who, "ImportSubjectsProducts", &request, product_events).await?;
    report.subjects_created = created.len() as i32;
    report.products_created = created_products.len() as i32;
    idempotency::store_response(&mut tx, request_id, &report.encode_to_vec()).await?;
    tx.commit().await?;
    tracing::info!(
        rows = report.rows,
        subjects = report.subjects_created,
        products = report.products_created,
        "import committed"
    );
    Ok(report)
}

/// Reads and checks the whole file against the database; writes nothing.
async fn plan(db: &PgPool, units: &Units, here: &Jurisdiction, who: &Principal, csv: &[u8]) -> Result<Plan> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(csv);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("csv", format!("cannot read the header line: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == c))
        .collect();
    let unknown: Vec<&String> = headers.iter().filter(|h| !COLUMNS.contains(&h.as_str())).collect();
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(Error::invalid(
            "csv",
            format!(
                "the header must name exactly these columns: {}; missing: {missing:?}; unknown: {unknown:?}",
                COLUMNS.join(",")
            ),
        ));
    }
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap_or_default();
    let index: HashMap<&str, usize> = COLUMNS.iter().map(|c| (*c, at(c))).collect();
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| Error::invalid(format!("rows[{}]", i + 2), format!("not readable CSV: {e}")))?;
        records.push(record);
    }
    if records.is_empty() {
        return Err(Error::invalid("csv", "the file has a header but no rows"));
    }

    // Everything the checks need, read once.
    let communes: HashMap<String, String> = sqlx::query_as(
        "SELECT code, province_code FROM administrative_units WHERE scheme = 2025 AND level = 'commune' AND valid_until IS NULL",
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .collect();
    let taxonomy: HashSet<(String, String)> = sqlx::query_as("SELECT group_code, subgroup_code FROM product_groups")
        .fetch_all(db)
        .await?
        .into_iter()
        .collect();
    let numbers: Vec<String> = records
        .iter()
        .map(|r| r[index["registration_number"]].to_owned())
        .collect();
    let existing: HashMap<String, subjects::Row> = subjects::store::with_numbers(db, &numbers)
        .await?
        .into_iter()
        .map(|r| (r.registration_number.clone(), r))
        .collect();
    let existing_ids: Vec<String> = existing.values().map(|r| r.id.clone()).collect();
    let existing_products: HashSet<(String, String)> =
        sqlx::query_as("SELECT subject_id, id FROM products WHERE subject_id = ANY($1)")
            .bind(&existing_ids)
            .fetch_all(db)
            .await?
            .into_iter()
            .collect();

    let mut problems = Problems {
        v: Violations::default(),
        count: 0,
    };
    // Rows of a province this deployment does not serve, and rows of its
    // province that the caller's token is not for.
    let mut elsewhere: Vec<(usize, String)> = Vec::new();
    let mut outside: Vec<usize> = Vec::new();
    let mut by_number: HashMap<String, (usize, subjects::Row)> = HashMap::new();
    let mut new_subjects: Vec<subjects::Row> = Vec::new();
    let mut new_products: Vec<products::Row> = Vec::new();
    let mut product_keys: HashSet<(String, String)> = HashSet::new();
    let mut unchanged = 0;
    for (i, r) in records.iter().enumerate() {
        let line = i + 2;
        let get = |c: &str| r.get(index[c]).unwrap_or("").trim();
        // The producer of this row.
        let mut v = Violations::default();
        let flag = |c: &str, v: &mut Violations| {
            parse_bool(get(c)).unwrap_or_else(|| {
                v.push(format!("subject.{c}"), "true or false");
                false
            })
        };
        let subject = Subject {
            kind: kind_of(get("subject_kind")) as i32,
            legal_name: get("legal_name").into(),
            registration_number: get("registration_number").into(),
            representative: Some(Representative {
                full_name: get("representative_name").into(),
                is_woman: flag("representative_is_woman", &mut v),
                is_ethnic_minority: flag("representative_is_ethnic_minority", &mut v),
            }),
            phone: get("phone").into(),
            email: get("email").into(),
            address: get("address").into(),
            state: subject_state_of(get("subject_state")).unwrap_or_else(|| {
                v.push("subject.subject_state", "active, suspended or dissolved");
                SubjectState::Active
            }) as i32,
            ..Default::default()
        };
        let mut subject = subject;
        check_cells(&mut subject, "subject", &mut v);
        let id = match ids::id_or_generate("subject_id", get("subject_id")) {
            Ok(id) => id,
            Err(e) => {
                v.push("subject.subject_id", e.violations()[0].description.clone());
                String::new()
            }
        };
        let mut row = subjects::Row::blank(id);
        row.apply(&subject, None, &mut v);
        row.commune_code = get("commune_code").to_owned();
        match communes.get(&row.commune_code) {
            Some(province) => row.province_code = province.clone(),
            None => match units.commune_in_force("commune_code", &row.commune_code).await {
                Ok(province) => row.province_code = province,
                Err(e) => v.push(
                    "subject.commune_code",
                    e.violations()
                        .first()
                        .map(|v| v.description.clone())
                        .unwrap_or_default(),
                ),
            },
        }
        problems.absorb(line, v);
        if !row.province_code.is_empty() {
            if here.require_serves(&row.province_code).is_err() {
                elsewhere.push((line, row.province_code.clone()));
            } else if require_province(here, who, &row.province_code, "").is_err() {
                outside.push(line);
            }
        }

        let subject_id = match by_number.get(&row.registration_number) {
            Some((first, seen)) => {
                if !seen.same_as(&row) || (!get("subject_id").is_empty() && seen.id != row.id) {
                    problems.add(
                        line,
                        "registration_number",
                        format!("the producer differs from row {first} with the same registration number"),
                    );
                }
                seen.id.clone()
            }
            None => {
                let id = match existing.get(&row.registration_number) {
                    Some(stored) => {
                        if !get("subject_id").is_empty() && stored.id != row.id {
                            problems.add(
                                line,
                                "subject_id",
                                format!(
                                    "registration number {} belongs to {}",
                                    row.registration_number,
                                    subject_name(&stored.id)
                                ),
                            );
                        } else if !stored.same_as(&row) {
                            problems.add(
                                line,
                                "registration_number",
                                format!(
                                    "already registered to {} with other values; update it instead",
                                    subject_name(&stored.id)
                                ),
                            );
                        }
                        unchanged += 1;
                        stored.id.clone()
                    }
                    None => {
                        new_subjects.push(row.clone());
                        row.id.clone()
                    }
                };
                let mut seen = row.clone();
                seen.id = id.clone();
                by_number.insert(row.registration_number.clone(), (line, seen));
                id
            }
        };

        // The product of this row, if any.
        let product_columns = [
            "product_id",
            "product_name",
            "group_code",
            "subgroup_code",
            "description",
            "origin_commune_code",
            "raw_material_area",
            "product_state",
            "standards",
        ];
        if product_columns.iter().all(|c| get(c).is_empty()) {
            continue;
        }
        let mut v = Violations::default();
        let standards = parse_standards(get("standards")).unwrap_or_else(|why| {
            v.push("product.standards", why);
            Vec::new()
        });
        let state = match get("product_state") {
            "" | "active" => ProductState::Active,
            "discontinued" => ProductState::Discontinued,
            _ => {
                v.push("product.state", "active or discontinued");
                ProductState::Active
            }
        };
        let product = Product {
            display_name: get("product_name").into(),
            group_code: get("group_code").into(),
            subgroup_code: get("subgroup_code").into(),
            description: get("description").into(),
            raw_material_area: get("raw_material_area").into(),
            standards,
            state: state as i32,
            ..Default::default()
        };
        let mut product = product;
        check_cells(&mut product, "product", &mut v);
        let product_id = ids::id_or_generate("product_id", get("product_id")).unwrap_or_else(|e| {
            v.push("product.product_id", e.violations()[0].description.clone());
            String::new()
        });
        let origin = if get("origin_commune_code").is_empty() {
            row.commune_code.clone()
        } else {
            get("origin_commune_code").to_owned()
        };
        match communes.get(&origin) {
            None => v.push(
                "product.origin_commune_code",
                format!("`{origin}` is not a commune in force in the 2025 list"),
            ),
            // As CreateProduct: a product is made in its producer's province.
            Some(p) if !row.province_code.is_empty() && *p != row.province_code => v.push(
                "product.origin_commune_code",
                format!(
                    "commune {origin} is in province {p}; the producer is in province {}, so name one of its communes",
                    row.province_code
                ),
            ),
            Some(_) => {}
        }
        let mut prow = products::Row::blank(
            subject_id.clone(),
            product_id.clone(),
            row.province_code.clone(),
            origin,
        );
        prow.apply(&product, None, &mut v);
        if !taxonomy.contains(&(prow.group_code.clone(), prow.subgroup_code.clone())) {
            v.push(
                "product.subgroup_code",
                format!(
                    "`{}` / `{}` is not a product group and set; see ListProductGroups",
                    prow.group_code, prow.subgroup_code
                ),
            );
        }
        problems.absorb(line, v);
        let key = (subject_id.clone(), product_id.clone());
        if existing_products.contains(&key) {
            // Already there (a re-import of an export): leave it as it is.
            continue;
        }
        if !product_keys.insert(key) {
            problems.add(
                line,
                "product_id",
                format!("{} appears twice in the file", product_name(&subject_id, &product_id)),
            );
        }
        new_products.push(prow);
    }
    if let Some((_, province)) = elsewhere.first() {
        let lines: Vec<String> = elsewhere.iter().take(20).map(|(line, _)| line.to_string()).collect();
        let why = here.require_serves(province).err().map(|e| e.message().to_owned());
        return Err(Error::permission_denied(
            OUTSIDE_DEPLOYMENT,
            format!(
                "{} row(s) are producers of a province this deployment does not serve (lines {}): {}; import only this province's producers",
                elsewhere.len(),
                lines.join(", "),
                why.unwrap_or_default()
            ),
        )
        .with_metadata("province_code", province.clone()));
    }
    if !outside.is_empty() {
        let lines: Vec<String> = outside.iter().take(20).map(usize::to_string).collect();
        return Err(Error::permission_denied(
            OUTSIDE_JURISDICTION,
            format!(
                "{} row(s) are producers outside your province {} (lines {}); import only your province's producers",
                outside.len(),
                who.province.as_deref().unwrap_or("(none)"),
                lines.join(", ")
            ),
        ));
    }
    if let Some(first) = problems.v.first() {
        let summary = format!(
            "{} problem(s) in the file, nothing was imported; first: {}: {}",
            problems.count, first.field, first.description
        );
        let count = problems.count.to_string();
        if let Some(err) = problems.v.into_error_with("INVALID_IMPORT", summary) {
            return Err(err.with_metadata("problems", count));
        }
    }
    Ok(Plan {
        new_subjects,
        new_products,
        unchanged_subjects: unchanged,
        rows: records.len(),
    })
}

/// Exports the caller's jurisdiction (or `province`) in the import format.
///
/// The export holds one of the service's export slots while it reads.
pub async fn export(svc: &Registry, who: &Principal, province: &str) -> Result<(Vec<u8>, i32)> {
    let _slot = svc.exports.enter().await?;
    let db = &svc.db;
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let province = match (who.role, province) {
        (Role::ProvinceOfficer, "") => who.province.clone().unwrap_or_default(),
        (Role::ProvinceOfficer, p) => {
            require_own_province(who, p, &format!("province {p}"))?;
            p.to_owned()
        }
        (_, p) => p.to_owned(),
    };
    let subjects = subjects::store::in_province(db, &province).await?;
    let products = products::store::in_province(db, &province).await?;
    let mut by_subject: HashMap<&str, Vec<&products::Row>> = HashMap::new();
    for p in &products {
        by_subject.entry(p.subject_id.as_str()).or_default().push(p);
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::internal(e);
    out.write_record(COLUMNS).map_err(fail)?;
    let mut rows = 0;
    for s in &subjects {
        let head = [
            s.id.as_str(),
            &s.registration_number,
            s.kind.as_str(),
            &s.legal_name,
            &s.representative_name,
            if s.representative_is_woman { "true" } else { "false" },
            if s.representative_is_ethnic_minority {
                "true"
            } else {
                "false"
            },
            &s.phone,
            &s.email,
            &s.address,
            &s.commune_code,
            s.state.as_str(),
        ];
        let list = by_subject.get(s.id.as_str()).cloned().unwrap_or_default();
        if list.is_empty() {
            out.write_record(head.iter().copied().chain(std::iter::repeat_n("", 9)))
                .map_err(fail)?;
            rows += 1;
        }
        for p in list {
            let standards = format_standards(&p.standards.0);
            let tail = [
                p.id.as_str(),
                &p.display_name,
                &p.group_code,
                &p.subgroup_code,
                &p.description,
                &p.origin_commune_code,
                &p.raw_material_area,
                p.state.as_str(),
                &standards,
            ];
            out.write_record(head.iter().copied().chain(tail)).map_err(fail)?;
            rows += 1;
        }
    }
    let bytes = out.into_inner().map_err(|e| Error::internal(e.to_string()))?;
    Ok((bytes, rows))
}
