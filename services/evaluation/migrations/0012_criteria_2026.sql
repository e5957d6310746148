-- Decision 26/2026/QĐ-TTg: its sheets are stored (as decision '2026') and
-- rounds from 2026-05-22 score on them.
ALTER TABLE criteria_sets
    DROP CONSTRAINT criteria_sets_decision_check,
    ADD CONSTRAINT criteria_sets_decision_check CHECK (decision IN ('1048', '148', '2026'));
ALTER TABLE rounds
    DROP CONSTRAINT rounds_criteria_decision_check,
    ADD CONSTRAINT rounds_criteria_decision_check CHECK (criteria_decision IN ('1048', '148', '2026'));

-- The product code each 26/2026 sheet prints, "(T)-(X)-(STT)-year": one per
-- product and year of evaluation, numbered per commune and year from 1
-- without gaps (a number is taken in the transaction that enters the
-- product, so a refused entry gives it back). Rows are never deleted: a
-- product keeps its number for the year whatever becomes of the round.
CREATE TABLE product_codes (
    product       text NOT NULL,
    year          integer NOT NULL,
    province_code text NOT NULL,
    commune_code  text NOT NULL,
    seq           integer NOT NULL CHECK (seq >= 1),
    code          text NOT NULL UNIQUE,
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product, year),
    UNIQUE (commune_code, year, seq)
);
-- The last number each commune gave in each year; its row lock orders the
-- numbering of concurrent entries of one commune.
CREATE TABLE product_code_counters (
    commune_code text NOT NULL,
    year         integer NOT NULL,
    last         integer NOT NULL CHECK (last >= 1),
    PRIMARY KEY (commune_code, year)
);

ALTER TABLE entries ADD COLUMN product_code text NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN product_code text NOT NULL DEFAULT '';
