-- How far along each order is, claimed furthest along first (as SQLite's schema 5); a
-- record keeps rank 0 until it is next written.
ALTER TABLE commerce_orders ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
CREATE INDEX commerce_orders_rank_due ON commerce_orders (open, rank DESC, due NULLS FIRST, key);
