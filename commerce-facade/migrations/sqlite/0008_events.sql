-- The events sales channels push (bol's push notifications), each as received once its
-- signature was verified: `id` is `CHANNEL:` and the SHA-256 of the raw body in hex (a
-- re-delivery of the same body is the same event, added once), `kind` `RESOURCE:TYPE` as
-- the provider sent them, `body` the verified raw body (at most 64 KiB). `handled_at` is set
-- once the flow acted on it; only handled events are ever purged.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT,
    received_at TEXT NOT NULL,
    handled_at TEXT,
    body TEXT NOT NULL
);
CREATE INDEX events_unhandled ON events (channel, received_at, id) WHERE handled_at IS NULL;
CREATE INDEX events_handled ON events (handled_at) WHERE handled_at IS NOT NULL;
