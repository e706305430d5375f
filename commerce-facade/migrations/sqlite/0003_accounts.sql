-- The sales-channel accounts the journal serves.
CREATE TABLE accounts (
    channel TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    since TEXT NOT NULL
);
