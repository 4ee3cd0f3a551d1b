-- A delivery's latest attempt lives on its row (attempt number =
-- attempts) once last_started_at is set; only the attempts before it are
-- rows of attempts. A first attempt that settles a delivery is then one
-- row write, not an attempt row plus the delivery's update. last_error
-- stays the delivery's latest word (a deferral may set it), so the
-- attempt keeps its own error. Rows written before this migration keep
-- every attempt in attempts (last_started_at NULL).
ALTER TABLE deliveries ADD COLUMN last_started_at INTEGER;
ALTER TABLE deliveries ADD COLUMN last_duration_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN last_attempt_error TEXT;
ALTER TABLE deliveries ADD COLUMN last_response_body TEXT;
