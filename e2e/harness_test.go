package e2e

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// heraldBin is the herald binary TestMain built.
var heraldBin string

const (
	adminKey = "e2e-admin-key-0123456789"

	startTimeout = 15 * time.Second // herald prints its address within this
	stopTimeout  = 30 * time.Second // docs/running.md: exit 0 within 30 s of SIGTERM
	// stateTimeout bounds every poll for a delivery state. Generous on
	// purpose: it is a deadlock detector, not a performance assertion.
	stateTimeout = 60 * time.Second
	// crashLease is the lease of processes that tests kill: after a kill,
	// another process takes over the victim's claimed deliveries once it
	// ends. Short enough to keep the tests fast, long enough that a live
	// process under -race renews it in time (it renews every third).
	crashLease = 3 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// These tests spend their time waiting on other processes (herald,
	// receivers, PostgreSQL), not on the CPU: run more of them at once than
	// -parallel's default of GOMAXPROCS, unless the caller chose a number.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", "8")
	}
	dir, err := os.MkdirTemp("", "herald-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	heraldBin = filepath.Join(dir, "herald")
	args := []string{"build", "-o", heraldBin}
	if os.Getenv("HERALD_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/herald")
	build := exec.Command("go", args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// moduleRoot is the directory of herald's go.mod (the parent of e2e/).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	return filepath.Abs("..")
}

// ---------------------------------------------------------------------------
// The herald process.

// heraldOpts are the flags of one herald serve process.
type heraldOpts struct {
	// DB is the database: a SQLite file path or a postgres:// URL; empty:
	// a new SQLite file in t.TempDir(), or a new PostgreSQL schema when the
	// test runs under forEachStore's "postgres" subtest.
	DB string
	// NoPrivateURLs leaves out --allow-private-urls.
	NoPrivateURLs bool
	// NoAdminKey leaves out --admin-key.
	NoAdminKey bool
	// Lease, when set, is passed as --lease: crash tests shorten it so
	// that another process takes over a killed one's deliveries in
	// seconds instead of the default 30 s.
	Lease time.Duration
	// ShutdownGrace, when set, is passed as --shutdown-grace.
	ShutdownGrace time.Duration
	// CircuitOpen is passed as --circuit-open; 0: 1s. The default minute
	// would hold the deliveries of the tests' failing receivers for that
	// long once more than 5 attempts failed within 10 s.
	CircuitOpen time.Duration
	// Raw, when non-nil, replaces every flag above: herald serve gets
	// exactly these arguments.
	Raw []string
	// Env adds KEY=value variables to herald's environment (HERALD_* and
	// OTEL_* variables of the test process are never passed on).
	Env []string
}

// herald is one running herald serve process.
type herald struct {
	t    *testing.T
	opts heraldOpts
	cmd  *exec.Cmd
	// URL is the API's base URL, http://127.0.0.1:PORT.
	URL    string
	stdout *syncBuffer // every line herald printed on stdout
	stderr *syncBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's result, valid after done

	mu      sync.Mutex
	secrets []string // keys that must never appear in herald's logs (docs/authentication.md)
}

// addSecret records a key that herald must never write to its logs.
func (h *herald) addSecret(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secrets = append(h.secrets, s)
}

// forEachStore runs test once on SQLite and once on PostgreSQL, as the
// subtests "sqlite" and "postgres"; startHerald picks the store from the
// subtest's name.
func forEachStore(t *testing.T, test func(t *testing.T)) {
	t.Parallel()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			if store == "postgres" {
				pgtest.DSN(t) // skip (or fail in CI) here when there is no server
			}
			test(t)
		})
	}
}

