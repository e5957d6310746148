//! The certification service's tables in a province's export (see `ocop_kit::dataset`).

use ocop_kit::dataset::{Dataset, Table};

/// What a province's export carries of certification. Signing keys leave
/// retired: the importing deployment lists them for offline checks of the
/// old certificates, and only the deployment that holds a key signs with it.
pub const DATASET: Dataset = Dataset {
    schema: "certification",
    tables: &[
        Table {
            name: "signing_keys",
            exported_as: &[("current", "false"), ("retire_time", "COALESCE(retire_time, now())")],
            on_conflict: "DO NOTHING",
        },
        // Numbers already used in either deployment stay used.
        Table {
            on_conflict: "(authority, year) DO UPDATE SET last_number = \
                          GREATEST(decision_counters.last_number, EXCLUDED.last_number)",
            ..Table::plain("decision_counters")
        },
        Table::plain("certificates"),
        Table::plain("certificate_events"),
        Table::plain("re_ratings"),
        Table::plain("inspections"),
        Table::plain("audit_events"),
    ],
    left_out: &[],
};
