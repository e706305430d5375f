-- Records carry `completed_at` / `purged_at`, kept in a column too, so purges find them
-- without reading every record.
ALTER TABLE orders ADD COLUMN completed_at TEXT;
CREATE INDEX IF NOT EXISTS orders_completed_at ON orders (completed_at);
