-- Each offer's last stock sync and the passes over the whole shop (as SQLite's schema 6).
-- The record is text, as an order's is: one that no longer reads is passed over, not
-- refused by the database. An offer's history is kept in `commerce_history`, under
-- `offer:CHANNEL:ID`.
CREATE TABLE commerce_offers (
    channel TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    ean TEXT,
    record TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, offer_id)
);
CREATE INDEX commerce_offers_ean ON commerce_offers (ean);
CREATE TABLE commerce_passes (
    name TEXT PRIMARY KEY,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    next_due TIMESTAMPTZ,
    last_started TIMESTAMPTZ,
    last_finished TIMESTAMPTZ,
    last_summary TEXT
);
