//! The checks of a product's fields, as a request or an import row gives them.

use ocop_kit::date;
use ocop_kit::error::Violations;
use ocop_proto::registry::v1::{Product, ProductState};
use sqlx::types::Json;

use super::store::{Row, State, StoredStandard, standard_type_str};

impl Row {
    /// Copies the fields of `p` named by `mask` (all when `None`), validating each.
    pub(crate) fn apply(&mut self, p: &Product, mask: Option<&[String]>, v: &mut Violations) {
        let wants = |f: &str| mask.is_none_or(|m| m.iter().any(|x| x == f));
        if wants("display_name") {
            self.display_name = p.display_name.trim().to_owned();
            let n = self.display_name.chars().count();
            if !(1..=300).contains(&n) {
                v.push("product.display_name", "required, 1 to 300 characters");
            }
        }
        if wants("group_code") {
            self.group_code = p.group_code.trim().to_owned();
        }
        if wants("subgroup_code") {
            self.subgroup_code = p.subgroup_code.trim().to_owned();
        }
        if wants("description") {
            self.description = p.description.trim().to_owned();
            if self.description.chars().count() > 5000 {
                v.push("product.description", "at most 5000 characters");
            }
        }
        if wants("raw_material_area") {
            self.raw_material_area = p.raw_material_area.trim().to_owned();
            if self.raw_material_area.chars().count() > 500 {
                v.push("product.raw_material_area", "at most 500 characters");
            }
        }
        if wants("standards") {
            self.standards = Json(
                p.standards
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| {
                        let field = format!("product.standards[{i}]");
                        let kind = standard_type_str(s.r#type());
                        if kind.is_none() {
                            v.push(format!("{field}.type"), "required: food_safety_certificate, vietgap, iso_22000, quality_declaration, haccp, organic or other");
                        }
                        if s.number.trim().is_empty() || s.number.chars().count() > 100 {
                            v.push(format!("{field}.number"), "required, at most 100 characters");
                        }
                        if s.issuer.chars().count() > 200 {
                            v.push(format!("{field}.issuer"), "at most 200 characters");
                        }
                        let valid_until = match &s.valid_until {
                            Some(d) => match date::from_proto(&format!("{field}.valid_until"), d) {
                                Ok(d) => Some(d.to_string()),
                                Err(e) => {
                                    v.push(format!("{field}.valid_until"), e.violations()[0].description.clone());
                                    None
                                }
                            },
                            None => None,
                        };
                        Some(StoredStandard { kind: kind?.to_owned(), number: s.number.trim().to_owned(), issuer: s.issuer.trim().to_owned(), valid_until })
                    })
                    .collect(),
            );
        }
        if wants("state") {
            match p.state() {
                ProductState::Active => self.state = State::Active,
                ProductState::Discontinued => self.state = State::Discontinued,
                ProductState::Unspecified if mask.is_none() => self.state = State::Active,
                ProductState::Unspecified => {
                    v.push("product.state", "required when in update_mask: active or discontinued")
                }
            }
        }
    }
}
