-- Endpoints (SPEC §13): each target URL of an environment, with its
-- circuit (consecutive failures since the last success), whether it is
-- disabled (its deliveries are then held), and its own limits and static
-- headers (a JSON object of names to values; NULL: none). One row per
-- (environment, URL): the dispatcher finds a delivery's endpoint by its
-- URL, the API by id.
CREATE TABLE endpoints (
    id                   text COLLATE "C" PRIMARY KEY,
    environment_id       text COLLATE "C" NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url                  text NOT NULL,
    disabled             boolean NOT NULL DEFAULT false,
    disabled_reason      text,
    disabled_at          timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    failing_since        timestamptz,
    rate_limit_per_s     integer,
    max_concurrency      integer,
    headers              jsonb,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    UNIQUE (environment_id, url)
);
-- An environment's endpoints in id order, for ListEndpoints' pages.
CREATE INDEX endpoints_environment ON endpoints (environment_id, id);

-- Each endpoint's attempts, one row per minute (its start) in which any
-- started: how many, how many succeeded, and a histogram of their
-- durations (h<i> is bucket i of herald.DurationBucket). RecordAttempts
-- adds to them; throttled attempts are not counted.
CREATE TABLE endpoint_minutes (
    environment_id text COLLATE "C" NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url            text NOT NULL,
    minute         timestamptz NOT NULL,
    attempts       bigint NOT NULL DEFAULT 0,
    successes      bigint NOT NULL DEFAULT 0,
    h0  bigint NOT NULL DEFAULT 0, h1  bigint NOT NULL DEFAULT 0, h2  bigint NOT NULL DEFAULT 0,
    h3  bigint NOT NULL DEFAULT 0, h4  bigint NOT NULL DEFAULT 0, h5  bigint NOT NULL DEFAULT 0,
    h6  bigint NOT NULL DEFAULT 0, h7  bigint NOT NULL DEFAULT 0, h8  bigint NOT NULL DEFAULT 0,
    h9  bigint NOT NULL DEFAULT 0, h10 bigint NOT NULL DEFAULT 0, h11 bigint NOT NULL DEFAULT 0,
    h12 bigint NOT NULL DEFAULT 0, h13 bigint NOT NULL DEFAULT 0, h14 bigint NOT NULL DEFAULT 0,
    h15 bigint NOT NULL DEFAULT 0, h16 bigint NOT NULL DEFAULT 0, h17 bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, url, minute)
);
-- Retention deletes the oldest minutes first (PruneEndpointStats).
CREATE INDEX endpoint_minutes_minute ON endpoint_minutes (minute);

-- The held deliveries of an endpoint, oldest first, for EnableEndpoint to
-- release in creation order. Only held deliveries enter it: a disabled
-- endpoint is rare, so the index is mostly empty.
CREATE INDEX deliveries_held ON deliveries (environment_id, url, created_at) WHERE status = 'held';

-- Every URL herald already knows of gets its endpoint: the environments'
-- primary and secondary URLs (settings is a JSON text) and the
-- connections' overrides. Later ones are made as URLs appear.
INSERT INTO endpoints (id, environment_id, url, created_at, updated_at)
SELECT gen_random_uuid()::text, environment_id, url, now(), now()
FROM (
    SELECT e.id AS environment_id, u.url
    FROM environments e,
        LATERAL (VALUES (e.settings::jsonb ->> 'primary_url'), (e.settings::jsonb ->> 'secondary_url')) AS u(url)
    UNION
    SELECT environment_id, webhook_url_override FROM connections WHERE webhook_url_override <> ''
) AS known
WHERE url IS NOT NULL AND url <> ''
ON CONFLICT (environment_id, url) DO NOTHING;
