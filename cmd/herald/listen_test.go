package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/nango"
)

// listenWait bounds every poll on a listener's output: a hang detector,
// not a speed assertion.
const listenWait = 10 * time.Second

// listenBuffer is a goroutine-safe bytes.Buffer for the listener's output.
type listenBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *listenBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *listenBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// listenRun is one in-process run of herald listen.
type listenRun struct {
	URL    string // http://127.0.0.1:PORT
	out    *listenBuffer
	errOut *listenBuffer
	cancel context.CancelFunc
	done   chan int // receives the exit status
}

// startListen runs herald listen with args in this process, as if stdout
// were a terminal when terminal is true, and waits (bounded) for the
// address it prints. When the test ends it is stopped as by SIGINT, and
// must exit 0.
func startListen(t *testing.T, env map[string]string, terminal bool, args ...string) *listenRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listenRun{out: &listenBuffer{}, errOut: &listenBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		l.done <- runListen(ctx, args, func(k string) string { return env[k] }, l.out, l.errOut, terminal)
	}()
	re := regexp.MustCompile(`^listening on (http://127\.0\.0\.1:\d+) — point a webhook URL at it\n`)
	deadline := time.Now().Add(listenWait)
	for l.URL == "" {
		if m := re.FindStringSubmatch(l.out.String()); m != nil {
			l.URL = m[1]
			break
		}
		select {
		case code := <-l.done:
			t.Fatalf("herald listen %v exited %d before listening; stderr: %s", args, code, l.errOut)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("herald listen %v printed no address within %s; stdout: %q", args, listenWait, l.out)
		}
	}
	t.Cleanup(func() {
		if code := l.stop(t); code != 0 {
			t.Errorf("herald listen exited %d after SIGINT, want 0; stderr: %s", code, l.errOut)
		}
	})
	return l
}

// stop ends the run as SIGINT does and returns its exit status (bounded).
func (l *listenRun) stop(t *testing.T) int {
	t.Helper()
	l.cancel()
	select {
	case code := <-l.done:
		l.done <- code // later calls see it too
		return code
	case <-time.After(listenWait):
		t.Fatalf("herald listen did not exit within %s of SIGINT", listenWait)
		return -1
	}
}

