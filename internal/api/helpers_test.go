package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/forward"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/registry"
	"github.com/heraldhq/herald/internal/resend"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/testkit"
)

// adminKey is the admin key of every fixture that has one.
const adminKey = "admin-key-for-tests"

// Event bodies Nango sends.
const (
	validAuth = `{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"OAUTH2","provider":"github","environment":"prod","operation":"creation","success":true}`
	validSync = `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL","success":true,` +
		`"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`
)

// discard is the logger of every fixture: expected failures (a closed
// store) would only be noise in the test output.
var discard = slog.New(slog.DiscardHandler)

// options vary a fixture.
type options struct {
	// noAdmin starts the API without any admin key.
	noAdmin bool
	// cache tunes the environment cache (a frozen clock keeps entries).
	cache cache.Options
	// mount is handed to Server.Mount before the server starts.
	mount map[string]http.Handler
	// postgresDSN, when set, runs the fixture on PostgreSQL (a
	// pgtest.DSN schema) instead of a SQLite file.
	postgresDSN string
	// bodyBudget is api.Config.BodyBudget (0: the default).
	bodyBudget int64
	// forwardNow is the inbound webhooks' clock (rate limits, signature
	// timestamps); nil: time.Now.
	forwardNow func() time.Time
	// circuitOpen is how long an endpoint's circuit stays open (0: the
	// dispatcher's default, a minute).
	circuitOpen time.Duration
	// dispatchNow is the clock the dispatcher judges endpoints' failure
	// windows by (nil: time.Now).
	dispatchNow func() time.Time
}

// fixture is the API wired as internal/server wires it: a real SQLite file
// behind the cache, a running dispatcher with a loopback-capable egress
// client, the intake and environments services, served on loopback.
type fixture struct {
	db    *sqlite.Store // nil on PostgreSQL
	raw   herald.Store  // the store behind the cache: db, or PostgreSQL
	store *cache.Store
	envs  *environments.Service
	url   string
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	var db *sqlite.Store
	var raw herald.Store
	if o.postgresDSN != "" {
		pg, err := postgres.Open(t.Context(), o.postgresDSN, discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		raw = pg
	} else {
		var err error
		db, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		raw = db
	}
	store := cache.New(raw, o.cache)
	egressOpts := egress.Options{AllowPrivate: true}
	envs := environments.New(environments.Config{Store: store,
		CheckURL: func(ctx context.Context, u string) error { return egress.CheckURL(ctx, u, egressOpts) }})

	client := egress.New(egressOpts)
	alerts := alert.New(store, client, discard)
	t.Cleanup(alerts.Close) // after the server and the dispatcher stop (cleanups run last first)
	d := dispatch.New(dispatch.Config{Store: store, Client: client, Logger: discard, CircuitOpen: o.circuitOpen,
		Now: o.dispatchNow, Alerts: alerts})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
		client.CloseIdleConnections()
	})

	var hashes [][]byte
	if !o.noAdmin {
		sum := sha256.Sum256([]byte(adminKey))
		hashes = append(hashes, sum[:])
	}
	in := &intake.Service{Store: store, Dispatcher: d}
	rs := resend.New(resend.Config{Store: store, Dispatcher: d, Logger: discard})
	t.Cleanup(rs.Close)
	reg := registry.New(registry.Config{Store: store, KnownProvider: forward.Known,
		CheckURL: func(ctx context.Context, u string) error { return egress.CheckURL(ctx, u, egressOpts) }})
	srv := api.New(api.Config{Store: store, Intake: in, Environments: envs, Registry: reg,
		Forward: forward.New(forward.Config{Store: store, Intake: in, Now: o.forwardNow}),
		Resend:  rs, Notify: d.Notify, Alerts: alerts,
		AdminKeyHashes: hashes, Logger: discard, BodyBudget: o.bodyBudget})
	for pattern, h := range o.mount {
		srv.Mount(pattern, h)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{db: db, raw: raw, store: store, envs: envs, url: ts.URL}
}

// newEnv creates an environment through the service and applies patch
// (nil: default settings). The result holds its secret key.
func (f *fixture) newEnv(t *testing.T, name string, patch map[string]any) *herald.Environment {
	t.Helper()
	env, err := f.envs.Create(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if patch != nil {
		if env.Settings, err = f.envs.UpdateSettings(t.Context(), env, patch); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request. body is nil, a string or an io.Reader (sent
// chunked, without Content-Length); key is the bearer key ("" for none);
// hdr are extra header name/value pairs, which may override Authorization.
func (f *fixture) do(t *testing.T, method, path, key string, body any, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		t.Fatalf("body of type %T", body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// want fails the test unless r has status.
func (r response) want(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// decode reads r's JSON body into v, refusing fields v does not declare.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// envelope is the error body (docs/errors.md).
type envelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkError checks that r is the error envelope with status and code
// ("" skips the code) and that its message holds every mention.
func checkError(t *testing.T, r response, status int, code string, mention ...string) envelope {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("body %q is not the error envelope: %v", r.body, err)
	}
	if code != "" && e.Error.Code != code {
		t.Errorf("code %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if e.Error.Message == "" {
		t.Errorf("empty message in %s", r.body)
	}
	for _, m := range mention {
		if !strings.Contains(e.Error.Message, m) {
			t.Errorf("message %q does not mention %q", e.Error.Message, m)
		}
	}
	return e
}

type received = testkit.Received

// newReceiver starts a loopback receiver that answers 200.
func newReceiver(t *testing.T) *testkit.Receiver { return testkit.NewReceiver(t) }

var waitFor = testkit.WaitFor

// accepted is the 202 answer of POST /events.
type accepted struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Deliveries []struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"deliveries"`
	Skipped *string `json:"skipped"`
}

// environmentView is the answer of GET /environment.
type environmentView struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Settings          map[string]any `json:"webhook_settings"`
	WebhookSigningKey string         `json:"webhook_signing_key"`
}

func (f *fixture) getEnvironment(t *testing.T, key string) environmentView {
	t.Helper()
	r := f.do(t, "GET", "/environment", key, nil)
	r.want(t, http.StatusOK)
	var v environmentView
	r.decode(t, &v)
	return v
}
