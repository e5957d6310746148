//! The evaluation service's tables in a province's export (see `ocop_kit::dataset`).

use ocop_kit::dataset::{Dataset, Table};

/// What a province's export carries of evaluation.
pub const DATASET: Dataset = Dataset {
    schema: "evaluation",
    tables: &[
        Table::plain("criteria_sets"),
        Table::plain("rounds"),
        Table::plain("entries"),
        Table::plain("score_sheets"),
        Table::plain("results"),
        // A commune's product numbers already used stay used (26/2026 product codes).
        Table {
            on_conflict: "(commune_code, year) DO UPDATE SET last = GREATEST(product_code_counters.last, EXCLUDED.last)",
            ..Table::plain("product_code_counters")
        },
        Table::plain("product_codes"),
        Table::plain("audit_events"),
    ],
    left_out: &[],
};
