//! Ordering and keyset cursors shared by the List methods.

use ocop_kit::filter::Filter;
use ocop_kit::{Error, Result};
use sqlx::{Postgres, QueryBuilder};

/// The orders a List method offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Oldest first (the default).
    CreateAsc,
    /// Newest first.
    CreateDesc,
    /// By the resource's name column, A to Z.
    Name,
}

impl Order {
    /// Parses `order_by`; `name_field` is the field name clients use for `Name`.
    pub(crate) fn parse(order_by: &str, name_field: &str) -> Result<Order> {
        match order_by.trim() {
            "" | "create_time" | "create_time asc" => Ok(Order::CreateAsc),
            "create_time desc" => Ok(Order::CreateDesc),
            other if other == name_field || other == format!("{name_field} asc") => Ok(Order::Name),
            other => Err(Error::invalid(
                "order_by",
                format!("`{other}` is not an order; use `create_time`, `create_time desc` or `{name_field}`"),
            )),
        }
    }

    /// A text for page-token fingerprints.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Order::CreateAsc => "c",
            Order::CreateDesc => "cd",
            Order::Name => "n",
        }
    }

    fn lead(self, name_column: &str) -> &str {
        if self == Order::Name {
            name_column
        } else {
            "create_time"
        }
    }

    /// Adds `AND (lead, keys...) > (cursor...)` (or `<` newest first).
    pub(crate) fn push_after(
        self,
        sql: &mut QueryBuilder<Postgres>,
        name_column: &str,
        keys: &[&str],
        cursor: &str,
    ) -> Result<()> {
        let bad = || Error::invalid("page_token", "damaged page token; start again without it");
        let mut parts = cursor.split('\u{1f}');
        let lead = parts.next().ok_or_else(bad)?;
        let rest: Vec<&str> = parts.collect();
        if rest.len() != keys.len() {
            return Err(bad());
        }
        let op = if self == Order::CreateDesc { "<" } else { ">" };
        sql.push(format!(" AND ({}, {}) {op} (", self.lead(name_column), keys.join(", ")));
        if self == Order::Name {
            sql.push_bind(lead.to_owned());
        } else {
            let micros: i128 = lead.parse().map_err(|_| bad())?;
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).map_err(|_| bad())?;
            sql.push_bind(t);
        }
        for value in rest {
            sql.push(", ").push_bind(value.to_owned());
        }
        sql.push(")");
        Ok(())
    }

    /// Adds the `ORDER BY`.
    pub(crate) fn push_order(self, sql: &mut QueryBuilder<Postgres>, name_column: &str, keys: &[&str]) {
        let dir = if self == Order::CreateDesc { " DESC" } else { "" };
        let columns: Vec<String> = std::iter::once(self.lead(name_column))
            .chain(keys.iter().copied())
            .map(|c| format!("{c}{dir}"))
            .collect();
        sql.push(format!(" ORDER BY {}", columns.join(", ")));
    }

    /// The cursor of a row.
    pub(crate) fn cursor(self, create_time: time::OffsetDateTime, name: &str, keys: &[&str]) -> String {
        let lead = if self == Order::Name {
            name.to_owned()
        } else {
            (create_time.unix_timestamp_nanos() / 1000).to_string()
        };
        std::iter::once(lead.as_str())
            .chain(keys.iter().copied())
            .collect::<Vec<_>>()
            .join("\u{1f}")
    }
}

/// `AND subject_id = … AND product_id = …` for the ids of a product parent
/// (`subjects/{s}/products/{p}`), where `-` means any (AIP-159).
pub(crate) fn push_product_parent(sql: &mut QueryBuilder<Postgres>, ids: &[String]) {
    for (column, id) in ["subject_id", "product_id"].into_iter().zip(ids) {
        if id != "-" {
            sql.push(format!(" AND {column} = ")).push_bind(id.clone());
        }
    }
}

/// `AND state = …` when the filter names a state, which must be one of `states`.
pub(crate) fn push_state(sql: &mut QueryBuilder<Postgres>, filter: &Filter, states: &[&str]) -> Result<()> {
    if let Some(state) = filter.get("state") {
        if !states.contains(&state) {
            return Err(Error::invalid(
                "filter",
                format!("state `{state}` is not one of {}", states.join(", ")),
            ));
        }
        sql.push(" AND state = ").push_bind(state.to_owned());
    }
    Ok(())
}
