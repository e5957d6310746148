//! The promotion service's tables in a province's export (see `ocop_kit::dataset`).

use ocop_kit::dataset::{Dataset, LeftOut, Table};

/// What a province's export carries of promotion. The read models are
/// rebuilt by the importing deployment from the feed entries that travel.
pub const DATASET: Dataset = Dataset {
    schema: "promotion",
    tables: &[
        Table::plain("sales_points"),
        Table::plain("sales_point_products"),
        Table::plain("fairs"),
        Table::plain("fair_booths"),
        Table::plain("listings"),
        Table::plain("targets"),
        Table::plain("audit_events"),
    ],
    left_out: &[
        LeftOut {
            name: "catalog",
            why: "a read model of the certification feed",
        },
        LeftOut {
            name: "producers",
            why: "a read model of the registry feed",
        },
        LeftOut {
            name: "registered_products",
            why: "a read model of the registry feed",
        },
    ],
};
