-- On the national deployment: the provinces' products as their registry feeds
-- describe them (the `mirrored` table keeps them too, as opaque rows), with
-- the columns that national search and filters need.
CREATE TABLE national_products (
    name          text PRIMARY KEY,
    origin        text NOT NULL,
    province_code text NOT NULL,
    group_code    text NOT NULL,
    display_name  text NOT NULL,
    deleted       boolean NOT NULL,
    payload       bytea NOT NULL,
    search        text GENERATED ALWAYS AS (fold(display_name)) STORED,
    search_words  tsvector GENERATED ALWAYS AS (to_tsvector('simple', fold(display_name))) STORED
);
CREATE INDEX national_products_search_words ON national_products USING gin (search_words);
CREATE INDEX national_products_by_province ON national_products (province_code, name);
