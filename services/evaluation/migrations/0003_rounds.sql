-- Rounds, councils and entries, with the request_ids and append-only audit
-- tables every service keeps (see ocop_kit::idempotency and ocop_kit::audit).

CREATE TABLE request_ids (
    request_id  uuid PRIMARY KEY,
    method      text NOT NULL,
    resource    text NOT NULL,
    -- The encoded response, for methods whose answer is not a stored resource (imports).
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
CREATE INDEX audit_events_by_province ON audit_events (province_code, sequence);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE rounds (
    id                text PRIMARY KEY,
    level             text NOT NULL CHECK (level IN ('commune_assessment', 'district', 'province', 'central')),
    year              integer NOT NULL CHECK (year BETWEEN 2019 AND 2100),
    batch             integer NOT NULL CHECK (batch >= 1),
    province_code     text NOT NULL DEFAULT '',
    decision_date     date NOT NULL,
    criteria_decision text NOT NULL CHECK (criteria_decision IN ('1048', '148')),
    state             text NOT NULL CHECK (state IN ('draft', 'open', 'scoring', 'published', 'cancelled')),
    council           jsonb NOT NULL DEFAULT '[]',
    advisory_team     jsonb NOT NULL DEFAULT '[]',
    version           bigint NOT NULL DEFAULT 1,
    create_time       timestamptz NOT NULL DEFAULT now(),
    update_time       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (level, year, batch, province_code)
);

CREATE TABLE entries (
    round_id      text NOT NULL REFERENCES rounds (id),
    id            text NOT NULL,
    product       text NOT NULL,
    subject       text NOT NULL,
    subgroup_code text NOT NULL,
    criteria_set  text NOT NULL REFERENCES criteria_sets (id),
    province_code text NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (round_id, id),
    UNIQUE (round_id, product)
);
