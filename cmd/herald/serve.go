package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/dispatch"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/envcache"
	"github.com/heraldhq/herald/intake"
	"github.com/heraldhq/herald/store/postgres"
	"github.com/heraldhq/herald/store/sqlite"
)

func versionString() string { return herald.Version }

// config is serve's configuration (SPEC §1).
type config struct {
	Addr             string
	Database         string
	AdminKey         string
	AllowPrivateURLs bool
	Dev              bool
}

// parseServeFlags reads flags over environment variables over defaults.
func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db"}
	envBool := func(name string) (bool, error) {
		v := getenv(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s: %q is not a boolean", name, v)
		}
		return b, nil
	}
	if v := getenv("HERALD_ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := getenv("HERALD_DATABASE_URL"); v != "" {
		cfg.Database = v
	}
	cfg.AdminKey = getenv("HERALD_ADMIN_KEY")
	var err error
	if cfg.AllowPrivateURLs, err = envBool("HERALD_ALLOW_PRIVATE_URLS"); err != nil {
		return cfg, err
	}
	if cfg.Dev, err = envBool("HERALD_DEV"); err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (HERALD_ADDR)")
	fs.StringVar(&cfg.Database, "database", cfg.Database, "sqlite:PATH or postgres://… (HERALD_DATABASE_URL)")
	fs.StringVar(&cfg.AdminKey, "admin-key", cfg.AdminKey, "bearer key for /admin/* (HERALD_ADMIN_KEY)")
	fs.BoolVar(&cfg.AllowPrivateURLs, "allow-private-urls", cfg.AllowPrivateURLs, "allow webhook URLs on loopback and private networks (HERALD_ALLOW_PRIVATE_URLS)")
	fs.BoolVar(&cfg.Dev, "dev", cfg.Dev, "local development: allow private URLs, create an admin key and a dev environment (HERALD_DEV)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Dev {
		cfg.AllowPrivateURLs = true
	}
	return cfg, nil
}

// openStore opens the database named by a --database value.
func openStore(ctx context.Context, dsn string, log *slog.Logger) (herald.Store, error) {
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

func serveCmd(ctx context.Context, args []string) error {
	cfg, err := parseServeFlags(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	var handler slog.Handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	if cfg.Dev {
		handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	log := slog.New(handler)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return serve(ctx, cfg, ln, log, os.Stdout)
}

// serve runs herald on ln until ctx is cancelled, then shuts down
// gracefully: stop taking requests, let attempts finish or release them,
// close the database.
func serve(ctx context.Context, cfg config, ln net.Listener, log *slog.Logger, out io.Writer) error {
	store, err := openStore(ctx, cfg.Database, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer store.Close()

	var adminHashes [][]byte
	if cfg.AdminKey != "" {
		h := sha256.Sum256([]byte(cfg.AdminKey))
		adminHashes = append(adminHashes, h[:])
	}
	if cfg.Dev {
		if err := devSetup(ctx, store, cfg, out); err != nil {
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

	egressOpts := egress.Options{AllowPrivate: cfg.AllowPrivateURLs}
	client := egress.New(egressOpts)
	defer client.CloseIdleConnections()
	envs := envcache.New(store, 0)
	d := dispatch.New(dispatch.Config{Store: store, Client: client, Logger: log, Environments: envs})
	svc := &intake.Service{Store: store, Dispatcher: d}
	apiHandler := api.New(api.Config{
		Store: store, Intake: svc, AdminKeyHashes: adminHashes, Logger: log,
		CheckURL: func(ctx context.Context, u string) error {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return egress.CheckURL(ctx, u, egressOpts)
		},
		Environments: envs,
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
func devSetup(ctx context.Context, store herald.Store, cfg config, out io.Writer) error {
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
	env, err := api.NewEnvironment("dev")
	if err != nil {
		return err
	}
	if err := store.CreateEnvironment(ctx, env); err != nil {
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
