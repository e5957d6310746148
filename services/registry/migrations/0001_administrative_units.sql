-- Administrative units of both code lists (124/2004 and 19/2025), one row per
-- (scheme, code): codes are unique within a scheme and their length tells the
-- level (2 province, 3 district, 5 commune). Loaded from data/*.csv at start.
CREATE TABLE administrative_units (
    scheme        smallint NOT NULL CHECK (scheme IN (2004, 2025)),
    code          text     NOT NULL CHECK (code ~ '^[0-9]{2}$|^[0-9]{3}$|^[0-9]{5}$'),
    level         text     NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    level_rank    smallint GENERATED ALWAYS AS (
                      CASE level WHEN 'province' THEN 1 WHEN 'district' THEN 2 ELSE 3 END) STORED,
    name          text     NOT NULL,
    parent_code   text,
    province_code text     NOT NULL,
    valid_from    date,
    valid_until   date,
    PRIMARY KEY (scheme, code),
    FOREIGN KEY (scheme, parent_code) REFERENCES administrative_units (scheme, code),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_from <= valid_until)
);

-- List order: newest scheme first, then level, then code (keyset pagination).
CREATE INDEX administrative_units_list ON administrative_units ((-scheme), level_rank, code);
CREATE INDEX administrative_units_parent ON administrative_units (scheme, parent_code);
CREATE INDEX administrative_units_province ON administrative_units (province_code, scheme);

-- Where a ceased unit went. A split commune has several successors, one default.
CREATE TABLE unit_successors (
    from_scheme smallint NOT NULL,
    from_code   text     NOT NULL,
    to_scheme   smallint NOT NULL,
    to_code     text     NOT NULL,
    is_default  boolean  NOT NULL,
    PRIMARY KEY (from_scheme, from_code, to_scheme, to_code),
    FOREIGN KEY (from_scheme, from_code) REFERENCES administrative_units (scheme, code),
    FOREIGN KEY (to_scheme, to_code) REFERENCES administrative_units (scheme, code)
);
CREATE UNIQUE INDEX unit_successors_one_default ON unit_successors (from_scheme, from_code) WHERE is_default;

-- Fingerprints of the reference data loaded, so a restart does not reload it.
CREATE TABLE reference_data (
    name        text PRIMARY KEY,
    fingerprint text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
