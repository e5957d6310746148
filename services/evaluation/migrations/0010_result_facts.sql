-- A published result carries the facts it was reached on, so that it stands on
-- its own: certification reads level and decision date, the feeds read the
-- producer, commune and group.
ALTER TABLE results
    ADD COLUMN subject       text NOT NULL DEFAULT '',
    ADD COLUMN commune_code  text NOT NULL DEFAULT '',
    ADD COLUMN group_code    text NOT NULL DEFAULT '',
    ADD COLUMN level         text NOT NULL DEFAULT '',
    ADD COLUMN decision_date date;
UPDATE results r SET subject = e.subject, commune_code = e.commune_code
    FROM entries e WHERE e.round_id = r.round_id AND e.id = r.entry_id;
UPDATE results r SET group_code = c.group_code FROM criteria_sets c WHERE c.id = r.criteria_set;
UPDATE results r SET level = o.level, decision_date = o.decision_date FROM rounds o WHERE o.id = r.round_id;
ALTER TABLE results ALTER COLUMN decision_date SET NOT NULL;
CREATE INDEX results_commune ON results (commune_code);
