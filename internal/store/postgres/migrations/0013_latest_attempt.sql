-- A delivery's latest attempt lives on its row (its number is attempts)
-- once last_started_at is set; only the attempts before it are rows of
-- attempts, moved there by the next attempt's RecordAttempts. A first
-- attempt that settles a delivery is then one row write, not an attempt
-- row plus the delivery's update. last_error stays the delivery's latest
-- word (a deferral may set it), so the attempt keeps its own error in
-- last_attempt_error. Rows written before this migration keep every
-- attempt in attempts (last_started_at NULL). The same columns as
-- SQLite's migration 0014.
ALTER TABLE deliveries
    ADD COLUMN last_started_at timestamptz,
    ADD COLUMN last_duration_ms bigint,
    ADD COLUMN last_attempt_error text,
    ADD COLUMN last_response_body text;
