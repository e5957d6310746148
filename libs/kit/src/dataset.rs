//! What a service's schema carries when a province's data moves to another
//! deployment (`ocop export-province` / `import-province`, when provinces
//! merge). Each service declares its own [`Dataset`]: the tables carried,
//! in an order that satisfies their foreign keys, and the tables left out,
//! each with why. [`unlisted`] finds a table in neither list, so a migration
//! that adds a table fails the services' tests until it is placed.

use sqlx::PgPool;

use crate::Result;

/// A service's tables, as a province's export carries them.
#[derive(Debug)]
pub struct Dataset {
    /// The service's schema.
    pub schema: &'static str,
    /// Carried, in foreign-key order.
    pub tables: &'static [Table],
    /// Not carried, each with why.
    pub left_out: &'static [LeftOut],
}

/// A table carried.
#[derive(Debug)]
pub struct Table {
    /// Its name in the schema.
    pub name: &'static str,
    /// Columns exported as an SQL expression of the row instead of as they
    /// are (signing keys leave retired: only their deployment signs).
    pub exported_as: &'static [(&'static str, &'static str)],
    /// What an import does with a row whose key is already present: the SQL
    /// after `ON CONFLICT` (a counter keeps the larger number).
    pub on_conflict: &'static str,
}

impl Table {
    /// A table carried as it is; a row already present is left alone.
    pub const fn plain(name: &'static str) -> Table {
        Table {
            name,
            exported_as: &[],
            on_conflict: "DO NOTHING",
        }
    }
}

/// A table not carried.
#[derive(Debug)]
pub struct LeftOut {
    /// Its name in the schema.
    pub name: &'static str,
    /// Why it stays behind (rebuilt from feeds, shipped with the binary, …).
    pub why: &'static str,
}

/// Every service has these, and none of them travels.
pub const COMMON_LEFT_OUT: &[LeftOut] = &[
    LeftOut {
        name: "_sqlx_migrations",
        why: "the importing deployment's own migrations",
    },
    LeftOut {
        name: "outbox",
        why: "carried apart: the latest entry per resource, appended to the importing feed",
    },
    LeftOut {
        name: "feed_cursors",
        why: "where this deployment's followers stand in other feeds",
    },
    LeftOut {
        name: "mirrored",
        why: "other deployments' rows, rebuilt from their feeds",
    },
    LeftOut {
        name: "request_ids",
        why: "the retry memory of this deployment's callers",
    },
];

impl Dataset {
    /// `schema.table` of every table carried, in order.
    pub fn qualified(&self) -> impl Iterator<Item = (String, &Table)> + '_ {
        self.tables.iter().map(|t| (format!("{}.{}", self.schema, t.name), t))
    }

    fn placed(&self, table: &str) -> bool {
        self.tables.iter().any(|t| t.name == table)
            || self.left_out.iter().chain(COMMON_LEFT_OUT).any(|l| l.name == table)
    }
}

/// The tables of `dataset`'s schema (as migrated in `db`) that it neither
/// carries nor leaves out, and those it names that the schema lacks.
pub async fn unlisted(db: &PgPool, dataset: &Dataset) -> Result<Vec<String>> {
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .bind(dataset.schema)
    .fetch_all(db)
    .await?;
    let mut wrong: Vec<String> = present
        .iter()
        .filter(|t| !dataset.placed(t))
        .map(|t| format!("{}.{t} is neither carried nor left out", dataset.schema))
        .collect();
    wrong.extend(
        dataset
            .tables
            .iter()
            .filter(|t| !present.iter().any(|p| p == t.name))
            .map(|t| format!("{}.{} is carried but does not exist", dataset.schema, t.name)),
    );
    Ok(wrong)
}
