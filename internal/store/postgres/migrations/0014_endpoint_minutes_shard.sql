-- Each process adds its attempts to its own row of an endpoint's minute
-- (shard, drawn when the store opens): processes that deliver to the same
-- endpoint no longer wait on one another's row lock, which each held
-- until its commit. Readers sum the rows of a minute, as they sum minutes.
ALTER TABLE endpoint_minutes ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE endpoint_minutes DROP CONSTRAINT endpoint_minutes_pkey;
ALTER TABLE endpoint_minutes ADD PRIMARY KEY (environment_id, url, minute, shard);
