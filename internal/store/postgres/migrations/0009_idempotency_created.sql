-- Retention deletes idempotency keys past their window, oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
