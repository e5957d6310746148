-- Re-rating after 36 months under Decision 26/2026 (Điều 7.6).
--
-- A round may be decided by the council's written opinions, without a
-- meeting; such a round takes re-rating entries only.
ALTER TABLE rounds ADD COLUMN written_opinions boolean NOT NULL DEFAULT false;
--
-- A re-rating entry consumes the holder's application accepted in its
-- window by the certification service (`certificates/{code}/reRating`),
-- and keeps the day its result is due: 45 days from the complete dossier.
ALTER TABLE entries
    ADD COLUMN re_rating_application text NOT NULL DEFAULT '',
    ADD COLUMN re_rating_decide_by   date;

-- Which entries consumed an application (one outside cancelled rounds).
CREATE INDEX entries_re_rating_application ON entries (re_rating_application) WHERE re_rating_application <> '';

-- A result says how its council decided and which application it answers.
ALTER TABLE results
    ADD COLUMN written_opinions      boolean NOT NULL DEFAULT false,
    ADD COLUMN re_rating_application text NOT NULL DEFAULT '';
