-- The first release's table (schema 0, no version recorded): a new journal is created as
-- that and migrated, so there is one description of the schema, the migrations.
CREATE TABLE orders (
    key TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
