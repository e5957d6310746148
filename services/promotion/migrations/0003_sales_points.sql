-- OCOP sales points and what they carry, with the request_ids and append-only
-- audit tables every service keeps (see ocop_kit::idempotency and ocop_kit::audit).
CREATE TABLE request_ids (
    request_id  uuid PRIMARY KEY,
    method      text NOT NULL,
    resource    text NOT NULL,
    response    bytea,
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE audit_events (
    sequence      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    role          text NOT NULL,
    request_id    text NOT NULL DEFAULT '',
    method        text NOT NULL,
    resource      text NOT NULL,
    province_code text NOT NULL DEFAULT '',
    etag_before   text NOT NULL DEFAULT '',
    etag_after    text NOT NULL DEFAULT '',
    traceparent   text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_by_resource ON audit_events (resource, sequence);
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION append_only();

CREATE TABLE sales_points (
    id            text PRIMARY KEY,
    display_name  text NOT NULL,
    location_type text NOT NULL,
    address       text NOT NULL,
    commune_code  text NOT NULL,
    province_code text NOT NULL,
    operator      text NOT NULL,
    opening_date  date NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sales_points_by_place ON sales_points (province_code, commune_code, id);

CREATE TABLE sales_point_products (
    sales_point  text NOT NULL REFERENCES sales_points (id),
    code         text NOT NULL,
    product      text NOT NULL,
    product_name text NOT NULL,
    stars        integer NOT NULL,
    -- Set by the certification feed when the certificate leaves the catalog.
    flag_reason  text,
    add_time     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sales_point, code)
);
CREATE INDEX sales_point_products_by_code ON sales_point_products (code);
