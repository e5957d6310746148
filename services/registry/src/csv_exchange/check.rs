//! Checking a file against what is stored, writing nothing: each row's
//! producer (its fields, its commune, whose jurisdiction it is in, whether
//! it is already registered) and product (its fields, origin and group),
//! then one answer for the whole file.

use std::collections::{HashMap, HashSet};

use ocop_kit::auth::Principal;
use ocop_kit::error::Violations;
use ocop_kit::jurisdiction::{Jurisdiction, OUTSIDE_DEPLOYMENT, OUTSIDE_JURISDICTION};
use ocop_kit::{Error, Result};
use ocop_proto::registry::v1::{Product, ProductState, Representative, Subject, SubjectState};
use sqlx::PgPool;

use super::MAX_PROBLEMS;
use super::format::{check_cells, column_of, kind_of, parse_bool, parse_standards, subject_state_of};
use super::known::Known;
use super::read::{File, read};
use crate::ids::{self, product_name, subject_name};
use crate::rules::access::require_province;
use crate::units::Units;
use crate::{products, subjects};

/// What the file asks for, once checked.
pub(super) struct Plan {
    pub new_subjects: Vec<subjects::Row>,
    pub new_products: Vec<products::Row>,
    pub unchanged_subjects: usize,
    pub rows: usize,
}

/// Reads and checks the whole file against the database; writes nothing.
pub(super) async fn plan(db: &PgPool, units: &Units, here: &Jurisdiction, who: &Principal, csv: &[u8]) -> Result<Plan> {
    let file = read(csv)?;
    let known = Known::load(db, &file).await?;
    let mut check = Check {
        here,
        who,
        units,
        known: &known,
        problems: Problems {
            v: Violations::default(),
            count: 0,
        },
        elsewhere: Vec::new(),
        outside: Vec::new(),
        by_number: HashMap::new(),
        new_subjects: Vec::new(),
        new_products: Vec::new(),
        product_keys: HashSet::new(),
        unchanged: 0,
    };
    for (i, record) in file.records.iter().enumerate() {
        let cells = Cells { file: &file, record };
        let line = i + 2;
        let row = check.producer(line, &cells).await;
        let subject_id = check.registered(line, &cells, &row);
        check.product(line, &cells, &row, subject_id);
    }
    check.answer(file.records.len())
}

/// The cells of one row.
struct Cells<'a> {
    file: &'a File,
    record: &'a csv::StringRecord,
}

impl Cells<'_> {
    fn get(&self, column: &str) -> &str {
        self.file.cell(self.record, column)
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

/// The checks of a file so far.
struct Check<'a> {
    here: &'a Jurisdiction,
    who: &'a Principal,
    units: &'a Units,
    known: &'a Known,
    problems: Problems,
    /// Rows of a province this deployment does not serve.
    elsewhere: Vec<(usize, String)>,
    /// Rows of its province that the caller's token is not for.
    outside: Vec<usize>,
    /// The first row of each registration number, with the producer's id.
    by_number: HashMap<String, (usize, subjects::Row)>,
    new_subjects: Vec<subjects::Row>,
    new_products: Vec<products::Row>,
    product_keys: HashSet<(String, String)>,
    unchanged: usize,
}

