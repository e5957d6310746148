-- One sheet per council member per entry, scored on the entry's pinned set.
CREATE TABLE score_sheets (
    round_id     text NOT NULL,
    entry_id     text NOT NULL,
    member       text NOT NULL,
    criteria_set text NOT NULL REFERENCES criteria_sets (id),
    answers      jsonb NOT NULL DEFAULT '[]',
    state        text NOT NULL CHECK (state IN ('draft', 'submitted')),
    total        integer NOT NULL DEFAULT 0,
    version      bigint NOT NULL DEFAULT 1,
    update_time  timestamptz NOT NULL DEFAULT now(),
    submit_time  timestamptz,
    PRIMARY KEY (round_id, entry_id, member),
    FOREIGN KEY (round_id, entry_id) REFERENCES entries (round_id, id)
);

-- A submitted sheet is locked, whoever asks.
CREATE FUNCTION score_sheets_locked_once_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'submitted' THEN
        RAISE EXCEPTION 'score sheet %/%/% is submitted and locked', OLD.round_id, OLD.entry_id, OLD.member
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER score_sheets_locked_once_submitted BEFORE UPDATE OR DELETE ON score_sheets
    FOR EACH ROW EXECUTE FUNCTION score_sheets_locked_once_submitted();
