-- Each return item of a sales channel the returns loop works (as SQLite's schema 7). The
-- record is text, as an order's is: one that no longer reads is passed over, not refused by
-- the database. `version` counts its writes (an operator's change is compared against it).
-- A return's history is kept in `commerce_history`, under `return:CHANNEL:RMA`.
CREATE TABLE commerce_returns (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    rma_id TEXT NOT NULL,
    order_id TEXT,
    record TEXT NOT NULL,
    open BOOLEAN NOT NULL DEFAULT true,
    updated_at TIMESTAMPTZ NOT NULL,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX commerce_returns_order ON commerce_returns (channel, order_id);
CREATE INDEX commerce_returns_open ON commerce_returns (open);
