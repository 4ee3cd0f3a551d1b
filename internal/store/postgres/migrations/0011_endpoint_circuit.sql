-- An endpoint's circuit breaker (SPEC §13), as a dispatcher last set it:
-- open until this time, then one probe; NULL when closed. Every process
-- reads it, so that an endpoint one of them found failing is left alone
-- by all.
ALTER TABLE endpoints ADD COLUMN circuit_open_until timestamptz;
