package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// A full disk (here SQLite's own SQLITE_FULL, from max_page_count) makes
// writes answer 503 unavailable with Retry-After and /readyz fail, never a
// 500; once there is room again both recover by themselves, and nothing
// half-written is left behind (hardening #1).
func TestDiskFullIsUnavailableAndRecovers(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	store := cache.New(st, cache.Options{})
	envs := environments.New(environments.Config{Store: store})
	env, err := envs.Create(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(dispatch.Config{Store: store})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	srv := httptest.NewServer(api.New(api.Config{Store: store, Environments: envs,
		Intake: &intake.Service{Store: store, Dispatcher: d}}))
	t.Cleanup(srv.Close)

	post := func(i int) *http.Response {
		t.Helper()
		body := fmt.Sprintf(`{"type":"forward","connectionId":"c%d","providerConfigKey":"p","payload":{"pad":"%s"}}`, i, strings.Repeat("x", 2000))
		req, _ := http.NewRequest("POST", srv.URL+"/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+env.SecretKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ready := func() int {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(0).StatusCode; code != http.StatusAccepted {
		t.Fatalf("before the disk fills: %d", code)
	}

	if err := st.LimitPages(ctx, 4); err != nil {
		t.Fatal(err)
	}
	accepted, refused := 1, 0
	for i := 1; i <= 200 && refused == 0; i++ {
		resp := post(i)
		switch resp.StatusCode {
		case http.StatusAccepted:
			accepted++
		case http.StatusServiceUnavailable:
			refused++
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		default:
			t.Fatalf("event %d on a full disk: %d, want 202 or 503", i, resp.StatusCode)
		}
	}
	if refused == 0 {
		t.Fatal("200 events fitted in 4 pages: the cap did not apply")
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while writes fail: %d, want 503", code)
	}
	if err := st.Ping(ctx); !errors.Is(err, herald.ErrUnavailable) {
		t.Errorf("Ping while writes fail: %v, want herald.ErrUnavailable", err)
	}

	// Room again: readiness and writes come back without a restart.
	if err := st.LimitPages(ctx, 1<<30); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover once there was room")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := post(1000).StatusCode; code != http.StatusAccepted {
		t.Fatalf("after recovery: %d, want 202", code)
	}
	// Every 202 stored its event and delivery; no refused one left a trace.
	ds, err := store.ListDeliveries(ctx, env.ID, herald.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 { // the environment has no URL: events are stored skipped
		t.Errorf("%d deliveries for an environment without a URL", len(ds))
	}
	t.Logf("fault: disk full accepted=%d refused=%d recovered=true", accepted+1, refused)
}
