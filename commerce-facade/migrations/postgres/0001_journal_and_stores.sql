-- The journal (as SQLite's schema 2, plus a version per record for amends), its history,
-- the token store and the rate store.
CREATE TABLE commerce_orders (
    key TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    channel TEXT NOT NULL,
    open BOOLEAN NOT NULL,
    due TIMESTAMPTZ,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX commerce_orders_due ON commerce_orders (open, due);
CREATE INDEX commerce_orders_completed_at ON commerce_orders (completed_at);
CREATE TABLE commerce_history (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    by TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX commerce_history_key ON commerce_history (key, id);
CREATE TABLE commerce_tokens (
    credential TEXT PRIMARY KEY,
    sealed BYTEA,
    expires_at TIMESTAMPTZ,
    generation BIGINT NOT NULL DEFAULT 0,
    held_until TIMESTAMPTZ,
    strikes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE commerce_rate_buckets (
    bucket TEXT PRIMARY KEY,
    paused_until TIMESTAMPTZ,
    budget_left BIGINT,
    budget_until TIMESTAMPTZ
);
CREATE TABLE commerce_rate_grants (
    id BIGSERIAL PRIMARY KEY,
    bucket TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    open BOOLEAN NOT NULL,
    open_until TIMESTAMPTZ NOT NULL
);
CREATE INDEX commerce_rate_grants_bucket ON commerce_rate_grants (bucket, at);
