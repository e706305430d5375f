-- The schedule and the leases (records carry `due`, `failures`, `last_error`, `cancelled`),
-- and each order's history.
ALTER TABLE orders ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN open INTEGER NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN due TEXT;
ALTER TABLE orders ADD COLUMN lease_owner TEXT;
ALTER TABLE orders ADD COLUMN lease_until TEXT;
CREATE INDEX orders_due ON orders (open, due);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX history_key ON history (key, id);
