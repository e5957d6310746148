//! The registry's tables in a province's export (see `ocop_kit::dataset`).

use ocop_kit::dataset::{Dataset, LeftOut, Table};

/// What a province's export carries of the registry.
pub const DATASET: Dataset = Dataset {
    schema: "registry",
    tables: &[
        Table::plain("subjects"),
        Table::plain("products"),
        Table::plain("ideas"),
        Table::plain("plans"),
        Table::plain("support_records"),
        Table::plain("dossiers"),
        Table::plain("audit_events"),
    ],
    left_out: &[
        LeftOut {
            name: "administrative_units",
            why: "reference data, shipped with the binary",
        },
        LeftOut {
            name: "unit_successors",
            why: "reference data (the 2025 lineage), shipped with the binary",
        },
        LeftOut {
            name: "product_groups",
            why: "reference data (the taxonomy), shipped with the binary",
        },
        LeftOut {
            name: "reference_data",
            why: "which reference data this database has loaded",
        },
        LeftOut {
            name: "national_products",
            why: "the national deployment's mirror of the provinces, rebuilt from their feeds",
        },
        LeftOut {
            name: "province_imports",
            why: "the files this deployment imported",
        },
    ],
};
