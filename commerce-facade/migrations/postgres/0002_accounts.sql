-- The sales-channel accounts the journal serves (as SQLite's schema 3).
CREATE TABLE commerce_accounts (
    channel TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL
);
