package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/forward"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/registry"
	"github.com/heraldhq/herald/internal/resend"
	"github.com/heraldhq/herald/internal/retention"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/crypt"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/heraldhq/herald/internal/tracing"
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
	// BodyBudget bounds the request-body bytes held in memory at once,
	// all requests together. 0: DefaultBodyBudget.
	BodyBudget int64
	// EncryptionKeys encrypt signing keys at rest, newest first
	// (HERALD_ENCRYPTION_KEY, crypt.ParseKeys). Empty: stored in plaintext.
	EncryptionKeys crypt.Keyring
	// Retention and BodyRetention are the ages past which finished
	// deliveries, and the bodies of finished events, are pruned
	// (internal/retention). 0: kept for ever.
	Retention, BodyRetention time.Duration
	// DisableAfter is how long an endpoint may fail every attempt before
	// it is disabled; 0: herald.DefaultDisableAfter.
	DisableAfter time.Duration
	// CircuitOpen is how long an endpoint's open circuit lets no attempt
	// through before its probe; 0: a minute (dispatch.DefaultCircuitOpen).
	CircuitOpen time.Duration
	// LogFormat is how cmd/herald writes its log: "json", "text", or ""
	// (text on a terminal, JSON otherwise).
	LogFormat string
	// TraceBatchTimeout is how long spans wait before export
	// (docs/running.md, Traces); 0: the SDK's default. Tests make it small.
	TraceBatchTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultLease         = 30 * time.Second
	DefaultShutdownGrace = 10 * time.Second
	DefaultBodyBudget    = api.DefaultBodyBudget
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
		return nil, fmt.Errorf("--database: %q is neither sqlite:PATH nor postgres://…", redactDSN(dsn))
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
	// Under it, secrets are encrypted on their way to the database and
	// decrypted on their way out, so the cache holds them decrypted. Without
	// keys nothing is encrypted, and a key found encrypted is an error.
	store := cache.New(crypt.New(db, cfg.EncryptionKeys), cache.Options{})
	egressOpts := egress.Options{AllowPrivate: cfg.AllowPrivateURLs}
	checkURL := func(ctx context.Context, u string) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return egress.CheckURL(ctx, u, egressOpts)
	}
	envs := environments.New(environments.Config{Store: store, CheckURL: checkURL})
	reg := registry.New(registry.Config{Store: store, KnownProvider: forward.Known, CheckURL: checkURL})

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
	// One set of metrics per process, served at GET /metrics.
	metrics := telemetry.New(store)
	// Traces: the process-wide export (OTEL_EXPORTER_OTLP_*, off without an
	// endpoint) and environments' own, sent through the egress client.
	traces, err := tracing.New(ctx, tracing.Options{Store: store, HTTPClient: client.HTTPClient(),
		BatchTimeout: cfg.TraceBatchTimeout})
	if err != nil {
		ln.Close()
		return fmt.Errorf("traces: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := traces.Shutdown(sctx); err != nil {
			log.Warn("traces shutdown", "err", err)
		}
	}()
	// Several processes share a PostgreSQL database: endpoints' rate
	// limits are shared through it; alone on SQLite, each is exact.
	tokens, _ := db.(herald.TokenBuckets)
	// herald's own operations events (endpoint.disabled, endpoint.enabled)
	// go to each environment's alert_url through the same egress client as
	// deliveries. Deferred here, Close runs once the HTTP server and the
	// dispatcher have stopped (the deferred calls below run first), and
	// before the store closes: alerts in flight finish, pending retries
	// are given up.
	alerts := alert.New(store, client, log)
	defer alerts.Close()
	d := dispatch.New(dispatch.Config{Store: store, Client: client, Logger: log, Lease: cfg.Lease,
		ShutdownGrace: cfg.ShutdownGrace, Metrics: metrics, Tracing: traces, DisableAfter: cfg.DisableAfter,
		CircuitOpen: cfg.CircuitOpen, Tokens: tokens, Alerts: alerts})
	svc := &intake.Service{Store: store, Dispatcher: d, Metrics: metrics}
	// Bulk replays go on in the background; they stop, at a batch's end,
	// before the store closes.
	resender := resend.New(resend.Config{Store: store, Dispatcher: d, Logger: log})
	defer resender.Close()
	apiHandler := api.New(api.Config{
		Store: store, Intake: svc, Environments: envs, Registry: reg, Forward: forward.New(forward.Config{Store: store, Intake: svc}),
		Resend: resender, Notify: d.Notify, Metrics: metrics, Alerts: alerts,
		AdminKeyHashes: adminHashes, Logger: log, BodyBudget: cfg.BodyBudget, Tracing: traces,
	})
	apiHandler.Mount("GET /metrics", metrics.Handler())
	// The web console (docs/console.md): static files that call the API;
	// /ui redirects to /ui/.
	ui := console.Handler()
	apiHandler.Mount(console.Prefix, ui)
	apiHandler.Mount("GET /ui", ui)

	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatchDone := make(chan error, 1)
	go func() { dispatchDone <- d.Run(dctx) }()
	pruner := retention.New(retention.Config{Store: store, Retention: cfg.Retention, BodyRetention: cfg.BodyRetention,
		Metrics: metrics, Logger: log})
	pruneDone := make(chan struct{})
	go func() { defer close(pruneDone); pruner.Run(dctx) }()
	defer func() { stopDispatch(); <-pruneDone }()

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

