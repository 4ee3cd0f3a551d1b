package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Channel is the NOTIFY channel that announces claimable work.
const Channel = "herald_work"

// EnvironmentChannel is the NOTIFY channel that carries the id of an
// environment changed or deleted, so that every process drops it from its
// cache at once.
const EnvironmentChannel = "herald_env"

// migrationLock is the advisory lock key held while migrating, so that
// processes starting together migrate one at a time.
const migrationLock = 0x68657261 // "hera"

// environmentLock is the first key of an environment's advisory lock (the
// second is the hash of its id): ingests take it shared, DeleteEnvironment
// exclusively (migration 0015).
const environmentLock = 0x68657262 // "herb"

const (
	writers       = 2   // group-commit writers (writer)
	maxIngestOps  = 128 // requests per group commit
	eagerEvents   = 256 // events from which a writer commits without its turn
	lingerEvents  = 16  // events from which a writer with the turn commits at once
	lingerFor     = 2 * time.Millisecond
	listenBackoff = 500 * time.Millisecond
)

// queueConns is the size of the pool of the dispatcher's statements: one
// claim, one batch of outcomes and one of leases at a time.
const queueConns = 4

// queueParams are the settings of the connections that run the
// dispatcher's statements: claims, outcomes, leases (ClaimDue, NextDue,
// RecordAttempts, RenewLeases, Release, DeferDeliveries, HoldDelivery).
// Each is a lookup of deliveries by key or along a queue index, driven by
// a small array, run many times a second: planning RecordAttempts' took
// as long as running it, so their plans are generic, made once per
// connection. A generic plan is made with the table's size at the time,
// though, and kept: one made while deliveries was still small joined it
// by a hash over a sequential scan, and went on scanning the whole table
// for every batch as it grew. With sequential scans, hash and merge joins
// ruled out these statements have one sensible plan, index lookups in
// nested loops, whatever the table's size when it is made.
var queueParams = map[string]string{
	"plan_cache_mode":  "force_generic_plan",
	"enable_seqscan":   "off",
	"enable_hashjoin":  "off",
	"enable_mergejoin": "off",
}

// Store implements herald.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// queue runs the dispatcher's statements (queueParams).
	queue *pgxpool.Pool
	log   *slog.Logger
	dsn   string

	ingests chan ingestOp
	// slot is the writers' turn to commit (writer).
	slot chan struct{}
	// committed is when the latest group commit ended (unix ns): a
	// writer whose turn comes soon after it lingers (linger).
	committed atomic.Int64
	stop      chan struct{}
	// writersDone is closed once every writer has exited.
	writersDone chan struct{}
	wg          sync.WaitGroup
	wakeups     chan struct{}
	envChanges  chan string
	// shard is this store's row of each endpoint minute (migration 0014),
	// drawn at random: two processes rarely draw the same, and when they
	// do they only wait on each other as before.
	shard int16

	closeOnce sync.Once
}

// Open connects to the database at dsn (a postgres:// URL; a search_path
// parameter selects the schema), applies the migrations under an advisory
// lock, and starts the group-commit writers and the LISTEN connection. It
// opens two pools: one for everything but the dispatcher's statements,
// and a small one for those (queueParams).
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") { // a few processes fit in max_connections=100 (13 each)
		cfg.MaxConns = 8
	}
	qcfg := cfg.Copy()
	qcfg.MaxConns = queueConns
	maps.Copy(qcfg.ConnConfig.RuntimeParams, queueParams)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := applyMigrations(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	queue, err := pgxpool.NewWithConfig(ctx, qcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, queue: queue, log: log, dsn: dsn,
		ingests: make(chan ingestOp, maxIngestOps*writers), slot: make(chan struct{}, 1),
		stop: make(chan struct{}), writersDone: make(chan struct{}),
		wakeups: make(chan struct{}, 1), envChanges: make(chan string, 256),
		shard: int16(rand.IntN(math.MaxInt16 + 1))}
	for range writers {
		s.wg.Add(1)
		go s.writer()
	}
	s.wg.Add(1)
	go s.listen()
	return s, nil
}

func applyMigrations(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	steps, err := migrate.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for _, m := range steps {
		version := m.Version
		var applied bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&applied); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", version, err)
		}
		if applied {
			continue
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %d: %w", version, err)
		}
	}
	return nil
}

// Close stops the writers (after the queued requests) and the listener,
// and closes the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		close(s.writersDone)
		close(s.envChanges)
		s.queue.Close()
		s.pool.Close()
	})
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(s.pool.Ping(ctx))
}

// Wakeups delivers a signal whenever another process stored claimable work.
func (s *Store) Wakeups() <-chan struct{} { return s.wakeups }

// listen keeps a LISTEN connection open, reconnecting after failures.
func (s *Store) listen() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-s.stop; cancel() }()
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("postgres: LISTEN connection lost; reconnecting", "err", err)
		s.signal()               // work may have been stored while not listening
		s.environmentChanged("") // and environments changed
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenBackoff):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	// The pool's parsed configuration, not the URL: pool_max_conns and
	// the like are not connection parameters the server would accept.
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel+"; LISTEN "+EnvironmentChannel); err != nil {
		return err
	}
	// Changes made before this LISTEN took effect were not heard.
	s.environmentChanged("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == EnvironmentChannel {
			s.environmentChanged(n.Payload)
			continue
		}
		s.signal()
	}
}

// EnvironmentChanges receives the ids of environments changed or deleted
// by any process on the database, and "" when changes may have been missed
// (the LISTEN connection was down). It is closed by Close.
func (s *Store) EnvironmentChanges() <-chan string { return s.envChanges }

// environmentChanged passes on a change without ever blocking the
// listener: when the consumer lags, the oldest id gives way to "", which
// tells it to drop everything it holds.
func (s *Store) environmentChanged(id string) {
	select {
	case s.envChanges <- id:
		return
	default:
	}
	select {
	case <-s.envChanges:
	default:
	}
	select {
	case s.envChanges <- "":
	default:
	}
}

func (s *Store) signal() {
	select {
	case s.wakeups <- struct{}{}:
	default:
	}
}

// wrap marks errors that come from an unreachable database as
// herald.ErrUnavailable, keeping the original in the chain.
func wrap(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %w", herald.ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P0x: the server is shutting
		// down, was shut down, or is starting up; class 53: insufficient
		// resources (disk full, out of memory, too many connections).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") ||
			strings.HasPrefix(pgErr.Code, "53")
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "unexpected EOF")
}

var _ herald.Store = (*Store)(nil)
