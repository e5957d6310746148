//! What the checks of a file need from the database, read once: the
//! communes in force, the taxonomy, and the producers and products the file
//! may name again.

use std::collections::{HashMap, HashSet};

use ocop_kit::Result;
use sqlx::PgPool;

use super::read::File;
use crate::{products, subjects, units};

/// What is stored that a file's rows are checked against.
pub(super) struct Known {
    /// The province of each commune in force.
    pub communes: HashMap<String, String>,
    /// Every `(group_code, subgroup_code)` of the taxonomy.
    pub taxonomy: HashSet<(String, String)>,
    /// The stored producers with a registration number of the file.
    pub subjects: HashMap<String, subjects::Row>,
    /// The `(subject_id, id)` of those producers' products.
    pub products: HashSet<(String, String)>,
}

impl Known {
    /// Reads what the rows of `file` are checked against.
    pub(super) async fn load(db: &PgPool, file: &File) -> Result<Known> {
        let communes = units::communes_in_force(db).await?.into_iter().collect();
        let taxonomy = products::store::group_pairs(db).await?.into_iter().collect();
        let numbers: Vec<String> = file
            .records
            .iter()
            .map(|r| file.cell(r, "registration_number").to_owned())
            .collect();
        let subjects: HashMap<String, subjects::Row> = subjects::store::with_numbers(db, &numbers)
            .await?
            .into_iter()
            .map(|r| (r.registration_number.clone(), r))
            .collect();
        let ids: Vec<String> = subjects.values().map(|r| r.id.clone()).collect();
        let products = products::store::keys_of(db, &ids).await?.into_iter().collect();
        Ok(Known {
            communes,
            taxonomy,
            subjects,
            products,
        })
    }
}