// redactDSN hides credentials in a database URL for logs: the userinfo
// (user and password, shown as "…@"), and the value of every query
// parameter that, lower-cased, mentions "password" or "sslkey" (pgx reads
// password, sslpassword and sslkey from the query too). The rest stays as
// written. What is not a URL with a scheme (a keyword/value DSN,
// garbage) is hidden whole; it never panics.
func redactDSN(dsn string) string {
	const hidden = "…"
	const whole = "[redacted]"
	// Whatever a parser would make of it, everything between "://" and the
	// last "@" may be credentials ("postgres:///:secret#@host" parses as a
	// path and a fragment): it is cut out before parsing, and shown as "…".
	if strings.ContainsFunc(dsn, unicode.IsControl) {
		return whole
	}
	cutUser := false
	var secrets []string
	if i := strings.Index(dsn, "://"); i >= 0 {
		authority, _, _ := strings.Cut(dsn[i+3:], "?") // a query holds no credentials of the URL's own
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			if _, pass, ok := strings.Cut(dsn[i+3:i+3+at], ":"); ok {
				secrets = append(secrets, pass, unescapeOr(pass))
			}
			dsn, cutUser = dsn[:i+3]+dsn[i+3+at+1:], true
		}
		if strings.Contains(dsn[i+3:], "@") {
			return whole // an "@" further on: credentials in a place no parser agrees on
		}
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || strings.ContainsAny(u.Opaque, "@=") {
		return whole
	}
	sensitive := func(raw string) bool {
		for _, name := range []string{raw, unescapeOr(raw)} {
			name = strings.ToLower(name)
			if strings.Contains(name, "password") || strings.Contains(name, "sslkey") {
				return true
			}
		}
		return false
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	// Parameters are separated by & (or ;, which some parsers accept);
	// each one is kept as written unless its name is sensitive.
	var q strings.Builder
	for rest := u.RawQuery; rest != ""; {
		i := strings.IndexAny(rest, "&;")
		param, sep := rest, ""
		if i >= 0 {
			param, sep, rest = rest[:i], rest[i:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		name, value, _ := strings.Cut(param, "=")
		if sensitive(param) || name == "" { // by its name, a value that looks like more parameters, or no name at all
			param = name + "=" + hidden
			secrets = append(secrets, value, unescapeOr(value))
		}
		q.WriteString(param + sep)
	}
	u.RawQuery = q.String()
	// A database URL has no use for a fragment; one may hold what looks
	// like credentials ("postgres://#:secret@host"), so it is never shown.
	fragment := ""
	if u.Fragment != "" || u.RawFragment != "" || strings.Contains(dsn, "#") {
		fragment = "#" + hidden
		u.Fragment, u.RawFragment = "", ""
	}
	hadUser := u.User != nil || cutUser
	u.User = nil
	out := u.String() + fragment
	if hadUser {
		out = u.Scheme + "://" + hidden + "@" + strings.TrimPrefix(strings.TrimPrefix(out, u.Scheme+":"), "//")
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(out, secret) && !strings.Contains(hidden, secret) {
			return whole // a secret also shows elsewhere: hide everything
		}
	}
	// Last guard, for inputs no parser reads the same way twice: anything
	// still named like a password with a value shown hides everything.
	rest := strings.TrimPrefix(out, u.Scheme+"://"+hidden+"@")
	if leftSecret.MatchString(out) || strings.Contains(rest, "@") {
		return whole
	}
	return out
}

// leftSecret matches a password-like name followed by a value other than
// the "…" that redactDSN writes.
var leftSecret = regexp.MustCompile(`(?i)(pass|sslkey)[^=]*=[^…]`)

// unescapeOr is s with %XX and + decoded, or s itself if it cannot be.
func unescapeOr(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
