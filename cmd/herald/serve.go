package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/server"
	"github.com/heraldhq/herald/internal/store/crypt"
)

func versionString() string { return herald.Version }

// parseServeFlags reads flags over environment variables over defaults.
func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (server.Config, error) {
	cfg := server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db",
		Lease: server.DefaultLease, ShutdownGrace: server.DefaultShutdownGrace,
		Retention: herald.DefaultRetention, BodyRetention: herald.DefaultBodyRetention, DisableAfter: herald.DefaultDisableAfter,
		CircuitOpen: dispatch.DefaultCircuitOpen}
	envDuration := func(name string, dst *time.Duration) error {
		v := getenv(name)
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration such as 30s", name, v)
		}
		*dst = d
		return nil
	}
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
	if err := envDuration("HERALD_LEASE", &cfg.Lease); err != nil {
		return cfg, err
	}
	if err := envDuration("HERALD_SHUTDOWN_GRACE", &cfg.ShutdownGrace); err != nil {
		return cfg, err
	}
	if err := envDuration("HERALD_RETENTION", &cfg.Retention); err != nil {
		return cfg, err
	}
	if err := envDuration("HERALD_BODY_RETENTION", &cfg.BodyRetention); err != nil {
		return cfg, err
	}
	if err := envDuration("HERALD_DISABLE_AFTER", &cfg.DisableAfter); err != nil {
		return cfg, err
	}
	if err := envDuration("HERALD_CIRCUIT_OPEN", &cfg.CircuitOpen); err != nil {
		return cfg, err
	}
	cfg.LogFormat = getenv("HERALD_LOG_FORMAT")
	bodyMiB := int(server.DefaultBodyBudget >> 20)
	if v := getenv("HERALD_BODY_BUDGET_MIB"); v != "" {
		if bodyMiB, err = strconv.Atoi(v); err != nil {
			return cfg, fmt.Errorf("HERALD_BODY_BUDGET_MIB: %q is not a number of MiB", v)
		}
	}
	// Environment only, never a flag: a flag would show in ps.
	if v := getenv("HERALD_ENCRYPTION_KEY"); v != "" {
		if cfg.EncryptionKeys, err = crypt.ParseKeys(v); err != nil {
			return cfg, fmt.Errorf("HERALD_ENCRYPTION_KEY: %w", err)
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (HERALD_ADDR)")
	fs.StringVar(&cfg.Database, "database", cfg.Database, "sqlite:PATH or postgres://… (HERALD_DATABASE_URL)")
	fs.StringVar(&cfg.AdminKey, "admin-key", cfg.AdminKey, "bearer key for /admin/* (HERALD_ADMIN_KEY); visible in the process list, prefer --admin-key-file")
	var adminKeyFile string
	fs.StringVar(&adminKeyFile, "admin-key-file", "", "file holding the bearer key for /admin/*, one trailing newline trimmed (HERALD_ADMIN_KEY_FILE)")
	fs.BoolVar(&cfg.AllowPrivateURLs, "allow-private-urls", cfg.AllowPrivateURLs, "allow webhook URLs on loopback and private networks (HERALD_ALLOW_PRIVATE_URLS)")
	fs.BoolVar(&cfg.Dev, "dev", cfg.Dev, "local development: allow private URLs, create an admin key and a dev environment (HERALD_DEV)")
	fs.DurationVar(&cfg.Lease, "lease", cfg.Lease, "how long a claimed delivery stays with a process that stops renewing it (it crashed) before another takes it over; 1s–10m (HERALD_LEASE)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "how long in-flight attempts may finish at shutdown before they are released; 100ms–25s (HERALD_SHUTDOWN_GRACE)")
	fs.IntVar(&bodyMiB, "body-budget-mib", bodyMiB, "request-body bytes held in memory at once, all requests together, in MiB; past it requests get 503; 8–4096 (HERALD_BODY_BUDGET_MIB)")
	fs.DurationVar(&cfg.Retention, "retention", cfg.Retention, "age past which finished deliveries, their attempts and their events are deleted; 0 keeps them (HERALD_RETENTION)")
	fs.DurationVar(&cfg.DisableAfter, "disable-after", cfg.DisableAfter, "how long an endpoint may fail every attempt before it is disabled (its deliveries are then held) (HERALD_DISABLE_AFTER)")
	fs.DurationVar(&cfg.CircuitOpen, "circuit-open", cfg.CircuitOpen, "how long an endpoint's circuit stays open (no attempt) after more than 5 failures within 10 s, before one probe; 1s–1h (HERALD_CIRCUIT_OPEN)")
	fs.DurationVar(&cfg.BodyRetention, "body-retention", cfg.BodyRetention, "age past which the bodies of finished events are emptied (they can no longer be replayed or retried); 0 keeps them (HERALD_BODY_RETENTION)")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "json or text; default text on a terminal or with --dev, JSON otherwise (HERALD_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if bodyMiB < 8 || bodyMiB > 4096 {
		return cfg, fmt.Errorf("serve: --body-budget-mib %d is outside 8–4096", bodyMiB)
	}
	cfg.BodyBudget = int64(bodyMiB) << 20
	if err := resolveAdminKey(&cfg, fs, adminKeyFile, getenv); err != nil {
		return cfg, err
	}
	if cfg.Lease < time.Second || cfg.Lease > 10*time.Minute {
		return cfg, fmt.Errorf("serve: --lease %s is outside 1s–10m", cfg.Lease)
	}
	if cfg.ShutdownGrace < 100*time.Millisecond || cfg.ShutdownGrace > 25*time.Second {
		return cfg, fmt.Errorf("serve: --shutdown-grace %s is outside 100ms–25s (herald exits within 30 s of SIGTERM)", cfg.ShutdownGrace)
	}
	if cfg.CircuitOpen < time.Second || cfg.CircuitOpen > time.Hour {
		return cfg, fmt.Errorf("serve: --circuit-open %s is outside 1s–1h", cfg.CircuitOpen)
	}
	if cfg.DisableAfter < time.Minute {
		return cfg, fmt.Errorf("serve: --disable-after %s is under a minute", cfg.DisableAfter)
	}
	if cfg.Retention < 0 || cfg.BodyRetention < 0 {
		return cfg, errors.New("serve: --retention and --body-retention cannot be negative (0 keeps for ever)")
	}
	switch cfg.LogFormat {
	case "", "json", "text":
	default:
		return cfg, fmt.Errorf("serve: --log-format %q is neither json nor text", cfg.LogFormat)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if cfg.Dev {
		cfg.AllowPrivateURLs = true
	}
	return cfg, nil
}

// resolveAdminKey settles where the admin key comes from: a flag wins over
// the environment; --admin-key with --admin-key-file (or both variables,
// when no flag decides) is an error. A key file is read whole, with its
// trailing newline or whitespace trimmed; a file that cannot be read, is
// empty or holds more than one line is an error naming it.
func resolveAdminKey(cfg *server.Config, fs *flag.FlagSet, flagFile string, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var file, source string
	switch {
	case set["admin-key"] && set["admin-key-file"]:
		return errors.New("serve: --admin-key and --admin-key-file are exclusive: give one")
	case set["admin-key-file"]:
		file, source = flagFile, "--admin-key-file"
		if file == "" {
			return errors.New("serve: --admin-key-file needs a path")
		}
	case set["admin-key"]:
		return nil
	default:
		file, source = getenv("HERALD_ADMIN_KEY_FILE"), "HERALD_ADMIN_KEY_FILE"
		if file != "" && getenv("HERALD_ADMIN_KEY") != "" {
			return errors.New("serve: HERALD_ADMIN_KEY and HERALD_ADMIN_KEY_FILE are both set: set one")
		}
	}
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("serve: %s: cannot read the admin key file: %w", source, err)
	}
	key := strings.TrimRight(string(b), " \t\r\n")
	switch {
	case key == "":
		return fmt.Errorf("serve: %s: the admin key file %s is empty", source, file)
	case strings.ContainsAny(key, "\r\n"):
		return fmt.Errorf("serve: %s: the admin key file %s holds more than one line", source, file)
	}
	cfg.AdminKey = key
	return nil
}

func serveCmd(ctx context.Context, args []string) error {
	cfg, err := parseServeFlags(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(os.Stderr, cfg.LogFormat, cfg.Dev || isTerminal(os.Stderr))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return server.Run(ctx, cfg, ln, log, os.Stdout)
}

// newLogger writes the process's log to w: as format says, or when it is
// "" as text when text is true (a terminal, or --dev) and as JSON (one
// object a line) otherwise.
func newLogger(w io.Writer, format string, text bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "text" || (format == "" && text) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal tells whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