// storeOf tells which store forEachStore chose for t.
func storeOf(t *testing.T) string {
	parts := strings.Split(t.Name(), "/")
	if len(parts) > 1 && parts[1] == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// startHerald starts herald serve and waits (bounded) until it prints the
// address it listens on. The process is stopped with SIGTERM when the test
// ends, if the test has not stopped it itself.
func startHerald(t *testing.T, opts heraldOpts) *herald {
	t.Helper()
	if opts.DB == "" {
		if storeOf(t) == "postgres" {
			opts.DB = pgtest.DSN(t)
		} else {
			opts.DB = filepath.Join(t.TempDir(), "herald.db")
		}
	}
	database := opts.DB
	if !strings.HasPrefix(database, "postgres://") {
		database = "sqlite:" + database
	} else if !strings.Contains(database, "pool_max_conns") {
		// Eight tests run at once, some with three processes: keep each
		// process's pool small so that they fit in the server's
		// max_connections (100 by default).
		database += "&pool_max_conns=4"
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database", database}
	if !opts.NoAdminKey {
		args = append(args, "--admin-key", adminKey)
	}
	if !opts.NoPrivateURLs {
		args = append(args, "--allow-private-urls")
	}
	if opts.Lease > 0 {
		args = append(args, "--lease", opts.Lease.String())
	}
	if opts.ShutdownGrace > 0 {
		args = append(args, "--shutdown-grace", opts.ShutdownGrace.String())
	}
	circuit := time.Second
	if opts.CircuitOpen > 0 {
		circuit = opts.CircuitOpen
	}
	args = append(args, "--circuit-open", circuit.String())
	if opts.Raw != nil {
		args = append([]string{"serve"}, opts.Raw...)
	}
	cmd := exec.Command(heraldBin, args...)
	cmd.Dir = t.TempDir() // a stray relative path (the default sqlite:herald.db) lands here
	// Keep the environment from steering herald (HERALD_* would be read).
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, opts.Env...)
	h := &herald{t: t, opts: opts, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = h.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start herald: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`herald: listening on (http://\S+)`)
		for sc.Scan() {
			h.stdout.Write([]byte(sc.Text() + "\n"))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			if code := h.Stop(); code != 0 {
				t.Errorf("herald exited with status %d after SIGTERM at test end", code)
			}
		}
		if t.Failed() {
			t.Logf("herald (pid %d) stderr, last lines:\n%s", cmd.Process.Pid, h.stderr.Tail(40))
		}
		h.mu.Lock()
		secrets := append([]string{adminKey}, h.secrets...)
		h.mu.Unlock()
		logs := h.stderr.String()
		for _, s := range secrets {
			if s != "" && strings.Contains(logs, s) {
				t.Errorf("herald wrote a secret key to its logs (docs/authentication.md): %q", s)
			}
		}
		if strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("herald reported a data race:\n%s", h.stderr.Tail(80))
		}
	})
	select {
	case u := <-addr:
		h.URL = u
	case <-h.done:
		t.Fatalf("herald exited before listening: %v\nstderr:\n%s", h.err, h.stderr.String())
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-h.done
		t.Fatalf("herald did not print its address within %s\nstderr:\n%s", startTimeout, h.stderr.String())
	}
	u, err := url.Parse(h.URL)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("herald listens on %q, want a 127.0.0.1 address", h.URL)
	}
	return h
}

// Stop sends SIGTERM and waits (bounded) for the exit; it returns the exit
// status. Exceeding the bound is a test error (docs/running.md: within 30 s).
func (h *herald) Stop() int {
	h.t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		h.t.Errorf("SIGTERM herald: %v", err)
	}
	select {
	case <-h.done:
	case <-time.After(stopTimeout):
		h.t.Errorf("herald did not exit within %s of SIGTERM; killing it", stopTimeout)
		h.cmd.Process.Kill()
		<-h.done
	}
	return h.exitCode()
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (h *herald) Kill() {
	h.t.Helper()
	if err := h.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		h.t.Fatalf("kill herald: %v", err)
	}
	<-h.done
}

