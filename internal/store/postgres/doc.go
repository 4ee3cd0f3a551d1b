// Package postgres is herald's scale-out store: several herald processes
// share one PostgreSQL database through github.com/jackc/pgx/v5.
//
// Each due delivery is claimed by exactly one process (FOR UPDATE SKIP
// LOCKED) with a lease that the holder renews; a dead process's leases run
// out and its deliveries are claimed again. Ingests are group-committed: a
// few writer goroutines each take whatever requests are waiting and store
// them in one transaction with multi-row inserts. NOTIFY on commit wakes
// idle processes when work is stored for anyone to claim.
package postgres
