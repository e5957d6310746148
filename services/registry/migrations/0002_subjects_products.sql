-- Producers, products, the product taxonomy, idempotent creates, the audit
-- log and the change feed.

CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

-- Case- and diacritic-insensitive form of a text ("Mật ong Đà Bắc" → "mat ong da bac").
-- unaccent() is only STABLE (it reads a dictionary); naming the dictionary makes
-- the wrapper safe to declare IMMUTABLE, which generated columns and indexes need.
CREATE FUNCTION fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

CREATE TABLE product_groups (
    group_code    text NOT NULL,
    group_name    text NOT NULL,
    subgroup_code text NOT NULL DEFAULT '',
    subgroup_name text NOT NULL DEFAULT '',
    PRIMARY KEY (group_code, subgroup_code)
);

CREATE TABLE subjects (
    id                                text PRIMARY KEY,
    kind                              text NOT NULL CHECK (kind IN ('cooperative', 'cooperative_group', 'enterprise', 'household_business')),
    legal_name                        text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 300),
    registration_number               text NOT NULL,
    representative_name               text NOT NULL,
    representative_is_woman           boolean NOT NULL DEFAULT false,
    representative_is_ethnic_minority boolean NOT NULL DEFAULT false,
    phone                             text NOT NULL DEFAULT '',
    email                             text NOT NULL DEFAULT '',
    address                           text NOT NULL DEFAULT '',
    commune_code                      text NOT NULL,
    province_code                     text NOT NULL,
    state                             text NOT NULL CHECK (state IN ('active', 'suspended', 'dissolved')),
    version                           bigint NOT NULL DEFAULT 1,
    create_time                       timestamptz NOT NULL DEFAULT now(),
    update_time                       timestamptz NOT NULL DEFAULT now(),
    delete_time                       timestamptz,
    search                            text GENERATED ALWAYS AS (fold(legal_name || ' ' || registration_number)) STORED
);
-- A registration number identifies one producer for ever, deleted or not.
CREATE UNIQUE INDEX subjects_registration_number ON subjects (registration_number);
CREATE INDEX subjects_by_time ON subjects (create_time, id);
CREATE INDEX subjects_by_province ON subjects (province_code, create_time, id);
CREATE INDEX subjects_search ON subjects USING gin (search gin_trgm_ops);

CREATE TABLE products (
    subject_id          text NOT NULL REFERENCES subjects (id),
    id                  text NOT NULL,
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 300),
    group_code          text NOT NULL,
    subgroup_code       text NOT NULL DEFAULT '',
    description         text NOT NULL DEFAULT '',
    origin_commune_code text NOT NULL,
    province_code       text NOT NULL,
    raw_material_area   text NOT NULL DEFAULT '',
    standards           jsonb NOT NULL DEFAULT '[]',
    state               text NOT NULL CHECK (state IN ('active', 'discontinued')),
    version             bigint NOT NULL DEFAULT 1,
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    delete_time         timestamptz,
    search              text GENERATED ALWAYS AS (fold(display_name)) STORED,
    PRIMARY KEY (subject_id, id),
    FOREIGN KEY (group_code, subgroup_code) REFERENCES product_groups (group_code, subgroup_code)
);
CREATE INDEX products_by_time ON products (create_time, subject_id, id);
CREATE INDEX products_by_province ON products (province_code, create_time, subject_id, id);
CREATE INDEX products_search ON products USING gin (search gin_trgm_ops);

-- request_id of every create, so that a retry returns the first result.
CREATE TABLE request_ids (
    request_id  uuid PRIMARY KEY,
    method      text NOT NULL,
    resource    text NOT NULL,
    -- The encoded response, for methods whose answer is not a stored resource (imports).
    response    bytea,
    create_time timestamptz NOT NULL DEFAULT now()
);

-- Every mutation, written in the same transaction. Append-only: a trigger
-- refuses updates and deletes, whoever asks.
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

-- The change feed (DESIGN.md §6): one row per change, in commit order of its sequence.
CREATE TABLE outbox (
    sequence    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource    text        NOT NULL,
    change      text        NOT NULL,
    payload     bytea       NOT NULL,
    traceparent text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
