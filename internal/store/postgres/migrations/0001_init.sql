CREATE TABLE environments (
    id                      text COLLATE "C" PRIMARY KEY,
    name                    text NOT NULL UNIQUE,
    secret_key_hash         bytea NOT NULL UNIQUE,
    signing_key             text NOT NULL,
    previous_signing_key    text NOT NULL DEFAULT '',
    previous_key_expires_at timestamptz NOT NULL DEFAULT 'epoch',
    settings                text NOT NULL,
    created_at              timestamptz NOT NULL
);

CREATE TABLE events (
    id                  text COLLATE "C" PRIMARY KEY,
    environment_id      text COLLATE "C" NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    type                text NOT NULL,
    connection_id       text NOT NULL,
    provider_config_key text NOT NULL,
    body                bytea NOT NULL,
    skipped             text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL
);
CREATE INDEX events_environment ON events (environment_id, id);

-- The deliveries table is the queue: status, next_attempt_at and lease_until drive claiming.
CREATE TABLE deliveries (
    id                  text COLLATE "C" PRIMARY KEY,
    event_id            text COLLATE "C" NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    environment_id      text COLLATE "C" NOT NULL,
    type                text NOT NULL,
    connection_id       text NOT NULL,
    provider_config_key text NOT NULL,
    url                 text NOT NULL,
    status              text NOT NULL,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz,
    lease_until         timestamptz,
    last_status_code    integer,
    last_error          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'sending';
CREATE INDEX deliveries_environment ON deliveries (environment_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
    delivery_id   text COLLATE "C" NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number        integer NOT NULL,
    started_at    timestamptz NOT NULL,
    duration_ms   bigint NOT NULL,
    status_code   integer,
    error         text,
    response_body text,
    PRIMARY KEY (delivery_id, number)
);

CREATE TABLE idempotency_keys (
    environment_id text COLLATE "C" NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    key            text NOT NULL,
    response       bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (environment_id, key)
);

CREATE TABLE admin_keys (
    key_hash   bytea PRIMARY KEY,
    created_at timestamptz NOT NULL
);
