-- After certification (Decision 26/2026/QĐ-TTg Điều 7.6, 8, 9 and 12.3):
-- re-rating applications, the transition's extension of validity,
-- supersession by another deployment's certificate, revocation grounds (in
-- the revocation's jsonb) and inspections with their revocation proposals.

-- Under Điều 12.3 a certificate stays valid past its 36 months until its
-- re-rating's result, at most 180 days: its last valid day while extended.
-- Its signed fields keep the 36-month date.
ALTER TABLE certificates ADD COLUMN extended_until date CHECK (extended_until >= expire_date);
-- A province's certificate may be superseded by the national 5-star
-- certificate of the same product, which lives in `mirrored`, not here.
ALTER TABLE certificates DROP CONSTRAINT certificates_superseded_by_fkey;

-- Why a change was recorded the way it was, for the reader of the audit
-- (a revocation later than the 15 days of Điều 8.4, for instance).
ALTER TABLE audit_events ADD COLUMN note text NOT NULL DEFAULT '';

-- One re-rating dossier per certificate (Điều 7.6).
CREATE TABLE re_ratings (
    code               text PRIMARY KEY REFERENCES certificates (code),
    product            text NOT NULL,
    province_code      text NOT NULL,
    state              text NOT NULL CHECK (state IN ('filed', 're_certified', 'not_re_certified', 'withdrawn')),
    dossier_reference  text NOT NULL,
    filed_date         date NOT NULL,
    window_start       date NOT NULL,
    window_end         date NOT NULL CHECK (window_end > window_start),
    transition         boolean NOT NULL,
    extended_until     date,
    decide_by          date NOT NULL,
    result_certificate text,
    outcome_date       date CHECK (outcome_date >= filed_date),
    text               text NOT NULL DEFAULT '',
    actor              text NOT NULL,
    version            bigint NOT NULL DEFAULT 1,
    create_time        timestamptz NOT NULL DEFAULT now(),
    update_time        timestamptz NOT NULL DEFAULT now(),
    CHECK (transition = (extended_until IS NOT NULL)),
    CHECK ((state = 'filed') = (outcome_date IS NULL))
);

CREATE TABLE inspections (
    id                  uuid PRIMARY KEY,
    code                text NOT NULL REFERENCES certificates (code),
    product             text NOT NULL,
    province_code       text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('periodic', 'ad_hoc')),
    inspection_date     date NOT NULL,
    inspector           text NOT NULL,
    reason              text NOT NULL DEFAULT '',
    state               text NOT NULL CHECK (state IN ('open', 'concluded')),
    criteria            text CHECK (criteria IN ('compliant', 'non_compliant', 'not_checked')),
    mark_use            text CHECK (mark_use IN ('compliant', 'non_compliant', 'not_checked')),
    product_information text CHECK (product_information IN ('compliant', 'non_compliant', 'not_checked')),
    report              text NOT NULL DEFAULT '',
    outcome             text CHECK (outcome IN ('compliant', 'non_compliant')),
    conclusion_document text NOT NULL DEFAULT '',
    conclusion_date     date CHECK (conclusion_date >= inspection_date),
    -- The revocation proposal of a non-compliant outcome, and its review.
    proposal            jsonb,
    actor               text NOT NULL,
    version             bigint NOT NULL DEFAULT 1,
    create_time         timestamptz NOT NULL DEFAULT now(),
    update_time         timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'concluded') = (outcome IS NOT NULL)),
    CHECK ((outcome = 'non_compliant') = (proposal IS NOT NULL))
);
-- Listing in order of the time-ordered (v7) ids, per certificate or all.
CREATE INDEX inspections_by_certificate ON inspections (code, id);

-- Expiry reads the end of an extension: the sweep and ListExpiringCertificates
-- look up certificates by it.
CREATE INDEX certificates_ending ON certificates ((COALESCE(extended_until + 1, expire_date)), code)
    WHERE state = 'active';
