-- Endpoints (SPEC §13): each target URL of an environment, with its own
-- limits and headers, whether it is disabled, and its consecutive failed
-- attempts. Times are unix ms; headers a JSON object, NULL when none.
CREATE TABLE endpoints (
    id                   TEXT PRIMARY KEY,
    environment_id       TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    disabled_reason      TEXT,
    disabled_at          INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since        INTEGER,
    rate_limit_per_s     INTEGER,
    max_concurrency      INTEGER,
    headers              TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (environment_id, url)
);
-- An environment's endpoints in id order, for the list.
CREATE INDEX endpoints_environment ON endpoints(environment_id, id);

-- Each endpoint's attempts per minute (the minute's start, unix ms): how
-- many, how many succeeded, and their durations' histogram, h<i> counting
-- the attempts of herald.DurationBucket i. Throttled attempts are not
-- counted. RecordAttempts adds to a row; retention deletes old minutes.
CREATE TABLE endpoint_minutes (
    environment_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    url            TEXT NOT NULL,
    minute         INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    successes      INTEGER NOT NULL DEFAULT 0,
    h0  INTEGER NOT NULL DEFAULT 0, h1  INTEGER NOT NULL DEFAULT 0, h2  INTEGER NOT NULL DEFAULT 0,
    h3  INTEGER NOT NULL DEFAULT 0, h4  INTEGER NOT NULL DEFAULT 0, h5  INTEGER NOT NULL DEFAULT 0,
    h6  INTEGER NOT NULL DEFAULT 0, h7  INTEGER NOT NULL DEFAULT 0, h8  INTEGER NOT NULL DEFAULT 0,
    h9  INTEGER NOT NULL DEFAULT 0, h10 INTEGER NOT NULL DEFAULT 0, h11 INTEGER NOT NULL DEFAULT 0,
    h12 INTEGER NOT NULL DEFAULT 0, h13 INTEGER NOT NULL DEFAULT 0, h14 INTEGER NOT NULL DEFAULT 0,
    h15 INTEGER NOT NULL DEFAULT 0, h16 INTEGER NOT NULL DEFAULT 0, h17 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, url, minute)
) WITHOUT ROWID;
-- Retention deletes the oldest minutes first.
CREATE INDEX endpoint_minutes_minute ON endpoint_minutes(minute);

-- A disabled endpoint's held deliveries, oldest first: enabling it makes
-- them pending by reading these rows only. Deliveries on their way never
-- enter the index.
CREATE INDEX deliveries_held ON deliveries(environment_id, url, created_at) WHERE status = 'held';

-- The queue in (next_attempt_at, id) order: ClaimDue takes deliveries due
-- at the same millisecond in id order, which is creation order (UUIDv7),
-- without sorting them. Enabling an endpoint makes all its held
-- deliveries due at once; they go oldest first. With the id in the index
-- the claim also reads no row to pick its deliveries.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries(next_attempt_at, id) WHERE status = 'pending';

-- Every URL an environment already sends to has its endpoint: the primary
-- and secondary URLs of its settings (a JSON object; a URL unset is null)
-- and its connections' overrides. Ids are UUIDv7 strings, as those the
-- store makes (uuid.NewV7): the migration's time in ms, version 7, random
-- bits and the RFC 9562 variant.
INSERT INTO endpoints (id, environment_id, url, created_at, updated_at)
SELECT substr(t, 1, 8) || '-' || substr(t, 9, 4) || '-7' || substr(r, 1, 3) || '-' ||
        substr('89ab', 1 + (random() & 3), 1) || substr(r, 4, 3) || '-' || substr(r, 7, 12),
    environment_id, url, now, now
FROM (
    SELECT environment_id, url, now, printf('%012x', now) AS t, lower(hex(randomblob(9))) AS r
    FROM (
        SELECT environment_id, url, CAST(unixepoch('subsec') * 1000 AS INTEGER) AS now
        FROM (
            SELECT id AS environment_id, json_extract(settings, '$.primary_url') AS url FROM environments
            UNION
            SELECT id, json_extract(settings, '$.secondary_url') FROM environments
            UNION
            SELECT environment_id, webhook_url_override FROM connections WHERE webhook_url_override <> ''
        )
        WHERE url IS NOT NULL AND url <> ''
    )
);
