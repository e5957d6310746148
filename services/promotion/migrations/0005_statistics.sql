-- What statistics need beyond the catalog: the registry's products and
-- producers (fed by its change feed) and the provinces' yearly targets.
CREATE TABLE registered_products (
    product       text PRIMARY KEY,
    subject       text NOT NULL,
    province_code text NOT NULL,
    group_code    text NOT NULL,
    deleted       boolean NOT NULL
);
CREATE INDEX registered_products_by_province ON registered_products (province_code) WHERE NOT deleted;
CREATE TABLE producers (
    subject       text PRIMARY KEY,
    kind          text NOT NULL,
    province_code text NOT NULL
);
CREATE TABLE targets (
    province_code text NOT NULL,
    year          integer NOT NULL,
    id            text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('certified_products', 'certified_share_percent', 'sales_point_communes')),
    min_stars     integer NOT NULL,
    max_stars     integer NOT NULL,
    value         integer NOT NULL CHECK (value >= 0),
    description   text NOT NULL,
    update_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, year, id)
);
