package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald"
)

// All network activity in these tests goes to httptest servers on 127.0.0.1.
// Refusals are proven with a fake resolver and a dial hook that records
// calls; no private or public address is ever dialled.

// dialRecorder wraps (or replaces) Client.dial and records every address.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) record(addr string) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
}

func (d *dialRecorder) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// forbidDial installs a dial hook that records the call and never connects.
func forbidDial(c *Client) *dialRecorder {
	d := &dialRecorder{}
	c.dial = func(_ context.Context, _, addr string) (net.Conn, error) {
		d.record(addr)
		return nil, errors.New("test: dial refused by hook")
	}
	return d
}

// loopbackOnlyDial installs a dial hook that records the call and connects
// only to loopback addresses.
func loopbackOnlyDial(t *testing.T, c *Client) *dialRecorder {
	d := &dialRecorder{}
	var nd net.Dialer
	c.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.record(addr)
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("test tried to dial non-loopback %q", addr)
			return nil, errors.New("test: non-loopback dial")
		}
		return nd.DialContext(ctx, network, addr)
	}
	return d
}

func port(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func get(t *testing.T, c *Client, rawURL string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

func drain(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

func TestNewDefaults(t *testing.T) {
	c := New(Options{})
	if c.transport.Proxy != nil {
		t.Error("Transport.Proxy must be nil")
	}
	if c.transport.MaxIdleConnsPerHost != 64 {
		t.Errorf("MaxIdleConnsPerHost = %d, want 64", c.transport.MaxIdleConnsPerHost)
	}
	if c.resolver != net.DefaultResolver {
		t.Error("nil Resolver should default to net.DefaultResolver")
	}
	if c.client.CheckRedirect == nil {
		t.Error("CheckRedirect must be set")
	}
	c2 := New(Options{MaxIdleConnsPerHost: 7})
	if c2.transport.MaxIdleConnsPerHost != 7 {
		t.Errorf("MaxIdleConnsPerHost = %d, want 7", c2.transport.MaxIdleConnsPerHost)
	}
}

func TestDNSPinning(t *testing.T) {
	var hosts sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host, true)
		io.WriteString(w, "ok")
	}))
	var newConns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	r := &fakeResolver{hosts: map[string][]string{"hook.test": {"127.0.0.1"}}}
	c := New(Options{AllowPrivate: true, Resolver: r})
	defer c.CloseIdleConnections()
	d := loopbackOnlyDial(t, c)

	target := "http://hook.test:" + port(t, srv) + "/"
	for i := range 3 {
		resp, err := get(t, c, target)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if body := drain(resp); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if got := r.calls.Load(); got != 1 {
		t.Errorf("resolver called %d times for 3 requests on one kept-alive connection, want 1", got)
	}
	if got := newConns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1 (keep-alive)", got)
	}
	wantAddr := "127.0.0.1:" + port(t, srv)
	if got := d.calls(); len(got) != 1 || got[0] != wantAddr {
		t.Errorf("dialled %v, want exactly [%s] (the literal resolved IP)", got, wantAddr)
	}
	if _, ok := hosts.Load("hook.test:" + port(t, srv)); !ok {
		var seen []any
		hosts.Range(func(k, _ any) bool { seen = append(seen, k); return true })
		t.Errorf("Host header = %v, want hook.test:%s", seen, port(t, srv))
	}

	// A new connection means exactly one new lookup.
	c.CloseIdleConnections()
	resp, err := get(t, c, target)
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if got := r.calls.Load(); got != 2 {
		t.Errorf("resolver called %d times after a second connection, want 2", got)
	}
	if got := newConns.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	loopbackOnlyDial(t, c)
	resp, err := get(t, c, srv.URL+"/start")
	if err != nil {
		t.Fatal(err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status = %d, want 302", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/elsewhere" {
		t.Errorf("Location = %q, want /elsewhere", loc)
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("redirect target was requested %d times, want 0", n)
	}
}

func TestBlockedLoopbackLiteral(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()

	r := newFakeResolver()
	c := New(Options{Resolver: r}) // AllowPrivate false
	d := forbidDial(c)
	resp, err := get(t, c, srv.URL+"/")
	if err == nil {
		drain(resp)
		t.Fatal("request to 127.0.0.1 succeeded with AllowPrivate=false")
	}
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *BlockedError", err)
	}
	if be.IP != netip.MustParseAddr("127.0.0.1") || !strings.Contains(be.Reason, "loopback") {
		t.Errorf("BlockedError = %+v", be)
	}
	if n := len(d.calls()); n != 0 {
		t.Errorf("dialer called %d times, want 0", n)
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("resolver called %d times for an IP literal, want 0", n)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server received %d requests, want 0", n)
	}
}

func TestBlockedResolvedNames(t *testing.T) {
	r := &fakeResolver{hosts: map[string][]string{
		"private.test":  {"10.0.0.5"},
		"metadata.test": {"169.254.169.254"},
		"local.test":    {"127.0.0.1", "::1"},
		"allbad.test":   {"10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1", "fd00:ec2::254"},
		"rebind.test":   {"64:ff9b::a9fe:a9fe"},
	}}
	c := New(Options{Resolver: r})
	d := forbidDial(c)
	for host, want := range map[string]string{
		"private.test":  "private address",
		"metadata.test": "cloud metadata address",
		"local.test":    "loopback address",
		"allbad.test":   "private address",
		"rebind.test":   "NAT64 address embedding cloud metadata address",
	} {
		t.Run(host, func(t *testing.T) {
			resp, err := get(t, c, "http://"+host+"/hook")
			if err == nil {
				drain(resp)
				t.Fatal("request succeeded")
			}
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *BlockedError", err)
			}
			if be.Host != host || be.Reason != want {
				t.Errorf("BlockedError = %+v, want host %s reason %q", be, host, want)
			}
		})
	}
	if n := len(d.calls()); n != 0 {
		t.Errorf("dialer called %d times (%v), want 0", n, d.calls())
	}
}