func (h *herald) exitCode() int {
	if h.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(h.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// Restart starts a new herald on the same database file with the same flags.
func (h *herald) Restart(t *testing.T) *herald {
	return startHerald(t, h.opts)
}

// Admin returns a client that authenticates with the admin key.
func (h *herald) Admin() *client { return &client{base: h.URL, key: adminKey} }

// Anon returns a client without credentials.
func (h *herald) Anon() *client { return &client{base: h.URL} }

// ---------------------------------------------------------------------------
// Environments.

// env is one herald environment and a client that uses its secret key.
type env struct {
	*client
	ID         string
	Name       string
	SigningKey string
}

var envSeq atomic.Int64

// newEnv creates an environment through the admin API.
func newEnv(t *testing.T, h *herald) *env {
	t.Helper()
	name := fmt.Sprintf("e2e-%d", envSeq.Add(1))
	var created struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		SecretKey         string `json:"secret_key"`
		WebhookSigningKey string `json:"webhook_signing_key"`
		CreatedAt         string `json:"created_at"`
	}
	r := h.Admin().do(t, "POST", "/admin/environments", map[string]string{"name": name})
	r.want(t, http.StatusCreated)
	r.decode(t, &created)
	if created.ID == "" || created.SecretKey == "" || created.WebhookSigningKey == "" || created.Name != name || created.CreatedAt == "" {
		t.Fatalf("POST /admin/environments: incomplete answer %s", r.Body)
	}
	h.addSecret(created.SecretKey)
	h.addSecret(created.WebhookSigningKey)
	return &env{client: &client{base: h.URL, key: created.SecretKey}, ID: created.ID, Name: name, SigningKey: created.WebhookSigningKey}
}

// patch applies webhook settings and fails the test unless herald takes them.
func (e *env) patch(t *testing.T, settings any) map[string]any {
	t.Helper()
	r := e.do(t, "PATCH", "/environment/webhook", settings)
	r.want(t, http.StatusOK)
	var out map[string]any
	r.decode(t, &out)
	return out
}

// accepted is the 202 answer for one event (docs/events.md).
type accepted struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	Deliveries []deliveryRef `json:"deliveries"`
	Skipped    *string       `json:"skipped"`
}

type deliveryRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// post sends one event and expects 202.
func (e *env) post(t *testing.T, body any, header ...string) accepted {
	t.Helper()
	r := e.do(t, "POST", "/events", body, header...)
	r.want(t, http.StatusAccepted)
	var a accepted
	r.decodeStrict(t, &a)
	if a.ID == "" || a.Deliveries == nil {
		t.Fatalf("POST /events: incomplete answer %s", r.Body)
	}
	return a
}

// postBatch sends a batch and expects 202.
func (e *env) postBatch(t *testing.T, events []string, header ...string) []accepted {
	t.Helper()
	body := `{"events":[` + strings.Join(events, ",") + `]}`
	r := e.do(t, "POST", "/events/batch", body, header...)
	r.want(t, http.StatusAccepted)
	var out struct {
		Results []accepted `json:"results"`
	}
	r.decodeStrict(t, &out)
	if len(out.Results) != len(events) {
		t.Fatalf("POST /events/batch: %d results for %d events", len(out.Results), len(events))
	}
	return out.Results
}

