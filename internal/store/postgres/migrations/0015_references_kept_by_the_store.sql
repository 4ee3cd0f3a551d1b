-- An event's environment and a delivery's event are no longer checked by
-- foreign keys: each inserted row ran a query of its own, and took a lock
-- that was written to the row it pointed at. Every ingest locked the same
-- environment row, so concurrent ingests made a MultiXact of it each
-- time, and each new event's row was locked, and logged, again for its
-- deliveries: a quarter of the database's CPU per ingested event. The
-- store keeps both references itself: an ingest holds a shared advisory
-- lock on its environments and checks that they exist (and that a
-- delivery's event is one it stores, or exists), which
-- DeleteEnvironment waits out with the exclusive lock before deleting the
-- environment's events and deliveries; AddDeliveries locks the events it
-- adds to, and PruneDeliveries deletes only events it has locked and
-- found still without deliveries.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_environment_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_event_id_fkey;

-- Raises the foreign-key violation that a row referring to a missing
-- environment or event raised before, for the queries that find one.
CREATE OR REPLACE FUNCTION herald_reference_missing(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = what || ' missing';
END
$$;
