-- Criteria sheets, versioned and immutable once a score sheet has used them.
CREATE TABLE criteria_sets (
    id             text PRIMARY KEY,
    decision       text NOT NULL CHECK (decision IN ('1048', '148')),
    group_code     text NOT NULL,
    subgroup_code  text NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    content        bytea NOT NULL,   -- the encoded ocop.evaluation.v1.CriteriaSet
    fingerprint    text NOT NULL,
    in_force_from  date NOT NULL,
    in_force_until date,
    used           boolean NOT NULL DEFAULT false,
    create_time    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (decision, subgroup_code, version)
);

-- A used set can never change; a correction is a new version.
CREATE FUNCTION criteria_sets_immutable_once_used() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.used AND (NEW.content IS DISTINCT FROM OLD.content OR NOT NEW.used) THEN
        RAISE EXCEPTION 'criteria set % has been used by a score sheet and cannot change', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER criteria_sets_immutable_once_used BEFORE UPDATE ON criteria_sets
    FOR EACH ROW EXECUTE FUNCTION criteria_sets_immutable_once_used();
CREATE TRIGGER criteria_sets_never_deleted_once_used BEFORE DELETE ON criteria_sets
    FOR EACH ROW WHEN (OLD.used) EXECUTE FUNCTION criteria_sets_immutable_once_used();
