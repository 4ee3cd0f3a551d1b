CREATE TABLE environments (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL UNIQUE,
    secret_key_hash         BLOB NOT NULL UNIQUE,
    signing_key             TEXT NOT NULL,
    previous_signing_key    TEXT NOT NULL DEFAULT '',
    previous_key_expires_at INTEGER NOT NULL DEFAULT 0,
    settings                TEXT NOT NULL,
    created_at              INTEGER NOT NULL
);

CREATE TABLE events (
    id                  TEXT PRIMARY KEY,
    environment_id      TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    type                TEXT NOT NULL,
    connection_id       TEXT NOT NULL,
    provider_config_key TEXT NOT NULL,
    body                BLOB NOT NULL,
    skipped             TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL
);
CREATE INDEX events_environment ON events(environment_id, id);

-- The deliveries table is the queue: status and next_attempt_at drive claiming.
CREATE TABLE deliveries (
    id                  TEXT PRIMARY KEY,
    event_id            TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    environment_id      TEXT NOT NULL,
    type                TEXT NOT NULL,
    connection_id       TEXT NOT NULL,
    provider_config_key TEXT NOT NULL,
    url                 TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER,
    lease_until         INTEGER,
    last_status_code    INTEGER,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries(lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_environment ON deliveries(environment_id, id);
CREATE INDEX deliveries_event ON deliveries(event_id);

CREATE TABLE attempts (
    delivery_id   TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    response_body TEXT,
    PRIMARY KEY (delivery_id, number)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    response       BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (environment_id, key)
) WITHOUT ROWID;
