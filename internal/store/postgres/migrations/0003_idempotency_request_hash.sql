-- The SHA-256 of the request an Idempotency-Key was first used with, so
-- that the same key with a different request is refused (422) instead of
-- replaying an answer that does not belong to it. Empty for older rows.
ALTER TABLE idempotency_keys ADD COLUMN request_hash bytea NOT NULL DEFAULT '\x';
