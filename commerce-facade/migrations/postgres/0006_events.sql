-- The events sales channels push (as SQLite's schema 8), each as received once its
-- signature was verified: `id` is `CHANNEL:` and the SHA-256 of the raw body in hex (a
-- re-delivery of the same body is the same event, added once), `kind` `RESOURCE:TYPE` as
-- the provider sent them, `body` the verified raw body (at most 64 KiB). `handled_at` is set
-- once the flow acted on it; only handled events are ever purged.
CREATE TABLE commerce_events (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT,
    received_at TIMESTAMPTZ NOT NULL,
    handled_at TIMESTAMPTZ,
    body TEXT NOT NULL
);
CREATE INDEX commerce_events_unhandled ON commerce_events (channel, received_at, id COLLATE "C")
    WHERE handled_at IS NULL;
CREATE INDEX commerce_events_handled ON commerce_events (handled_at) WHERE handled_at IS NOT NULL;
