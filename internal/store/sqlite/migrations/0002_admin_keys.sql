CREATE TABLE admin_keys (
    key_hash   BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
