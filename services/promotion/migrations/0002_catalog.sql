-- The public catalog: a read model of certificates in force, fed by the
-- certification feed, with names kept current by the registry feed.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

-- unaccent() is only STABLE; naming the dictionary makes the wrapper IMMUTABLE.
CREATE FUNCTION fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

CREATE TABLE catalog (
    code          text PRIMARY KEY,
    product       text NOT NULL,
    product_name  text NOT NULL,
    subject       text NOT NULL,
    subject_name  text NOT NULL,
    province_code text NOT NULL,
    province_name text NOT NULL,
    commune_code  text NOT NULL,
    group_code    text NOT NULL,
    stars         integer NOT NULL,
    issue_date    date NOT NULL,
    valid_until   date NOT NULL,
    search        text GENERATED ALWAYS AS (fold(product_name || ' ' || subject_name)) STORED,
    update_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX catalog_province ON catalog (province_code, stars DESC, product_name, code);
CREATE INDEX catalog_product ON catalog (product);
CREATE INDEX catalog_subject ON catalog (subject);
CREATE INDEX catalog_search ON catalog USING gin (search public.gin_trgm_ops);
