-- The procedure of Decision 26/2026 (Điều 5–7, 12) on rounds, entries and results.
--
-- An additional batch (3 or more under 26/2026, Điều 5) names the council
-- regulation and plan that provide for it.
ALTER TABLE rounds ADD COLUMN batch_basis text NOT NULL DEFAULT '';
--
-- An entry keeps what it is rated under, decided when it is entered: the
-- producer's dossier in the registry (its kind and dates), the rules
-- (`regime`: a dossier filed before 2026-05-22 keeps 148/1489 within its
-- transition window) and what its commune does under them (`commune_step`).
-- Under 26/2026 the commune's report (Mẫu 03) replaces the 4 criteria, due
-- 15 working days after the dossier's receipt; `proposed_date` is the day
-- of the proposal that brought the entry into its batch: the commune's
-- report, or for a CENTRAL entry the province's proposal of `nomination`.
ALTER TABLE entries
    ADD COLUMN product_dossier    text NOT NULL DEFAULT '',
    ADD COLUMN dossier_kind       text NOT NULL DEFAULT ''
        CHECK (dossier_kind IN ('', 'first_rating', 'upgrade', 're_rating')),
    ADD COLUMN dossier_submitted  date,
    ADD COLUMN dossier_received   date,
    ADD COLUMN regime             text NOT NULL DEFAULT '',
    ADD COLUMN commune_step       text NOT NULL DEFAULT 'none'
        CHECK (commune_step IN ('none', 'four_criteria', 'report')),
    ADD COLUMN commune_report     jsonb,
    ADD COLUMN commune_report_due date,
    ADD COLUMN nomination         text NOT NULL DEFAULT '',
    ADD COLUMN proposed_date      date;

-- Entries made before: the rules of their round's date, as the code applied them.
UPDATE entries e SET
    regime = CASE WHEN r.decision_date < DATE '2023-02-24' THEN '1048'
                  WHEN r.decision_date < DATE '2025-07-06' THEN '148'
                  ELSE '148/1489' END,
    commune_step = CASE WHEN r.level = 'province' AND r.decision_date >= DATE '2025-07-06'
                        THEN 'four_criteria' ELSE 'none' END
    FROM rounds r WHERE r.id = e.round_id;

-- The province's overdue reports, across rounds.
CREATE INDEX entries_reports_due ON entries (commune_report_due) WHERE commune_step = 'report';

-- A result keeps its entry's dossier and rules; a nominated one the
-- chairman's approval and the province's proposal (each recorded once); a
-- CENTRAL one below 90 the stars the province may certify on it.
ALTER TABLE results
    ADD COLUMN product_dossier text NOT NULL DEFAULT '',
    ADD COLUMN regime          text NOT NULL DEFAULT '',
    ADD COLUMN approval        jsonb,
    ADD COLUMN proposal        jsonb,
    ADD COLUMN province_stars  integer NOT NULL DEFAULT 0 CHECK (province_stars IN (0, 3, 4)),
    ADD CONSTRAINT results_proposal_after_approval CHECK (proposal IS NULL OR approval IS NOT NULL);
UPDATE results r SET regime = e.regime FROM entries e WHERE e.round_id = r.round_id AND e.id = r.entry_id;
