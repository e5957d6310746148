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

-- A replica of an older version, still running during an upgrade, changes a
-- draft's answers without its body. The body it leaves would be stale, so it
-- is dropped: submitting that draft is refused (SHEET_NEEDS_SAVE) until it is
-- saved again.
CREATE FUNCTION score_sheets_body_follows_answers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.body := NULL;
    NEW.unanswered := '{}';
    RETURN NEW;
END $$;
CREATE TRIGGER score_sheets_body_follows_answers BEFORE UPDATE ON score_sheets
    -- In this order, so that a submit (state) and a save (body) stop before comparing answers.
    FOR EACH ROW WHEN (NEW.state = 'draft' AND NEW.body IS NOT DISTINCT FROM OLD.body
                       AND NEW.answers IS DISTINCT FROM OLD.answers)
    EXECUTE FUNCTION score_sheets_body_follows_answers();
