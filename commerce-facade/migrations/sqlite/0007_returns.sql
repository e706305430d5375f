-- Each return item of a sales channel the returns loop works (the record as JSON; its
-- channel, RMA id and order id beside it, for `show` and the queries), and whether the loop
-- still works on it. A return's history is kept in `history`, under `return:CHANNEL:RMA`.
CREATE TABLE returns (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    rma_id TEXT NOT NULL,
    order_id TEXT,
    record TEXT NOT NULL,
    open INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
CREATE INDEX returns_order ON returns (channel, order_id);
CREATE INDEX returns_open ON returns (open);