// TestMixedAddressesDialOnlyAllowed checks that blocked addresses are dropped
// and the rest are dialled in order as literals. The dial hook never
// connects, so the public addresses are not actually contacted.
func TestMixedAddressesDialOnlyAllowed(t *testing.T) {
	r := &fakeResolver{hosts: map[string][]string{
		"mixed.test": {"127.0.0.1", "93.184.216.34", "10.0.0.5", "2606:4700:4700::1111"},
	}}
	c := New(Options{Resolver: r})
	d := forbidDial(c)
	_, err := get(t, c, "http://mixed.test:8080/")
	if err == nil || !strings.Contains(err.Error(), "dial refused by hook") {
		t.Fatalf("err = %v, want the hook's dial error", err)
	}
	var be *BlockedError
	if errors.As(err, &be) {
		t.Errorf("got *BlockedError %v although allowed addresses exist", be)
	}
	want := []string{"93.184.216.34:8080", "[2606:4700:4700::1111]:8080"}
	got := d.calls()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("dialled %v, want %v", got, want)
	}
	if n := r.calls.Load(); n != 1 {
		t.Errorf("resolver called %d times, want 1", n)
	}
}

func TestDialResolutionFailure(t *testing.T) {
	r := &fakeResolver{hosts: map[string][]string{"empty.test": {}}}
	c := New(Options{Resolver: r})
	d := forbidDial(c)
	for _, host := range []string{"nope.test", "empty.test"} {
		_, err := get(t, c, "http://"+host+"/")
		if err == nil || !strings.Contains(err.Error(), "does not resolve") {
			t.Errorf("%s: err = %v, want 'does not resolve'", host, err)
		}
	}
	if n := len(d.calls()); n != 0 {
		t.Errorf("dialer called %d times, want 0", n)
	}
}

func TestDoRejectsInvalidURL(t *testing.T) {
	r := newFakeResolver()
	c := New(Options{AllowPrivate: true, Resolver: r})
	d := forbidDial(c)
	for _, raw := range []string{
		"ftp://public.test/",
		"https://user:pass@public.test/",
		"http://2130706433/",
		"https://public.test/" + strings.Repeat("x", herald.MaxURLLength),
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		req := (&http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}}).WithContext(t.Context())
		if _, err := c.Do(req); err == nil || !strings.HasPrefix(err.Error(), "egress: ") {
			t.Errorf("Do(%.40q) = %v, want an egress validation error", raw, err)
		}
	}
	if _, err := c.Do(nil); err == nil {
		t.Error("Do(nil) succeeded")
	}
	if n := len(d.calls()) + int(r.calls.Load()); n != 0 {
		t.Errorf("resolver/dialer used %d times, want 0", n)
	}
}

func TestRequestContextTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release) // runs before srv.Close, unblocking the handler

	c := New(Options{AllowPrivate: true})
	defer c.CloseIdleConnections()
	loopbackOnlyDial(t, c)

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/hang", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := c.Do(req)
	elapsed := time.Since(start)
	if err == nil {
		drain(resp)
		t.Fatal("request against a hanging handler succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("request took %v, want about 200ms", elapsed)
	}
}

func TestConcurrentUse(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	r := &fakeResolver{hosts: map[string][]string{"hook.test": {"127.0.0.1"}}}
	c := New(Options{AllowPrivate: true, Resolver: r, MaxIdleConnsPerHost: 16})
	defer c.CloseIdleConnections()
	loopbackOnlyDial(t, c)
	blocked := New(Options{Resolver: r})
	bd := forbidDial(blocked)

	const workers, perWorker = 64, 10
	target := "http://hook.test:" + port(t, srv) + "/"
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader("payload"))
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				drain(resp)
				if resp.StatusCode != http.StatusNoContent {
					t.Errorf("status %d", resp.StatusCode)
				}
				if _, err := get(t, blocked, target); err == nil {
					t.Error("blocked client succeeded")
				}
			}
		})
	}
	wg.Wait()
	if n := served.Load(); n != workers*perWorker {
		t.Errorf("served %d, want %d", n, workers*perWorker)
	}
	if n := len(bd.calls()); n != 0 {
		t.Errorf("blocked client dialled %d times", n)
	}
}

// TestControlBlocked exercises the socket-level re-check without dialling.
func TestControlBlocked(t *testing.T) {
	var be *BlockedError
	if err := controlBlocked(context.Background(), "tcp4", "10.0.0.5:80", nil); !errors.As(err, &be) {
		t.Errorf("controlBlocked(10.0.0.5) = %v, want *BlockedError", err)
	}
	if err := controlBlocked(context.Background(), "tcp6", "[::ffff:169.254.169.254]:80", nil); !errors.As(err, &be) {
		t.Errorf("controlBlocked(mapped metadata) = %v, want *BlockedError", err)
	}
	if err := controlBlocked(context.Background(), "tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("controlBlocked(8.8.8.8) = %v, want nil", err)
	}
	if err := controlBlocked(context.Background(), "tcp", "bogus", nil); err == nil {
		t.Error("controlBlocked(bogus) = nil, want error")
	}
}
