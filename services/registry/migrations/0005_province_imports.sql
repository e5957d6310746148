-- Province datasets imported into this deployment by `ocop import-province`,
-- by the checksum of their file: the same file imported again changes nothing.
CREATE TABLE province_imports (
    sha256        text PRIMARY KEY,
    province_code text NOT NULL,
    source        text NOT NULL,
    exported_at   text NOT NULL,
    import_time   timestamptz NOT NULL DEFAULT now()
);
