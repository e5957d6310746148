-- The producer's dossier for evaluation (Decision 26/2026 Điều 6.1): Mẫu 01
-- and Mẫu 02 as filed with the commune. What is filtered or read on its own
-- has a column; the forms themselves are stored as recorded, an encoded
-- ocop.registry.v1.ProductDossier holding registration, self_assessment,
-- recognised_certificate and changes (as criteria_sets keep their content).
-- A dossier is never changed: a correction is a new dossier.
CREATE TABLE dossiers (
    subject_id     text NOT NULL,
    product_id     text NOT NULL,
    id             text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('first_rating', 'upgrade', 're_rating')),
    submitted_date date NOT NULL,
    received_date  date NOT NULL CHECK (received_date >= submitted_date),
    receipt_number text NOT NULL DEFAULT '',
    received_by    text NOT NULL,
    commune_code   text NOT NULL,
    province_code  text NOT NULL,
    subgroup_code  text NOT NULL,
    forms          bytea NOT NULL,
    create_time    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_id, product_id, id),
    FOREIGN KEY (subject_id, product_id) REFERENCES products (subject_id, id)
);
CREATE INDEX dossiers_by_time ON dossiers (create_time, subject_id, product_id, id);
