package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/migrate"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many operations share one transaction.
const maxBatch = 256

// lingerFor is the longest the writer waits for more operations to join a
// commit after the first one arrived.
const lingerFor = 2 * time.Millisecond

// lingerUnder is the batch size from which the writer commits at once:
// a batch that has it, or reaches it while the writer waits, does not
// wait (longer).
const lingerUnder = 16

// Store implements herald.Store on one SQLite file.
type Store struct {
	w, r *sql.DB
	c    *sql.DB // the checkpointer's connection
	path string
	// lock is held open, with an exclusive flock, for the store's life.
	lock *os.File
	// writesFailing is set while writes fail for want of storage (disk
	// full, read-only, I/O error) and cleared by the next commit that works.
	writesFailing atomic.Bool
	ops           chan op
	stop          chan struct{}
	done          chan struct{} // closed when the writer has stopped
	// checkpointed is closed when the checkpointer has stopped.
	checkpointed chan struct{}
	// walFrames is the WAL's length in frames, as the checkpointer last
	// saw it.
	walFrames atomic.Int64

	closeOnce sync.Once
	stmts     statements
	// rows are the writer's buffers for a group commit's ingests
	// (insertIngests): the requests, and their rows' values.
	rows struct {
		ingests            []*herald.IngestRequest
		events, deliveries []any
	}
	// matches holds MatchConnections' prepared statements by shape
	// ([2]int{keys, ids} → *sql.Stmt on the readers).
	matches sync.Map
}

type op struct {
	fn func(ctx context.Context, tx *sql.Tx) error
	// ingest, instead of fn, is a request to store without an
	// Idempotency-Key: the ingests that follow one another in a batch are
	// stored together (insertIngests).
	ingest *herald.IngestRequest
	done   chan error
}

// Options tune the embedded store.
type Options struct {
	// SyncFull makes every commit wait for fsync (SQLite synchronous=FULL).
	// The default, synchronous=NORMAL in WAL mode, already survives the
	// process being killed at any moment; FULL also survives power loss
	// or an OS crash, at the cost of an fsync per group commit.
	SyncFull bool
}

