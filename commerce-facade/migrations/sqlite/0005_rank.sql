-- How far along each order is: the due order furthest along is claimed first.
ALTER TABLE orders ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_rank_due ON orders (open, rank DESC, due);
