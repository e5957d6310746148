-- What submitting a sheet needs, decided when the draft is saved: the sheet's
-- criteria set, answers and total in wire form (an encoded
-- ocop.evaluation.v1.ScoreSheet holding only those fields), and the criteria
-- it leaves unanswered. With them a submit is one statement that reads
-- nothing first (sheets::submit). `answers` stays the readable record that
-- publishing and people with psql read.
--
-- Drafts saved before this migration get both from sheets::backfill when the
-- service starts, before it serves.
ALTER TABLE score_sheets
    ADD COLUMN body       bytea,
    ADD COLUMN unanswered text[] NOT NULL DEFAULT '{}';
