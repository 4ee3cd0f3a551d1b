-- Integrations and connections (SPEC §8): the providers configured in an
-- environment and the end users' connections to them, for forwarded
-- webhooks and per-connection webhook URL overrides.
CREATE TABLE integrations (
    environment_id      TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    provider_config_key TEXT NOT NULL,
    provider            TEXT NOT NULL,
    forward_webhooks    INTEGER NOT NULL DEFAULT 0,
    client_id           TEXT NOT NULL DEFAULT '',
    client_secret       TEXT NOT NULL DEFAULT '',
    webhook_secret      TEXT NOT NULL DEFAULT '',
    require_signature   INTEGER, -- NULL: required once a secret is set
    max_body_bytes      INTEGER NOT NULL DEFAULT 0,
    rate_limit_per_s    INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (environment_id, provider_config_key)
);

-- connection_config, metadata and tags are JSON objects kept as given.
CREATE TABLE connections (
    environment_id       TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    provider_config_key  TEXT NOT NULL,
    connection_id        TEXT NOT NULL,
    connection_config    TEXT NOT NULL DEFAULT '{}',
    metadata             TEXT NOT NULL DEFAULT '{}',
    tags                 TEXT NOT NULL DEFAULT '{}',
    webhook_url_override TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (environment_id, provider_config_key, connection_id)
);
-- Environments with overrides (Environment.HasURLOverrides), and their
-- overrides: few rows, so the index stays small.
CREATE INDEX connections_url_override ON connections(environment_id) WHERE webhook_url_override <> '';

-- The values each connection is found by (herald.ConnectionKeys), written
-- with the connection. The primary key answers "which connections of this
-- integration have this value"; the second index finds a connection's own
-- keys when it is rewritten or deleted.
CREATE TABLE connection_keys (
    environment_id      TEXT NOT NULL,
    provider_config_key TEXT NOT NULL,
    field               TEXT NOT NULL,
    name                TEXT NOT NULL,
    value               TEXT NOT NULL,
    connection_id       TEXT NOT NULL,
    PRIMARY KEY (environment_id, provider_config_key, field, name, value, connection_id),
    FOREIGN KEY (environment_id, provider_config_key, connection_id)
        REFERENCES connections(environment_id, provider_config_key, connection_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX connection_keys_connection ON connection_keys(environment_id, provider_config_key, connection_id);

-- A forwarded provider's request headers, sent with every delivery of the
-- event, and the log of the inbound request; NULL for events posted to
-- /events.
ALTER TABLE events ADD COLUMN headers BLOB;
ALTER TABLE events ADD COLUMN inbound BLOB;
-- What a delivery sends when it is not its event's body (a forward to one
-- of several matched connections); NULL: the event's body.
ALTER TABLE deliveries ADD COLUMN body BLOB;
