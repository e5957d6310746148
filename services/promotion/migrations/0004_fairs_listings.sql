-- Fairs with their booths, and e-commerce listings of certified products.
CREATE TABLE fairs (
    id            text PRIMARY KEY,
    display_name  text NOT NULL,
    start_date    date NOT NULL,
    end_date      date NOT NULL CHECK (end_date >= start_date),
    place         text NOT NULL,
    organiser     text NOT NULL,
    province_code text NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fairs_by_date ON fairs (province_code, start_date DESC, id);
CREATE TABLE fair_booths (
    fair         text NOT NULL REFERENCES fairs (id),
    label        text NOT NULL,
    subject      text NOT NULL,
    subject_name text NOT NULL,
    certificates text[] NOT NULL,
    PRIMARY KEY (fair, label)
);
CREATE TABLE listings (
    id            text PRIMARY KEY,
    platform      text NOT NULL,
    url           text NOT NULL UNIQUE,
    code          text NOT NULL,
    product       text NOT NULL,
    product_name  text NOT NULL,
    province_code text NOT NULL,
    create_time   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX listings_by_code ON listings (code);
