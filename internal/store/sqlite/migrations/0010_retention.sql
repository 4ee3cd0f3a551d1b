-- Retention (docs/running.md, Retention). An event whose body was pruned:
-- its body is the JSON null and its deliveries' bodies NULL, so it can no
-- longer be sent again (replay leaves it out, retry and recover refuse it).
ALTER TABLE events ADD COLUMN body_pruned INTEGER NOT NULL DEFAULT 0;
-- Finished deliveries by age, for PruneDeliveries: the oldest are read
-- first, and the deliveries on their way never enter the index.
CREATE INDEX deliveries_finished ON deliveries(created_at) WHERE status IN ('succeeded', 'failed', 'skipped');
-- Events by age, for the events left with no delivery.
CREATE INDEX events_created ON events(created_at);
-- Events whose body is still kept, by age, for PruneBodies: the pruned
-- ones leave it, so each batch starts at work to do.
CREATE INDEX events_body_kept ON events(created_at) WHERE body_pruned = 0;
