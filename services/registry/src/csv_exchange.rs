//! CSV import and export of a province's producers and products, one row per
//! product (a producer without products has one row with the product columns
//! empty). The format is in the README; export writes what import reads, so
//! export → import into an empty deployment round-trips, ids included.
//!
//! Import is all or nothing: every row is checked first, and any problem
//! comes back as a field violation `rows[N].column` (N is the line number in
//! the file, the header being line 1) with nothing written.
//!
//! `read` reads the file, `check` checks it against what is stored
//! (`known`), `import` writes what was checked, `export` writes the file;
//! `format` turns cells into values and back.

mod check;
mod export;
mod export_slots;
mod format;
mod import;
mod known;
mod read;

pub use export::export;
pub use export_slots::ExportSlots;
pub use import::import;

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
