-- A cancelled round keeps why it was cancelled.
ALTER TABLE rounds ADD COLUMN cancel_reason text NOT NULL DEFAULT '';
