-- The state the runners share: each credential's token and each rate bucket. Grant ids
-- are never used again (`AUTOINCREMENT`), so the late end of a forgotten grant cannot end
-- another.
CREATE TABLE shared_tokens (
    credential TEXT PRIMARY KEY,
    sealed BLOB,
    expires_at INTEGER,
    generation INTEGER NOT NULL DEFAULT 0,
    held_until INTEGER,
    strikes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE shared_buckets (
    bucket TEXT PRIMARY KEY,
    paused_until INTEGER,
    budget_left INTEGER,
    budget_until INTEGER
);
CREATE TABLE shared_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    at INTEGER NOT NULL,
    open INTEGER NOT NULL,
    open_until INTEGER NOT NULL
);
CREATE INDEX shared_grants_bucket ON shared_grants (bucket, at);
