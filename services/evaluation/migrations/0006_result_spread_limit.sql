-- The spread limit a result was computed with, so that RecomputeResult uses
-- the same one even after the deployment's setting changes.
ALTER TABLE results ADD COLUMN spread_limit integer NOT NULL DEFAULT 10;