// Open opens (creating if needed) the database file at path, applies the
// migrations, and puts back to pending every delivery that a previous
// process left in flight: one process owns a SQLite file, so anything
// still "sending" was interrupted.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	// One process per file: a second one would reset the first's
	// in-flight deliveries below, and both would send them.
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened {
			lock.Close()
		}
	}()
	sync := "synchronous(NORMAL)"
	if opts.SyncFull {
		sync = "synchronous(FULL)"
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append([]string{"journal_mode(WAL)", sync, "busy_timeout(10000)", "foreign_keys(1)"}, extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		return "file:" + uriPath.Replace(path) + "?" + q.Encode()
	}
	// The writer keeps the hot indexes in an 8 MB page cache (what it
	// writes is the right-hand edge of each index and the recent rows;
	// 16 MB made no difference to throughput, and filled to 16 MB of
	// resident memory within a minute at 500 events/s), and does not
	// checkpoint on its own: copying the WAL into the database file (and
	// its fsync) would stall every commit waiting behind it. The
	// checkpointer goroutine does that on its own connection; the writer
	// only finishes its work now and then, so that the log starts over
	// (restartWAL).
	w, err := sql.Open("sqlite", dsn("cache_size(-8192)", "wal_autocheckpoint(0)",
		fmt.Sprintf("journal_size_limit(%d)", walSizeLimit)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := applyMigrations(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open reader: %w", err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	c, err := sql.Open("sqlite", dsn())
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open checkpointer: %w", err)
	}
	c.SetMaxOpenConns(1)
	s := &Store{w: w, r: r, c: c, path: path, lock: lock, ops: make(chan op, maxBatch), stop: make(chan struct{}),
		done: make(chan struct{}), checkpointed: make(chan struct{})}
	if err := s.stmts.prepare(ctx, w); err != nil {
		s.closeDBs()
		return nil, err
	}
	now := time.Now().UnixMilli()
	if _, err := w.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', lease_until = NULL,
		next_attempt_at = COALESCE(next_attempt_at, ?) WHERE status = 'sending'`, now); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: release interrupted deliveries: %w", err)
	}
	opened = true
	go s.writer()
	go s.checkpointer()
	return s, nil
}

// checkpointInterval is how often the WAL is copied into the database file.
const checkpointInterval = 500 * time.Millisecond

// walRestartFrames is the WAL length, in frames (pages), past which the
// writer makes the log start over (restartWAL); about 32 MB of 4 KB pages.
const walRestartFrames = 8192

// walSizeLimit is what a WAL file that grew longer (a bulk import while a
// long read pinned it, say) is cut back to when its log starts over.
const walSizeLimit = 64 << 20

// checkpointer copies committed WAL frames into the database file in the
// background (PASSIVE: it never blocks the writer or readers), so the WAL
// stays small without the writer doing that work, and reports the log's
// length to the writer.
func (s *Store) checkpointer() {
	defer close(s.checkpointed)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		// A busy or locked database just means "next time".
		var busy, frames, copied int64
		if err := s.c.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err == nil {
			s.walFrames.Store(frames)
		}
	}
}

// restartWAL makes the log start over from its beginning when it has
// grown past walRestartFrames. SQLite reuses the WAL from the start only
// when a write begins with every frame already copied into the database,
// which a checkpointer running beside a busy writer never sees: frames
// keep arriving while it copies. Between two commits no frame arrives, so
// the writer finishes the copy itself (most frames are already copied:
// a few ms) and its next commit restarts the log. A log that only grew
// would make every read slower (its index grows) and end in one long,
// stalling truncation.
func (s *Store) restartWAL(ctx context.Context) {
	if s.walFrames.Load() <= walRestartFrames {
		return
	}
	s.walFrames.Store(0) // until the checkpointer measures again
	// Readers holding old snapshots can leave frames uncopied: then the
	// log restarts a little later, after a later try.
	s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
}

func applyMigrations(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	steps, err := migrate.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for _, m := range steps {
		version := m.Version
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", version, err)
		}
		if n > 0 {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", version, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migration %d: %w", version, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migration %d: %w", version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migration %d: %w", version, err)
		}
	}
	return nil
}

// errClosed answers writes after Close: unavailable, as on PostgreSQL, so
// that a request racing with shutdown gets 503 and may be retried.
var errClosed = fmt.Errorf("sqlite: store closed: %w", herald.ErrUnavailable)

// uriPath escapes the characters that would end or change the path part
// of a SQLite "file:" URI.
var uriPath = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")

// write runs fn inside the writer's next transaction and waits for the
// commit. fn runs again, alone, if another operation of its batch failed,
// so it must not keep state between runs; its effects are rolled back if it
// fails.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.enqueue(ctx, op{fn: fn, done: make(chan error, 1)})
}

// enqueue hands o to the writer and waits for its commit.
func (s *Store) enqueue(ctx context.Context, o op) error {
	select {
	case <-s.stop:
		return errClosed
	default:
	}
	select {
	case s.ops <- o:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the operation runs to commit; wait for it so the caller
	// never reports failure for something that was stored. If the writer
	// exited first (Close raced with this call), the operation never ran.
	select {
	case err := <-o.done:
		return err
	case <-s.done:
		select {
		case err := <-o.done:
			return err
		default:
			return errClosed
		}
	}
}

func (s *Store) writer() {
	defer close(s.done)
	ctx := context.Background()
	batch := make([]op, 0, maxBatch)
	for {
		select {
		case o := <-s.ops:
			batch = append(batch[:0], o)
		case <-s.stop:
			// Drain what was queued before stopping.
			for {
				select {
				case o := <-s.ops:
					s.commit(ctx, []op{o})
				default:
					return
				}
			}
		}
		// Take what queued during the last commit.
		batch = s.drain(batch)
		// A small batch waits a moment for more operations to join it.
		// Every commit rewrites whole pages (the same index pages,
		// mostly) into the WAL; one commit per event at a moderate rate
		// writes ~25 KB of WAL per event, and that volume, not the CPU,
		// ends up stalling the disk. A couple of milliseconds groups a
		// few events per commit. A batch that queued while the last
		// commit ran is already grouped: waiting longer would only add
		// its wait to every request in it, and so does waiting on once
		// lingerUnder have joined: many producers each waiting for their
		// answer before sending again (one event per request) come back
		// within a fraction of the wait, and the rest of it would cap
		// them at one batch per lingerFor.
		if len(batch) < lingerUnder {
			linger := time.NewTimer(lingerFor)
		fill:
			for len(batch) < lingerUnder {
				select {
				case o := <-s.ops:
					batch = append(batch, o)
				case <-linger.C:
					break fill
				}
			}
			linger.Stop()
			batch = s.drain(batch)
		}
		s.commit(ctx, batch)
		s.restartWAL(ctx)
	}
}

// drain adds to batch the operations already queued, up to maxBatch.
func (s *Store) drain(batch []op) []op {
	for len(batch) < maxBatch {
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// commit runs a batch of operations in one transaction. If one fails, the
// transaction is rolled back and each operation is run again in its own
// transaction, so one bad operation never fails the others. (Failures are
// rare; savepoints around every operation cost more than the retry.)
func (s *Store) commit(ctx context.Context, batch []op) {
	err := s.storage(s.runTx(ctx, batch))
	if err == nil {
		for _, o := range batch {
			o.done <- nil
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- err
		return
	}
	for _, o := range batch {
		o.done <- s.storage(s.runTx(ctx, []op{o}))
	}
}

func (s *Store) runTx(ctx context.Context, batch []op) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	// Ingests are gathered until another kind of operation (or the end)
	// comes, so that the operations keep their order.
	ingests := s.rows.ingests[:0]
	defer func() {
		clear(ingests)
		s.rows.ingests = ingests
	}()
	for i, o := range batch {
		if o.ingest != nil {
			ingests = append(ingests, o.ingest)
			if i+1 < len(batch) && batch[i+1].ingest != nil {
				continue
			}
			err = s.insertIngests(ctx, tx, ingests)
			ingests = ingests[:0]
		} else {
			err = o.fn(ctx, tx)
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Close stops the writer after the queued operations and closes the file.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		<-s.checkpointed
		err = errors.Join(s.closeDBs(), s.lock.Close())
	})
	return err
}

func (s *Store) closeDBs() error {
	s.stmts.close()
	s.matches.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return errors.Join(s.r.Close(), s.c.Close(), s.w.Close())
}

// Wakeups returns nil: one process owns a SQLite file, and it announces
// the work it stores itself.
func (s *Store) Wakeups() <-chan struct{} { return nil }

// probeBytes is the size of the readiness probe's write.
const probeBytes = 256 << 10

// Ping checks that the database answers, and, while writes have been
// failing for want of storage, that a write works again: readiness follows
// the writes, so that a full disk takes herald out of rotation until it
// has room again.
func (s *Store) Ping(ctx context.Context) error {
	if s.writesFailing.Load() {
		// A probe as large as a big event: it needs new pages, as the
		// writes that failed did, and leaves nothing behind.
		return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO health (pad) VALUES (zeroblob(?))`, probeBytes); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM health`)
			return err
		})
	}
	var one int
	return s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

type statements struct {
	// The multi-row inserts of ingest and AddDeliveries (rows.go).
	events, deliveries rowStatements

	getIdem, putIdem, insertAttempt, updateDelivery, eventBody, renew, release, expire *sql.Stmt
	// RecordAttempts' writes to endpoints (recordHealth).
	endpointMinute, endpointRecovered, endpointFailing *sql.Stmt
}

func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	var err error
	p := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, q)
		if err != nil {
			err = fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		return s
	}
	if st.events, err = prepareRows(ctx, db, eventInsert, eventRow, eventParams); err != nil {
		return err
	}
	if st.deliveries, err = prepareRows(ctx, db, deliveryInsert, deliveryRow, deliveryParams); err != nil {
		return err
	}
	st.getIdem = p(`SELECT response, request_hash FROM idempotency_keys WHERE environment_id = ? AND key = ? AND created_at > ?`)
	st.putIdem = p(`INSERT OR REPLACE INTO idempotency_keys (environment_id, key, response, request_hash, created_at)
		VALUES (?, ?, ?, ?, ?)`)
	// The attempt the row holds moves to attempts when a newer one comes
	// (migration 0014): the row keeps only the latest.
	st.insertAttempt = p(`INSERT OR REPLACE INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
		SELECT id, attempts, last_started_at, last_duration_ms, last_status_code, last_attempt_error, last_response_body
		FROM deliveries WHERE id = ? AND lease_gen = ? AND last_started_at IS NOT NULL AND attempts < ?`)
	st.updateDelivery = p(`UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = NULL,
		last_status_code = ?, last_error = ?, last_started_at = ?, last_duration_ms = ?, last_attempt_error = ?,
		last_response_body = ?, updated_at = ? WHERE id = ? AND lease_gen = ?`)
	st.eventBody = p(`SELECT body, headers, coalesce(trace_parent, '') FROM events WHERE id = ?`)
	st.renew = p(`UPDATE deliveries SET lease_until = ? WHERE id = ? AND lease_gen = ? AND status = 'sending'`)
	st.release = p(`UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = ?, updated_at = ?
		WHERE id = ? AND lease_gen = ? AND status = 'sending'`)
	st.expire = p(`UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = coalesce(next_attempt_at, ?)
		WHERE status = 'sending' AND lease_until < ?`)
	st.endpointMinute = p(endpointMinuteSQL)
	st.endpointRecovered = p(endpointRecoveredSQL)
	st.endpointFailing = p(endpointFailingSQL)
	return err
}

func (st *statements) close() {
	st.events.close()
	st.deliveries.close()
	for _, s := range []*sql.Stmt{st.getIdem, st.putIdem, st.insertAttempt, st.updateDelivery,
		st.eventBody, st.renew, st.release, st.expire, st.endpointMinute, st.endpointRecovered, st.endpointFailing} {
		if s != nil {
			s.Close()
		}
	}
}

// EnvironmentChanges returns nil: one process owns a SQLite file, and its
// cache sees every write to an environment itself.
func (s *Store) EnvironmentChanges() <-chan string { return nil }
