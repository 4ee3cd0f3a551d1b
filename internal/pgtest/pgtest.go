package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DefaultURL is the test server when HERALD_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the test server's URL.
func BaseURL() string {
	if u := os.Getenv("HERALD_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Required reports whether CI demands the PostgreSQL tests.
func Required() bool { return os.Getenv("HERALD_TEST_POSTGRES") == "required" }

// lockPath is a file that every test using the server holds a shared
// lock on, so that a test that restarts the server (Exclusive) runs alone,
// across test binaries.
var lockPath = filepath.Join(os.TempDir(), "herald-pgtest.lock")

func lock(t testing.TB, how int) {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("pgtest: lock file: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("pgtest: lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// DSN creates a fresh schema, drops it when the test ends, and returns a
// URL whose search_path selects it.
func DSN(t testing.TB) string {
	t.Helper()
	lock(t, syscall.LOCK_SH)
	return dsn(t)
}

// Exclusive is DSN for a test that stops or restarts the server: it waits
// until no other test uses the server and keeps others out until it ends.
func Exclusive(t testing.TB) string {
	t.Helper()
	lock(t, syscall.LOCK_EX)
	return dsn(t)
}

func dsn(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := BaseURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if Required() {
			t.Fatalf("PostgreSQL required (HERALD_TEST_POSTGRES=required) but unreachable at %s: %v", base, err)
		}
		t.Skipf("PostgreSQL unreachable at %s (set HERALD_TEST_POSTGRES=required to fail instead): %v", base, err)
	}
	defer conn.Close(context.Background())
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs one statement on the test server, for tests that need to
// inspect or disturb the database directly.
func Exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(fmt.Errorf("pgtest: %w", err))
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(fmt.Errorf("pgtest: %w", err))
	}
}
