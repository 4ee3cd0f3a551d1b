package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// Config is herald serve's configuration (docs/running.md).
type Config struct {
	Addr             string
	Database         string
	AdminKey         string
	AllowPrivateURLs bool
	Dev              bool
	// Lease is how long a claimed delivery stays with this process without
	// a renewal; after a crash, other processes take it over once it ends.
	// 0: DefaultLease.
	Lease time.Duration
	// ShutdownGrace is how long in-flight attempts may finish at shutdown
	// before they are released. 0: DefaultShutdownGrace.
	ShutdownGrace time.Duration
}

// Defaults of Config.
const (
	DefaultLease         = 30 * time.Second
	DefaultShutdownGrace = 10 * time.Second
)

// OpenStore opens the database named by a --database value.
func OpenStore(ctx context.Context, dsn string, log *slog.Logger) (herald.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		var opts sqlite.Options
		if p, query, ok := strings.Cut(path, "?"); ok {
			switch strings.ToLower(query) {
			case "synchronous=full":
				opts.SyncFull = true
			case "synchronous=normal":
			default:
				return nil, fmt.Errorf("--database: unknown SQLite option %q (synchronous=full or synchronous=normal)", query)
			}
			path = p
		}
		return sqlite.Open(ctx, path, opts)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, log)
	default:
		return nil, fmt.Errorf("--database: %q is neither sqlite:PATH nor postgres://…", dsn)
	}
}

// Run runs herald on ln until ctx is cancelled, then shuts down
// gracefully: stop taking requests, let attempts finish or release them,
// close the database.
func Run(ctx context.Context, cfg Config, ln net.Listener, log *slog.Logger, out io.Writer) error {
	db, err := OpenStore(ctx, cfg.Database, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer db.Close()
	// One cache for the whole process: every reader of environments goes
	// through it, and every write through it drops the entry it changed.
	store := cache.New(db, cache.Options{})
	egressOpts := egress.Options{AllowPrivate: cfg.AllowPrivateURLs}
	envs := environments.New(environments.Config{Store: store,
		CheckURL: func(ctx context.Context, u string) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return egress.CheckURL(ctx, u, egressOpts)
		}})

	var adminHashes [][]byte
	if cfg.AdminKey != "" {
		h := sha256.Sum256([]byte(cfg.AdminKey))
		adminHashes = append(adminHashes, h[:])
	}
	if cfg.Dev {
		if err := devSetup(ctx, store, envs, cfg, out); err != nil {
			ln.Close()
			return err
		}
	}
	stored, err := store.AdminKeyHashes(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	adminHashes = append(adminHashes, stored...)
	if len(adminHashes) == 0 {
		fmt.Fprintln(out, "herald: no admin key: /admin/* answers 401. Set one with --admin-key or HERALD_ADMIN_KEY.")
	}

	client := egress.New(egressOpts)
	defer client.CloseIdleConnections()
	d := dispatch.New(dispatch.Config{Store: store, Client: client, Logger: log, Lease: cfg.Lease,
		ShutdownGrace: cfg.ShutdownGrace})
	svc := &intake.Service{Store: store, Dispatcher: d}
	apiHandler := api.New(api.Config{
		Store: store, Intake: svc, Environments: envs, AdminKeyHashes: adminHashes, Logger: log,
	})

	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatchDone := make(chan error, 1)
	go func() { dispatchDone <- d.Run(dctx) }()

	srv := &http.Server{
		Handler:           apiHandler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(out, "herald: listening on http://%s\n", ln.Addr())
	log.Info("herald started", "addr", ln.Addr().String(), "database", redactDSN(cfg.Database), "version", herald.Version)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopDispatch()
		<-dispatchDone
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopDispatch()
	if err := <-dispatchDone; err != nil {
		log.Error("dispatcher", "err", err)
	}
	log.Info("stopped")
	return nil
}

// devSetup creates an admin key and a dev environment in an empty
// database and prints their keys once.
func devSetup(ctx context.Context, store herald.Store, envService *environments.Service, cfg Config, out io.Writer) error {
	envs, err := store.ListEnvironments(ctx)
	if err != nil {
		return err
	}
	hashes, err := store.AdminKeyHashes(ctx)
	if err != nil {
		return err
	}
	if len(envs) > 0 || len(hashes) > 0 {
		return nil
	}
	adminKey := cfg.AdminKey
	if adminKey == "" {
		k, err := uuid.NewRandom()
		if err != nil {
			return err
		}
		adminKey = "admin_" + strings.ReplaceAll(k.String(), "-", "")
		h := sha256.Sum256([]byte(adminKey))
		if err := store.AddAdminKeyHash(ctx, h[:]); err != nil {
			return err
		}
	}
	env, err := envService.Create(ctx, "dev")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `herald --dev: created (shown once, keep them):
  admin key:                 %s
  environment:               dev (%s)
  environment secret key:    %s
  webhook signing key:       %s
`, adminKey, env.ID, env.SecretKey, env.SigningKey)
	return nil
}

// redactDSN hides a password in a database URL for logs.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.LastIndex(dsn, "@"); at > i {
			return dsn[:i+3] + "…@" + dsn[at+1:]
		}
	}
	return dsn
}
