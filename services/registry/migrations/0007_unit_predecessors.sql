-- A unit's predecessors are read from the successor links backwards.
CREATE INDEX unit_successors_to ON unit_successors (to_scheme, to_code) WHERE is_default;
