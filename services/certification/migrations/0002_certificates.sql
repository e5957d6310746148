-- Certificates, their append-only history, the deployment's signing keys and
-- the decision-number counters, with the request_ids and audit tables every
-- service keeps (see ocop_kit::idempotency and ocop_kit::audit).

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

-- Public keys that ever signed a certificate here; one is current.
CREATE TABLE signing_keys (
    key_id      text PRIMARY KEY,
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    current     boolean NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    retire_time timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (current) WHERE current;

-- The last decision number per authority and year. Issuing takes the row lock,
-- so concurrent issues queue, and a rolled-back issue gives its number back.
CREATE TABLE decision_counters (
    authority   text NOT NULL,
    year        integer NOT NULL,
    last_number integer NOT NULL,
    PRIMARY KEY (authority, year)
);

CREATE TABLE certificates (
    code               text PRIMARY KEY,
    result             text NOT NULL UNIQUE,
    product            text NOT NULL,
    subject            text NOT NULL,
    product_name       text NOT NULL,
    subject_name       text NOT NULL,
    province_code      text NOT NULL,
    province_name      text NOT NULL,
    commune_code       text NOT NULL,
    group_code         text NOT NULL,
    stars              integer NOT NULL CHECK (stars BETWEEN 3 AND 5),
    issuing_level      text NOT NULL CHECK (issuing_level IN ('district', 'province', 'central')),
    authority          text NOT NULL,
    authority_name     text NOT NULL,
    decision_year      integer NOT NULL,
    decision_number    integer NOT NULL CHECK (decision_number >= 1),
    decision_reference text NOT NULL,
    decision_date      date NOT NULL,
    issue_date         date NOT NULL CHECK (issue_date >= decision_date),
    -- The first day it is no longer valid: issue_date + 36 months.
    expire_date        date NOT NULL CHECK (expire_date > issue_date),
    state              text NOT NULL CHECK (state IN ('active', 'superseded', 'revoked', 'expired')),
    kind               text NOT NULL CHECK (kind IN ('new', 'renewal', 'upgrade')),
    supersedes         text REFERENCES certificates (code),
    -- Checked at commit: the superseding certificate is inserted after this row is updated.
    superseded_by      text REFERENCES certificates (code) DEFERRABLE INITIALLY DEFERRED,
    revocation         jsonb,
    key_id             text NOT NULL REFERENCES signing_keys (key_id),
    signed_fields      bytea NOT NULL,
    signature          bytea NOT NULL CHECK (length(signature) = 64),
    expiry_notice_time timestamptz,
    version            bigint NOT NULL DEFAULT 1,
    create_time        timestamptz NOT NULL DEFAULT now(),
    update_time        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (authority, decision_year, decision_number)
);
-- One certificate in force per product.
CREATE UNIQUE INDEX certificates_one_active ON certificates (product) WHERE state = 'active';
CREATE INDEX certificates_expiring ON certificates (expire_date) WHERE state = 'active';
CREATE INDEX certificates_newest ON certificates (create_time DESC, code DESC);

CREATE TABLE certificate_events (
    sequence    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL REFERENCES certificates (code),
    kind        text NOT NULL,
    actor       text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    related     text NOT NULL DEFAULT '',
    traceparent text NOT NULL DEFAULT '',
    event_time  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificate_events_by_code ON certificate_events (code, sequence);
CREATE TRIGGER certificate_events_append_only BEFORE UPDATE OR DELETE ON certificate_events
    FOR EACH ROW EXECUTE FUNCTION append_only();
