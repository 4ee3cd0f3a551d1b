-- The attempts a delivery had made when its current round began: a retry
-- or recover by hand starts a new round, and the retry policy counts the
-- round's attempts only (herald.Delivery.RoundStart).
ALTER TABLE deliveries ADD COLUMN round_start INTEGER NOT NULL DEFAULT 0;
-- An environment's failed deliveries by creation time, for recover: the
-- deliveries of a window are found without walking the environment's
-- others. A delivery enters it when it fails for good and leaves it when
-- it is sent again: the deliveries on their way never touch it.
CREATE INDEX deliveries_failed ON deliveries(environment_id, created_at, id) WHERE status = 'failed';
