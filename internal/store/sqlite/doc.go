// Package sqlite is herald's embedded store: one SQLite file in WAL mode,
// through modernc.org/sqlite (pure Go).
//
// SQLite allows one writer at a time, so every write goes through a single
// writer goroutine that group-commits: it takes whatever operations are
// waiting (ingests, claims, attempt results), runs them inside one
// transaction and commits once. Under load that turns thousands
// of small writes per second into a few hundred commits. Reads use a
// separate read-only pool and never wait for the writer.
package sqlite