// delivery is a delivery as GET /deliveries and GET /deliveries/{id} show it.
type delivery struct {
	ID             string          `json:"id"`
	EventID        string          `json:"event_id"`
	Type           string          `json:"type"`
	URL            string          `json:"url"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
	NextAttemptAt  *string         `json:"next_attempt_at"`
	LastStatusCode *int            `json:"last_status_code"`
	LastError      *string         `json:"last_error"`
	Body           json.RawMessage `json:"body"`
	AttemptLog     []attempt       `json:"attempt_log"`
}

type attempt struct {
	Number       int     `json:"number"`
	StartedAt    string  `json:"started_at"`
	DurationMS   int64   `json:"duration_ms"`
	StatusCode   *int    `json:"status_code"`
	Error        *string `json:"error"`
	ResponseBody *string `json:"response_body"`
}

func (d *delivery) String() string {
	code, errText := "-", "-"
	if d.LastStatusCode != nil {
		code = strconv.Itoa(*d.LastStatusCode)
	}
	if d.LastError != nil {
		errText = *d.LastError
	}
	return fmt.Sprintf("delivery %s status=%s attempts=%d last_status=%s last_error=%q", d.ID, d.Status, d.Attempts, code, errText)
}

func (e *env) delivery(t *testing.T, id string) *delivery {
	t.Helper()
	r := e.do(t, "GET", "/deliveries/"+id, nil)
	r.want(t, http.StatusOK)
	var d delivery
	r.decode(t, &d)
	return &d
}

// waitDelivery polls GET /deliveries/{id} until its status is one of want
// (bounded), and fails with the last state seen otherwise.
func (e *env) waitDelivery(t *testing.T, id string, want ...string) *delivery {
	t.Helper()
	var last *delivery
	waitFor(t, stateTimeout, "delivery "+id+" to be "+strings.Join(want, "|"), func() (bool, string) {
		last = e.delivery(t, id)
		for _, w := range want {
			if last.Status == w {
				return true, ""
			}
		}
		return false, last.String()
	})
	return last
}

// listDeliveries reads one page of GET /deliveries.
func (e *env) listDeliveries(t *testing.T, query string) ([]delivery, *string) {
	t.Helper()
	path := "/deliveries"
	if query != "" {
		path += "?" + query
	}
	r := e.do(t, "GET", path, nil)
	r.want(t, http.StatusOK)
	var page struct {
		Data       []delivery `json:"data"`
		NextCursor *string    `json:"next_cursor"`
	}
	r.decodeStrict(t, &page)
	if page.Data == nil {
		t.Fatalf("GET %s: data is null or missing: %s", path, r.Body)
	}
	return page.Data, page.NextCursor
}

// allDeliveries pages through GET /deliveries with query (which must not set
// cursor), checking that pages do not repeat deliveries.
func (e *env) allDeliveries(t *testing.T, query string) []delivery {
	t.Helper()
	var all []delivery
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatal("GET /deliveries: more than 10,000 pages; the cursor does not advance")
		}
		q := query
		if cursor != "" {
			if q != "" {
				q += "&"
			}
			q += "cursor=" + url.QueryEscape(cursor)
		}
		data, next := e.listDeliveries(t, q)
		for _, d := range data {
			if seen[d.ID] {
				t.Fatalf("GET /deliveries?%s: delivery %s appears on two pages", q, d.ID)
			}
			seen[d.ID] = true
		}
		all = append(all, data...)
		if next == nil {
			return all
		}
		cursor = *next
	}
}

// ---------------------------------------------------------------------------
// A JSON HTTP client for herald's API.

var apiHTTP = &http.Client{
	// A safety net against a wedged server, not a speed assertion.
	Timeout:   90 * time.Second,
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16},
}

type client struct {
	base string
	key  string
}

// withKey returns a client for the same herald with another bearer key.
func (c *client) withKey(key string) *client { return &client{base: c.base, key: key} }

type response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

// do sends one request. body is nil (no body), a string or []byte (sent as
// is), an io.Reader (sent chunked, without Content-Length) or any other value
// (sent as encoding/json). header holds name, value pairs.
func (c *client) do(t *testing.T, method, path string, body any, header ...string) *response {
	t.Helper()
	r, err := c.try(method, path, body, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (c *client) try(method, path string, body any, header ...string) (*response, error) {
	var rd io.Reader
	contentLength := int64(-1)
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentLength = strings.NewReader(b), int64(len(b))
	case []byte:
		rd, contentLength = bytes.NewReader(b), int64(len(b))
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, contentLength = bytes.NewReader(j), int64(len(j))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if contentLength >= 0 {
		req.ContentLength = contentLength
	} else if rd != nil {
		req.ContentLength = -1 // chunked
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := apiHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func (r *response) String() string {
	body := string(r.Body)
	if len(body) > 600 {
		body = body[:600] + "…"
	}
	return fmt.Sprintf("%s %s → %d %s", r.Method, r.Path, r.Status, body)
}

func (r *response) want(t *testing.T, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s; want status %d", r, status)
	}
}

func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: decode: %v", r, err)
	}
}

// decodeStrict decodes and fails on fields v does not have.
func (r *response) decodeStrict(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: decode: %v", r, err)
	}
}

// apiErrorBody is the error envelope (docs/errors.md).
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkError asserts that r is the error envelope with status and code ("":
// any code), and that the message contains every one of mention (the field
// it names).
func checkError(t *testing.T, r *response, status int, code string, mention ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s; want %d %s", r, status, code)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", r, ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &top); err != nil || len(top) != 1 || top["error"] == nil {
		t.Errorf("%s: not an error envelope {\"error\":{…}}", r)
		return
	}
	var inner map[string]any
	if err := json.Unmarshal(top["error"], &inner); err != nil || len(inner) != 2 {
		t.Errorf("%s: error object must hold exactly code and message", r)
		return
	}
	var e apiErrorBody
	r.decodeStrict(t, &e)
	if e.Error.Code == "" || (code != "" && e.Error.Code != code) {
		t.Errorf("%s: code %q, want %q", r, e.Error.Code, code)
	}
	if strings.TrimSpace(e.Error.Message) == "" {
		t.Errorf("%s: empty message", r)
	}
	for _, m := range mention {
		if !strings.Contains(e.Error.Message, m) {
			t.Errorf("%s: message %q does not name %q", r, e.Error.Message, m)
		}
	}
}

// ---------------------------------------------------------------------------
// The loopback receiver.

// reply is what a receiver answers to one request.
type reply struct {
	Status int           // 0: 200
	Delay  time.Duration // wait before answering
	// Hang blocks until herald gives up on the request (closes the
	// connection) or the test ends.
	Hang   bool
	Header map[string]string
	Body   string
}

// received is one request a receiver got.
type received struct {
	N      int // 1-based arrival order on this receiver
	Method string
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time // when the request arrived (before its body was read)
	Remote string    // the sender's address, ip:port
}

// receiver is an httptest.Server on 127.0.0.1 that records every request
// and answers as its policy says.
type receiver struct {
	srv     *httptest.Server
	policy  func(r received) reply
	closing chan struct{}
	arrived chan struct{}

	mu   sync.Mutex
	reqs []received
}

// newReceiver starts a receiver; policy nil answers 200 to everything. It is
// closed when the test ends, after releasing any hanging request.
func newReceiver(t *testing.T, policy func(r received) reply) *receiver {
	t.Helper()
	if policy == nil {
		policy = func(received) reply { return reply{} }
	}
	rc := &receiver{policy: policy, closing: make(chan struct{}), arrived: make(chan struct{}, 1)}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.srv.Config.ErrorLog = nil
	rc.srv.Start()
	if u, _ := url.Parse(rc.srv.URL); u.Hostname() != "127.0.0.1" {
		rc.srv.Close()
		t.Fatalf("receiver listens on %s; these tests need 127.0.0.1", rc.srv.URL)
	}
	t.Cleanup(rc.close)
	return rc
}

func (rc *receiver) close() {
	select {
	case <-rc.closing:
	default:
		close(rc.closing)
	}
	rc.srv.Close()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rec := received{N: len(rc.reqs) + 1, Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: at, Remote: r.RemoteAddr}
	rc.reqs = append(rc.reqs, rec)
	rc.mu.Unlock()
	select {
	case rc.arrived <- struct{}{}:
	default:
	}
	rp := rc.policy(rec)
	if rp.Hang {
		select {
		case <-r.Context().Done():
		case <-rc.closing:
		}
		return
	}
	if rp.Delay > 0 {
		select {
		case <-time.After(rp.Delay):
		case <-rc.closing:
		}
	}
	for k, v := range rp.Header {
		w.Header().Set(k, v)
	}
	if rp.Status == 0 {
		rp.Status = http.StatusOK
	}
	w.WriteHeader(rp.Status)
	io.WriteString(w, rp.Body)
}

// URL is the receiver's URL for path (which starts with "/").
func (rc *receiver) URL(path string) string { return rc.srv.URL + path }

// Requests returns a copy of what arrived so far.
func (rc *receiver) Requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

func (rc *receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// For returns the requests of one delivery, in arrival order.
func (rc *receiver) For(deliveryID string) []received {
	var out []received
	for _, r := range rc.Requests() {
		if r.Header.Get("X-Herald-Delivery-Id") == deliveryID {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls until match holds over the requests received (bounded).
func (rc *receiver) waitFor(t *testing.T, what string, match func([]received) bool) []received {
	t.Helper()
	var reqs []received
	waitFor(t, stateTimeout, what, func() (bool, string) {
		reqs = rc.Requests()
		return match(reqs), fmt.Sprintf("%d requests received", len(reqs))
	})
	return reqs
}

// waitDeliveryRequests waits until n requests of a delivery have arrived.
func (rc *receiver) waitDeliveryRequests(t *testing.T, deliveryID string, n int) []received {
	t.Helper()
	rc.waitFor(t, fmt.Sprintf("%d requests of delivery %s", n, deliveryID), func([]received) bool {
		return len(rc.For(deliveryID)) >= n
	})
	return rc.For(deliveryID)
}

// statusSequence answers codes[i] to the i-th request, the last code after that.
func statusSequence(codes ...int) func(received) reply {
	return func(r received) reply {
		i := min(r.N-1, len(codes)-1)
		return reply{Status: codes[i], Body: fmt.Sprintf("answer %d", r.N)}
	}
}

// ---------------------------------------------------------------------------
// Polling.

// waitFor polls cond every 20 ms until it holds, or fails the test after
// timeout with cond's last description of what it saw.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Signatures, computed independently of herald's nango package.

func hmacHex(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func legacyHex(key string, body []byte) string {
	s := sha256.Sum256(append([]byte(key), body...))
	return hex.EncodeToString(s[:])
}

// standardSig is a Standard Webhooks v1 entry computed from the whsec_ form
// of the key, as a Standard Webhooks library would.
func standardSig(key, id string, ts int64, body []byte) string {
	whsec := "whsec_" + base64.StdEncoding.EncodeToString([]byte(key))
	secret, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ---------------------------------------------------------------------------
// Test vectors.

// vectorsDir holds the signature test vectors, which package nango's
// tests share with these.
func vectorsDir() string {
	return filepath.Join("..", "nango", "testdata")
}

type signatureVector struct {
	Name       string `json:"name"`
	Key        string `json:"key"`
	Body       string `json:"body"`
	HMAC       string `json:"x_nango_hmac_sha256"`
	Legacy     string `json:"x_nango_signature"`
	SigningKey string `json:"signing_key"`
	Whsec      string `json:"whsec_secret"`
	WebhookID  string `json:"webhook_id"`
	Timestamp  int64  `json:"webhook_timestamp"`
	Signature  string `json:"webhook_signature"`
}

// loadVectors reads vectors/<file>; a missing file fails the test.
func loadVectors(t *testing.T, file string) []signatureVector {
	t.Helper()
	path := filepath.Join(vectorsDir(), file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("test vectors: %v", err)
	}
	var v struct {
		Cases []signatureVector `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("test vectors %s: %v", path, err)
	}
	if len(v.Cases) == 0 {
		t.Fatalf("test vectors %s: no cases", path)
	}
	return v.Cases
}

// ---------------------------------------------------------------------------
// Small helpers.

// syncBuffer is a goroutine-safe bytes.Buffer for a child's stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n lines.
func (b *syncBuffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// parseTime reads an API timestamp.
func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("timestamp %q: %v", s, err)
	}
	return ts
}
