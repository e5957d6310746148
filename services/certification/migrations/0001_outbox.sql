-- The change feed of the certification service (DESIGN.md §6): every change is written
-- here in the same transaction as the change itself, with a gap-free order
-- (sequence) and the W3C traceparent of the request that made it.
CREATE TABLE outbox (
    sequence     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource     text        NOT NULL,
    change       text        NOT NULL,
    payload      bytea       NOT NULL,
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
