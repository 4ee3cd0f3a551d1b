-- Integrations and connections (SPEC §8): the providers configured in an
-- environment and the end users' connections to them, for forwarded
-- webhooks and per-connection webhook URL overrides. Keys are compared
-- byte-wise (COLLATE "C"), so lists are ordered as on SQLite.
CREATE TABLE integrations (
    environment_id      text COLLATE "C" NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    provider_config_key text COLLATE "C" NOT NULL,
    provider            text NOT NULL,
    forward_webhooks    boolean NOT NULL DEFAULT false,
    client_id           text NOT NULL DEFAULT '',
    client_secret       text NOT NULL DEFAULT '',
    webhook_secret      text NOT NULL DEFAULT '',
    require_signature   boolean, -- NULL: required once a secret is set
    max_body_bytes      bigint NOT NULL DEFAULT 0,
    rate_limit_per_s    integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (environment_id, provider_config_key)
);

-- connection_config, metadata and tags are JSON objects kept as given
-- (text, not jsonb, which would rewrite them).
CREATE TABLE connections (
    environment_id       text COLLATE "C" NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    provider_config_key  text COLLATE "C" NOT NULL,
    connection_id        text COLLATE "C" NOT NULL,
    connection_config    text NOT NULL DEFAULT '{}',
    metadata             text NOT NULL DEFAULT '{}',
    tags                 text NOT NULL DEFAULT '{}',
    webhook_url_override text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (environment_id, provider_config_key, connection_id)
);
-- Environments with overrides (Environment.HasURLOverrides), and their
-- overrides: few rows, so the index stays small.
CREATE INDEX connections_url_override ON connections (environment_id) WHERE webhook_url_override <> '';

-- The values each connection is found by (herald.ConnectionKeys), written
-- with the connection. The primary key answers "which connections of this
-- integration have this value"; the second index finds a connection's own
-- keys when it is rewritten or deleted.
CREATE TABLE connection_keys (
    environment_id      text COLLATE "C" NOT NULL,
    provider_config_key text COLLATE "C" NOT NULL,
    field               text COLLATE "C" NOT NULL,
    name                text COLLATE "C" NOT NULL,
    value               text COLLATE "C" NOT NULL,
    connection_id       text COLLATE "C" NOT NULL,
    PRIMARY KEY (environment_id, provider_config_key, field, name, value, connection_id),
    FOREIGN KEY (environment_id, provider_config_key, connection_id)
        REFERENCES connections (environment_id, provider_config_key, connection_id) ON DELETE CASCADE
);
CREATE INDEX connection_keys_connection ON connection_keys (environment_id, provider_config_key, connection_id);

-- A forwarded provider's request headers, sent with every delivery of the
-- event, and the log of the inbound request; NULL for events posted to
-- /events.
ALTER TABLE events ADD COLUMN headers bytea, ADD COLUMN inbound bytea;
-- What a delivery sends when it is not its event's body (a forward to one
-- of several matched connections); NULL: the event's body.
ALTER TABLE deliveries ADD COLUMN body bytea;
