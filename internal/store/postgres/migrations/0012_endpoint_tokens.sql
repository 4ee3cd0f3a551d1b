-- Each rate-limited endpoint's token bucket, shared by every process on
-- this database (SPEC §13: rate_limit_per_s holds across processes).
-- tokens is what the bucket held at refilled_at; taken is what the last
-- TakeTokens took, which it returns.
CREATE TABLE endpoint_tokens (
    endpoint_id text COLLATE "C" PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
    tokens      double precision NOT NULL,
    taken       integer NOT NULL,
    refilled_at timestamptz NOT NULL
);
