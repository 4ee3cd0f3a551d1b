-- Scratch rows that a readiness probe writes (and removes in the same
-- transaction) while writes are failing (disk full, read-only file, I/O
-- error), to learn when a write of a realistic size works again.
CREATE TABLE health (
    id  INTEGER PRIMARY KEY,
    pad BLOB NOT NULL
);