impl Check<'_> {
    /// The producer of row `line`, checked; where it is decides whose it is.
    async fn producer(&mut self, line: usize, cells: &Cells<'_>) -> subjects::Row {
        // The producer of this row.
        let mut v = Violations::default();
        let flag = |c: &str, v: &mut Violations| {
            parse_bool(cells.get(c)).unwrap_or_else(|| {
                v.push(format!("subject.{c}"), "true or false");
                false
            })
        };
        let subject = Subject {
            kind: kind_of(cells.get("subject_kind")) as i32,
            legal_name: cells.get("legal_name").into(),
            registration_number: cells.get("registration_number").into(),
            representative: Some(Representative {
                full_name: cells.get("representative_name").into(),
                is_woman: flag("representative_is_woman", &mut v),
                is_ethnic_minority: flag("representative_is_ethnic_minority", &mut v),
            }),
            phone: cells.get("phone").into(),
            email: cells.get("email").into(),
            address: cells.get("address").into(),
            state: subject_state_of(cells.get("subject_state")).unwrap_or_else(|| {
                v.push("subject.subject_state", "active, suspended or dissolved");
                SubjectState::Active
            }) as i32,
            ..Default::default()
        };
        let mut subject = subject;
        check_cells(&mut subject, "subject", &mut v);
        let id = match ids::id_or_generate("subject_id", cells.get("subject_id")) {
            Ok(id) => id,
            Err(e) => {
                v.push("subject.subject_id", e.violations()[0].description.clone());
                String::new()
            }
        };
        let mut row = subjects::Row::blank(id);
        row.apply(&subject, None, &mut v);
        row.commune_code = cells.get("commune_code").to_owned();
        match self.known.communes.get(&row.commune_code) {
            Some(province) => row.province_code = province.clone(),
            None => match self.units.commune_in_force("commune_code", &row.commune_code).await {
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
        self.problems.absorb(line, v);
        if !row.province_code.is_empty() {
            if self.here.require_serves(&row.province_code).is_err() {
                self.elsewhere.push((line, row.province_code.clone()));
            } else if require_province(self.here, self.who, &row.province_code, "").is_err() {
                self.outside.push(line);
            }
        }
        row
    }

    /// The id of the producer of row `line`: the one of an earlier row or a
    /// stored producer with the same registration number (which must
    /// describe it alike), else the row's, as a new producer.
    fn registered(&mut self, line: usize, cells: &Cells<'_>, row: &subjects::Row) -> String {
        match self.by_number.get(&row.registration_number) {
            Some((first, seen)) => {
                if !seen.same_as(row) || (!cells.get("subject_id").is_empty() && seen.id != row.id) {
                    self.problems.add(
                        line,
                        "registration_number",
                        format!("the producer differs from row {first} with the same registration number"),
                    );
                }
                seen.id.clone()
            }
            None => {
                let id = match self.known.subjects.get(&row.registration_number) {
                    Some(stored) => {
                        if !cells.get("subject_id").is_empty() && stored.id != row.id {
                            self.problems.add(
                                line,
                                "subject_id",
                                format!(
                                    "registration number {} belongs to {}",
                                    row.registration_number,
                                    subject_name(&stored.id)
                                ),
                            );
                        } else if !stored.same_as(row) {
                            self.problems.add(
                                line,
                                "registration_number",
                                format!(
                                    "already registered to {} with other values; update it instead",
                                    subject_name(&stored.id)
                                ),
                            );
                        }
                        self.unchanged += 1;
                        stored.id.clone()
                    }
                    None => {
                        self.new_subjects.push(row.clone());
                        row.id.clone()
                    }
                };
                let mut seen = row.clone();
                seen.id = id.clone();
                self.by_number.insert(row.registration_number.clone(), (line, seen));
                id
            }
        }
    }

    /// The product of row `line`, if the row has one, checked.
    fn product(&mut self, line: usize, cells: &Cells<'_>, row: &subjects::Row, subject_id: String) {
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
        if product_columns.iter().all(|c| cells.get(c).is_empty()) {
            return;
        }
        let mut v = Violations::default();
        let standards = parse_standards(cells.get("standards")).unwrap_or_else(|why| {
            v.push("product.standards", why);
            Vec::new()
        });
        let state = match cells.get("product_state") {
            "" | "active" => ProductState::Active,
            "discontinued" => ProductState::Discontinued,
            _ => {
                v.push("product.state", "active or discontinued");
                ProductState::Active
            }
        };
        let product = Product {
            display_name: cells.get("product_name").into(),
            group_code: cells.get("group_code").into(),
            subgroup_code: cells.get("subgroup_code").into(),
            description: cells.get("description").into(),
            raw_material_area: cells.get("raw_material_area").into(),
            standards,
            state: state as i32,
            ..Default::default()
        };
        let mut product = product;
        check_cells(&mut product, "product", &mut v);
        let product_id = ids::id_or_generate("product_id", cells.get("product_id")).unwrap_or_else(|e| {
            v.push("product.product_id", e.violations()[0].description.clone());
            String::new()
        });
        let origin = if cells.get("origin_commune_code").is_empty() {
            row.commune_code.clone()
        } else {
            cells.get("origin_commune_code").to_owned()
        };
        match self.known.communes.get(&origin) {
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
        if !self
            .known
            .taxonomy
            .contains(&(prow.group_code.clone(), prow.subgroup_code.clone()))
        {
            v.push(
                "product.subgroup_code",
                format!(
                    "`{}` / `{}` is not a product group and set; see ListProductGroups",
                    prow.group_code, prow.subgroup_code
                ),
            );
        }
        self.problems.absorb(line, v);
        let key = (subject_id.clone(), product_id.clone());
        if self.known.products.contains(&key) {
            // Already there (a re-import of an export): leave it as it is.
            return;
        }
        if !self.product_keys.insert(key) {
            self.problems.add(
                line,
                "product_id",
                format!("{} appears twice in the file", product_name(&subject_id, &product_id)),
            );
        }
        self.new_products.push(prow);
    }

    /// The answer for the whole file: refused for rows outside this
    /// deployment or the caller's province first, then for any problem.
    fn answer(self, rows: usize) -> Result<Plan> {
        if let Some((_, province)) = self.elsewhere.first() {
            let lines: Vec<String> = self
                .elsewhere
                .iter()
                .take(20)
                .map(|(line, _)| line.to_string())
                .collect();
            let why = self.here.require_serves(province).err().map(|e| e.message().to_owned());
            return Err(Error::permission_denied(
                OUTSIDE_DEPLOYMENT,
                format!(
                    "{} row(s) are producers of a province this deployment does not serve (lines {}): {}; import only this province's producers",
                    self.elsewhere.len(),
                    lines.join(", "),
                    why.unwrap_or_default()
                ),
            )
            .with_metadata("province_code", province.clone()));
        }
        if !self.outside.is_empty() {
            let lines: Vec<String> = self.outside.iter().take(20).map(usize::to_string).collect();
            return Err(Error::permission_denied(
                OUTSIDE_JURISDICTION,
                format!(
                    "{} row(s) are producers outside your province {} (lines {}); import only your province's producers",
                    self.outside.len(),
                    self.who.province.as_deref().unwrap_or("(none)"),
                    lines.join(", ")
                ),
            ));
        }
        if let Some(first) = self.problems.v.first() {
            let summary = format!(
                "{} problem(s) in the file, nothing was imported; first: {}: {}",
                self.problems.count, first.field, first.description
            );
            let count = self.problems.count.to_string();
            if let Some(err) = self.problems.v.into_error_with("INVALID_IMPORT", summary) {
                return Err(err.with_metadata("problems", count));
            }
        }
        Ok(Plan {
            new_subjects: self.new_subjects,
            new_products: self.new_products,
            unchanged_subjects: self.unchanged,
            rows,
        })
    }
}
