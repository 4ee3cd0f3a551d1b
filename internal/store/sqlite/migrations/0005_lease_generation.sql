-- The generation of a delivery's lease, a fencing token: every claim takes
-- a new one, and outcome writes, renewals and releases carry the one they
-- were given, so a holder whose lease ran out cannot overwrite the work of
-- the process that claimed the delivery after it.
ALTER TABLE deliveries ADD COLUMN lease_gen INTEGER NOT NULL DEFAULT 0;
