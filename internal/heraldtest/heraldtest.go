// Package heraldtest runs a real herald in a test's process: server.Run
// on a SQLite file, listening on a loopback port, allowing loopback
// webhook URLs. Tests of the packages that talk to herald from outside
// (client, cmd/herald, nango) use it; internal/server's own tests cannot
// (they are in package server) and keep theirs.
package heraldtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/server"
)

// Herald is a herald running in this process.
type Herald struct {
	// URL is its base URL, http://127.0.0.1:port.
	URL  string
	stop context.CancelFunc
	done chan error
}

// Start runs herald on a new SQLite file in dir, with adminKey as its
// admin key ("" for none), and returns once GET /readyz answers 200
// (within 30 s). Close stops it.
func Start(dir, adminKey string) (*Herald, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &Herald{URL: "http://" + ln.Addr().String(), done: make(chan error, 1)}
	cfg := server.Config{Database: "sqlite:" + filepath.Join(dir, "herald.db"), AdminKey: adminKey,
		AllowPrivateURLs: true, ShutdownGrace: time.Second}
	ctx, stop := context.WithCancel(context.Background())
	h.stop = stop
	go func() { h.done <- server.Run(ctx, cfg, ln, slog.New(slog.DiscardHandler), io.Discard) }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if resp, err := http.Get(h.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		if time.Now().After(deadline) {
			h.Close()
			return nil, errors.New("heraldtest: herald not ready within 30 s")
		}
	}
}

// Close stops herald and returns what server.Run returned.
func (h *Herald) Close() error {
	h.stop()
	return <-h.done
}

// Run starts herald for t (in t.TempDir()) and stops it when the test
// ends, failing the test if it cannot start or stops with an error. It
// returns herald's base URL.
func Run(t testing.TB, adminKey string) string {
	t.Helper()
	h, err := Start(t.TempDir(), adminKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("herald: %v", err)
		}
	})
	return h.URL
}