// send makes one request to the listener and returns the answer and the
// block the listener printed for it. path must be unique in the run.
func (l *listenRun) send(t *testing.T, method, path string, body []byte, header http.Header) (*http.Response, []byte, string) {
	t.Helper()
	req, err := http.NewRequest(method, l.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, answer, l.block(t, method+" "+path+"  ")
}

// block waits (bounded) until the output holds a whole block whose first
// line contains marker, and returns that block.
func (l *listenRun) block(t *testing.T, marker string) string {
	t.Helper()
	deadline := time.Now().Add(listenWait)
	for {
		out := l.out.String()
		if i := strings.Index(out, marker); i >= 0 {
			start := strings.LastIndex(out[:i], "\n") + 1
			if end := strings.Index(out[i:], "\n\n"); end >= 0 {
				return out[start : i+end+1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no block for %q printed within %s; output:\n%s", marker, listenWait, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// signed returns the headers herald sends for body under key, all three
// signatures included, the Standard Webhooks one stamped at ts.
func signed(key string, body []byte, ts time.Time) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(nango.HeaderHMAC, nango.SignHMAC(key, body))
	h.Set(nango.HeaderLegacySignature, nango.SignLegacy(key, body))
	h.Set(nango.HeaderStandardID, "evt-1")
	h.Set(nango.HeaderStandardTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(nango.HeaderStandardSignature, nango.SignStandard(key, "evt-1", ts.Unix(), body))
	h.Set("X-Herald-Event-Id", "evt-1")
	h.Set("X-Herald-Delivery-Id", "dlv-1")
	h.Set("X-Herald-Attempt", "2")
	return h
}

// rowRe matches one "label   value" row of a block.
func rowRe(label, value string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + ` +` + regexp.QuoteMeta(value))
}

const (
	syncBody    = `{"connectionId":"c1","from":"nango","model":"Issue","providerConfigKey":"github","responseResults":{"added":3,"deleted":0,"updated":1},"success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`
	authBody    = `{"authMode":"OAUTH2","connectionId":"c2","environment":"dev","from":"nango","operation":"creation","provider":"github","providerConfigKey":"gh","success":true,"type":"auth"}`
	asyncBody   = `{"connectionId":"c3","from":"nango","payload":{"id":"act-9","statusUrl":"/action/act-9"},"providerConfigKey":"crm","type":"async_action"}`
	forwardBody = `{"connectionId":"c4","from":"hubspot","payload":{"n":1},"providerConfigKey":"hs","type":"forward"}`
)

func TestListenVerifies(t *testing.T) {
	t.Parallel()
	const key = "sk-listen-test"
	l := startListen(t, nil, false, "--port", "0", "--key", key)
	now := time.Now()
	two := signed(key, []byte(syncBody), now)
	two.Set(nango.HeaderStandardSignature, nango.SignStandard("old-key", "evt-1", now.Unix(), []byte(syncBody))+" "+two.Get(nango.HeaderStandardSignature))
	notHex := signed(key, []byte(syncBody), now)
	notHex.Set(nango.HeaderHMAC, "zz")
	tests := []struct {
		name   string
		body   string
		header http.Header
		want   map[string]string // row label → value prefix
		shows  []string          // in the block
	}{
		{name: "signed", body: syncBody, header: signed(key, []byte(syncBody), now),
			want: map[string]string{"type": "sync  syncName=issues model=Issue success=true", "connectionId": "c1", "providerConfigKey": "github",
				"X-Herald-Event-Id": "evt-1", "X-Herald-Delivery-Id": "dlv-1", "X-Herald-Attempt": "2",
				"X-Nango-Hmac-Sha256": "verified", "X-Nango-Signature": "verified", "Standard Webhooks": "verified"},
			shows: []string{"  {\n", `    "syncName": "issues",`, `      "added": 3,`}},
		{name: "unsigned", body: syncBody, header: http.Header{},
			want: map[string]string{"X-Nango-Hmac-Sha256": "not sent", "X-Nango-Signature": "not sent", "Standard Webhooks": "not sent",
				"X-Herald-Event-Id": "-", "X-Herald-Attempt": "-"}},
		{name: "tampered", body: strings.Replace(syncBody, `"added":3`, `"added":4`, 1), header: signed(key, []byte(syncBody), now),
			want: map[string]string{"X-Nango-Hmac-Sha256": "INVALID", "X-Nango-Signature": "INVALID", "Standard Webhooks": "INVALID (no v1 signature matches"}},
		{name: "other key", body: syncBody, header: signed("another-key", []byte(syncBody), now),
			want: map[string]string{"X-Nango-Hmac-Sha256": "INVALID", "X-Nango-Signature": "INVALID", "Standard Webhooks": "INVALID"}},
		{name: "standard too old", body: syncBody, header: signed(key, []byte(syncBody), now.Add(-10*time.Minute)),
			want:  map[string]string{"X-Nango-Hmac-Sha256": "verified", "Standard Webhooks": "INVALID (webhook-timestamp is "},
			shows: []string{" old, over the 5-minute tolerance)\n"}},
		{name: "standard too new", body: syncBody, header: signed(key, []byte(syncBody), now.Add(10*time.Minute)),
			want:  map[string]string{"Standard Webhooks": "INVALID (webhook-timestamp is "},
			shows: []string{" ahead, over the 5-minute tolerance)\n"}},
		{name: "rotation", body: syncBody, header: two, want: map[string]string{"Standard Webhooks": "verified"}},
		{name: "not hex", body: syncBody, header: notHex, want: map[string]string{"X-Nango-Hmac-Sha256": "INVALID", "X-Nango-Signature": "verified"}},
		{name: "auth", body: authBody, header: signed(key, []byte(authBody), now),
			want: map[string]string{"type": "auth  operation=creation success=true", "connectionId": "c2", "providerConfigKey": "gh", "X-Nango-Hmac-Sha256": "verified"}},
		{name: "async action", body: asyncBody, header: http.Header{},
			want: map[string]string{"type": "async_action  id=act-9", "connectionId": "c3"}},
		{name: "forward", body: forwardBody, header: http.Header{},
			want: map[string]string{"type": "forward  provider=hubspot", "providerConfigKey": "hs"}},
		{name: "operations event", body: `{"type":"endpoint.disabled","url":"http://x"}`, header: http.Header{},
			want: map[string]string{"type": "endpoint.disabled", "connectionId": "-"}},
		{name: "not json", body: "hello\nworld", header: signed(key, []byte("hello\nworld"), now),
			want:  map[string]string{"type": "- (the body is not a JSON object)", "X-Nango-Hmac-Sha256": "verified"},
			shows: []string{"  hello\n  world\n"}},
		{name: "empty", body: "", header: http.Header{}, want: map[string]string{"type": "- (the body is not a JSON object)"}, shows: []string{"  (empty body)\n"}},
		{name: "escape sequences", body: "a\x1b[31mred\x9b", header: http.Header{}, shows: []string{`a\x1b[31mred\x9b`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/case/" + strconv.Itoa(i)
			resp, _, block := l.send(t, http.MethodPost, path, []byte(tt.body), tt.header)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  POST ` + path + `  → 200\n`).MatchString(block) {
				t.Errorf("first line of the block is not time, method, path and answer:\n%s", block)
			}
			for label, value := range tt.want {
				if !rowRe(label, value).MatchString(block) {
					t.Errorf("no row %q starting %q in:\n%s", label, value, block)
				}
			}
			for _, s := range tt.shows {
				if !strings.Contains(block, s) {
					t.Errorf("the block does not show %q:\n%s", s, block)
				}
			}
			if strings.Contains(block, "\x1b") || strings.Contains(block, "\x9b") || strings.Contains(block, "\u009b") {
				t.Errorf("block holds raw control characters:\n%q", block)
			}
		})
	}
}

func TestListenKeySources(t *testing.T) {
	t.Parallel()
	body := []byte(syncBody)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "no key", want: "not checked (no --key)"},
		{name: "key from env", env: map[string]string{"HERALD_SIGNING_KEY": "k-env"}, want: "verified"},
		{name: "flag wins over env", env: map[string]string{"HERALD_SIGNING_KEY": "k-env"}, args: []string{"--key", "k-flag"}, want: "INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := startListen(t, tt.env, false, append([]string{"--port", "0"}, tt.args...)...)
			_, _, block := l.send(t, http.MethodPost, "/signed", body, signed("k-env", body, time.Now()))
			for _, label := range []string{"X-Nango-Hmac-Sha256", "X-Nango-Signature", "Standard Webhooks"} {
				if !rowRe(label, tt.want).MatchString(block) {
					t.Errorf("%s is not %q in:\n%s", label, tt.want, block)
				}
			}
			_, _, block = l.send(t, http.MethodPost, "/unsigned", body, nil)
			if !rowRe("X-Nango-Hmac-Sha256", "not sent").MatchString(block) {
				t.Errorf("unsigned request: X-Nango-Hmac-Sha256 is not \"not sent\" in:\n%s", block)
			}
		})
	}
}

func TestListenColour(t *testing.T) {
	t.Parallel()
	const key = "k-colour"
	body := []byte(syncBody)
	tests := []struct {
		name     string
		terminal bool
		noColor  string
		want     bool
	}{
		{name: "terminal", terminal: true, want: true},
		{name: "terminal with NO_COLOR", terminal: true, noColor: "1"},
		{name: "not a terminal", terminal: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := startListen(t, map[string]string{"NO_COLOR": tt.noColor}, tt.terminal, "--port", "0", "--key", key)
			h := signed(key, body, time.Now())
			h.Set(nango.HeaderLegacySignature, strings.Repeat("0", 64))
			_, _, block := l.send(t, http.MethodPost, "/c", body, h)
			green := strings.Contains(block, "\x1b[32mverified\x1b[0m")
			red := strings.Contains(block, "\x1b[31mINVALID\x1b[0m")
			if green != tt.want || red != tt.want {
				t.Errorf("green verified %v, red INVALID %v; want %v:\n%q", green, red, tt.want, block)
			}
			if !tt.want && strings.Contains(l.out.String(), "\x1b[") {
				t.Errorf("escape sequences without colour:\n%q", l.out.String())
			}
		})
	}
}

func TestListenStatus(t *testing.T) {
	t.Parallel()
	l := startListen(t, nil, false, "--port", "0", "--status", "503")
	if !strings.Contains(l.out.String(), "answering 503 Service Unavailable to every request") {
		t.Errorf("the banner does not name the status:\n%s", l.out)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodGet} {
		resp, _, block := l.send(t, method, "/s-"+method, []byte(syncBody), nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", method, resp.StatusCode)
		}
		if !strings.Contains(block, method+" /s-"+method+"  → 503\n") {
			t.Errorf("%s: the block does not show the answer 503:\n%s", method, block)
		}
	}
}

func TestListenBodyTooLarge(t *testing.T) {
	t.Parallel()
	l := startListen(t, nil, false, "--port", "0")
	resp, _, block := l.send(t, http.MethodPost, "/big", bytes.Repeat([]byte("x"), listenMaxBody+1), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	if !strings.Contains(block, "→ 413") || !strings.Contains(block, "larger than 16 MiB") {
		t.Errorf("block:\n%s", block)
	}
	// Still serving.
	if resp, _, _ := l.send(t, http.MethodPost, "/after", []byte("{}"), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after a too-large body: status %d, want 200", resp.StatusCode)
	}
}

func TestListenForward(t *testing.T) {
	t.Parallel()
	const key = "k-forward"
	type got struct {
		method, uri string
		header      http.Header
		body        []byte
	}
	var mu sync.Mutex
	var reqs []got
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, got{r.Method, r.URL.RequestURI(), r.Header.Clone(), b})
		mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.Header().Set("X-App", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(app.Close)
	last := func() got {
		mu.Lock()
		defer mu.Unlock()
		if len(reqs) == 0 {
			t.Fatal("the app received nothing")
		}
		return reqs[len(reqs)-1]
	}
	body := []byte(syncBody)

	t.Run("keeps the path", func(t *testing.T) {
		l := startListen(t, nil, false, "--port", "0", "--key", key, "--forward-to", app.URL)
		h := signed(key, body, time.Now())
		resp, answer, block := l.send(t, http.MethodPost, "/webhooks/nango?x=1", body, h)
		if resp.StatusCode != http.StatusCreated || string(answer) != `{"ok":true}` || resp.Header.Get("X-App") != "yes" {
			t.Errorf("answer %d %q X-App %q, want the app's 201 {\"ok\":true} yes", resp.StatusCode, answer, resp.Header.Get("X-App"))
		}
		g := last()
		if g.method != http.MethodPost || g.uri != "/webhooks/nango?x=1" || !bytes.Equal(g.body, body) {
			t.Errorf("the app got %s %s %q", g.method, g.uri, g.body)
		}
		for _, name := range []string{nango.HeaderHMAC, nango.HeaderLegacySignature, nango.HeaderStandardSignature, "X-Herald-Delivery-Id", "Content-Type"} {
			if g.header.Get(name) != h.Get(name) {
				t.Errorf("the app got %s %q, want %q", name, g.header.Get(name), h.Get(name))
			}
		}
		if !strings.Contains(block, "POST /webhooks/nango?x=1  → 201 (app answered 201 in ") || !rowRe("X-Nango-Hmac-Sha256", "verified").MatchString(block) {
			t.Errorf("block:\n%s", block)
		}
	})
	t.Run("fixed path", func(t *testing.T) {
		l := startListen(t, nil, false, "--port", "0", "--forward-to", app.URL+"/hooks/nango")
		resp, _, _ := l.send(t, http.MethodPut, "/anything", body, nil)
		if g := last(); resp.StatusCode != http.StatusCreated || g.uri != "/hooks/nango" || g.method != http.MethodPut {
			t.Errorf("answer %d; the app got %s %s, want PUT /hooks/nango", resp.StatusCode, g.method, g.uri)
		}
	})
	t.Run("redirect passed back", func(t *testing.T) {
		l := startListen(t, nil, false, "--port", "0", "--forward-to", app.URL)
		req, _ := http.NewRequest(http.MethodPost, l.URL+"/redirect", bytes.NewReader(body))
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
			t.Errorf("answer %d Location %q, want the app's 302 /elsewhere", resp.StatusCode, resp.Header.Get("Location"))
		}
		l.block(t, "POST /redirect  → 302")
	})
	t.Run("app down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		downURL := down.URL
		down.Close()
		l := startListen(t, nil, false, "--port", "0", "--forward-to", downURL)
		resp, _, block := l.send(t, http.MethodPost, "/down", body, nil)
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("status %d, want 502", resp.StatusCode)
		}
		if !strings.Contains(block, "POST /down  → 502 (app: ") {
			t.Errorf("block:\n%s", block)
		}
	})
}

func TestListenExitCodes(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStderr string
		wantStdout string
	}{
		{name: "help", args: []string{"--help"}, code: 0, wantStdout: "examples:\n  herald listen --key"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, wantStderr: "flag provided but not defined: -nope"},
		{name: "stray argument", args: []string{"now"}, code: 2, wantStderr: `unexpected argument "now"`},
		{name: "port not a number", args: []string{"--port", "x"}, code: 2, wantStderr: "-port"},
		{name: "port negative", args: []string{"--port", "-1"}, code: 2, wantStderr: "--port -1 is outside 0–65535"},
		{name: "port too big", args: []string{"--port", "65536"}, code: 2, wantStderr: "--port 65536"},
		{name: "status too small", args: []string{"--status", "199"}, code: 2, wantStderr: "--status 199 is outside 200–599"},
		{name: "status too big", args: []string{"--status", "600"}, code: 2, wantStderr: "--status 600"},
		{name: "forward not http", args: []string{"--forward-to", "ftp://127.0.0.1/x"}, code: 2, wantStderr: "--forward-to"},
		{name: "forward no host", args: []string{"--forward-to", "localhost:3000"}, code: 2, wantStderr: "--forward-to"},
		{name: "status and forward", args: []string{"--status", "500", "--forward-to", "http://127.0.0.1:1"}, code: 2, wantStderr: "exclusive"},
		{name: "port in use", args: []string{"--port", busyPort}, code: 1, wantStderr: "port " + busyPort + " is in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr listenBuffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() { done <- runListen(ctx, tt.args, func(string) string { return "" }, &stdout, &stderr, false) }()
			select {
			case code := <-done:
				if code != tt.code {
					t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
				}
			case <-time.After(listenWait):
				t.Fatalf("herald listen %v still running after %s; want exit %d", tt.args, listenWait, tt.code)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.wantStderr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not hold %q", stdout.String(), tt.wantStdout)
			}
			if tt.code == 2 && !strings.Contains(stderr.String(), "herald listen --help") {
				t.Errorf("stderr %q does not point at --help", stderr.String())
			}
			if tt.code != 0 && strings.Contains(stdout.String(), "listening on") {
				t.Errorf("printed an address although it did not listen: %q", stdout.String())
			}
		})
	}
}

func TestListenConcurrentBlocksWhole(t *testing.T) {
	t.Parallel()
	l := startListen(t, nil, false, "--port", "0")
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := http.Post(l.URL+"/p/"+strconv.Itoa(i), "application/json", strings.NewReader(syncBody))
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for i := range n {
		block := l.block(t, "POST /p/"+strconv.Itoa(i)+"  ")
		if strings.Count(block, "  type ") != 1 || !strings.HasSuffix(block, "  }\n") {
			t.Errorf("block %d is interleaved with another:\n%s", i, block)
		}
	}
}
