-- Each offer's last stock sync (the record as JSON; its EAN beside it, for `show EAN`), and
-- the passes over the whole shop (the stock loop): which runner holds one, until when, and
-- when the next is due. An offer's history is kept in `history`, under `offer:CHANNEL:ID`.
CREATE TABLE offers (
    channel TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    ean TEXT,
    record TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, offer_id)
);
CREATE INDEX offers_ean ON offers (ean);
CREATE TABLE passes (
    name TEXT PRIMARY KEY,
    lease_owner TEXT,
    lease_until TEXT,
    next_due TEXT,
    last_started TEXT,
    last_finished TEXT,
    last_summary TEXT
);
