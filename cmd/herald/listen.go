package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/nango"
)

// Limits of herald listen.
const (
	// listenMaxBody bounds the request body read into memory: above it the
	// request is answered 413 unread. One event of a POST /events/batch
	// may approach the batch's 8 MiB, so this leaves room.
	listenMaxBody = 16 << 20
	// listenForwardTimeout bounds one request to the --forward-to app;
	// herald's own per-attempt timeout is at most 60 s.
	listenForwardTimeout = 60 * time.Second
	// listenShutdownGrace is how long requests in flight may finish after
	// SIGINT or SIGTERM.
	listenShutdownGrace = 5 * time.Second
)

const listenUsage = `usage: herald listen [--port N] [--key KEY] [--status CODE] [--forward-to URL]

Receives webhooks on 127.0.0.1 and prints each one as it arrives: its time,
method and path, webhook type, connection, herald's ids and attempt number,
whether each signature verifies against --key, and the body, indented. A
stand-in for your app's webhook endpoint while you develop, like
"stripe listen". It prints the address it listens on first.

flags:
  --port N          port on 127.0.0.1 to listen on (default 4000; 0 picks a free one)
  --key KEY         the environment's webhook_signing_key (GET /environment), to
                    verify X-Nango-Hmac-Sha256, X-Nango-Signature and the Standard
                    Webhooks headers (default: $HERALD_SIGNING_KEY; without a key
                    signatures are shown but not checked)
  --status CODE     status answered to every request, 200–599 (default 200)
  --forward-to URL  pass each request (method, headers, body) on to your app and
                    answer with the app's status, headers and body; a URL without
                    a path keeps the request's path and query

Exit status: 0 after SIGINT (Ctrl-C) or SIGTERM, 1 when it cannot listen (the
port is in use), 2 on bad flags.

examples:
  herald listen --key "$SIGNING_KEY"
  herald listen --port 0                  # a free port; the first line names it
  herald listen --status 503              # watch herald retry
  herald listen --key "$SIGNING_KEY" --forward-to http://localhost:3000/webhooks/nango

then point an environment at it (herald serve needs --dev or --allow-private-urls
to deliver to 127.0.0.1):
  curl -X PATCH localhost:8080/environment/webhook -H "Authorization: Bearer $KEY" \
    -d '{"primary_url":"http://127.0.0.1:4000/webhooks/nango"}'
`

// listenConfig is what the flags of herald listen ask for.
type listenConfig struct {
	Port      int
	Key       string
	Status    int
	ForwardTo *url.URL // nil: answer Status
}

// parseListenFlags reads herald listen's flags; --key falls back to
// HERALD_SIGNING_KEY. It returns flag.ErrHelp for --help, and prints
// nothing: the caller reports errors and prints the usage.
func parseListenFlags(args []string, getenv func(string) string) (listenConfig, error) {
	cfg := listenConfig{Port: 4000, Key: getenv("HERALD_SIGNING_KEY"), Status: http.StatusOK}
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&cfg.Port, "port", cfg.Port, "port on 127.0.0.1; 0 picks a free one")
	fs.StringVar(&cfg.Key, "key", cfg.Key, "webhook signing key (HERALD_SIGNING_KEY)")
	fs.IntVar(&cfg.Status, "status", cfg.Status, "status answered to every request")
	forward := fs.String("forward-to", "", "URL of the app to pass requests on to")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("--port %d is outside 0–65535", cfg.Port)
	}
	if cfg.Status < 200 || cfg.Status > 599 {
		return cfg, fmt.Errorf("--status %d is outside 200–599", cfg.Status)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["forward-to"] {
		if set["status"] {
			return cfg, errors.New("--status and --forward-to are exclusive: with --forward-to the app's status is answered")
		}
		u, err := url.Parse(*forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, fmt.Errorf("--forward-to %q is not an http:// or https:// URL with a host", *forward)
		}
		cfg.ForwardTo = u
	}
	return cfg, nil
}

// listenCmd runs herald listen on the process's standard streams and
// returns its exit status.
func listenCmd(ctx context.Context, args []string) int {
	return runListen(ctx, args, os.Getenv, os.Stdout, os.Stderr, isTerminal(os.Stdout))
}

// runListen runs herald listen until ctx ends and returns the exit status:
// 0 after ctx ends (SIGINT or SIGTERM), 1 when it cannot listen, 2 on bad
// flags (0 for --help, whose text goes to stdout). The first line on stdout
// names the address it listens on. Output is coloured when terminal is true
// (stdout is a terminal) and NO_COLOR is empty (https://no-color.org).
func runListen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, terminal bool) int {
	cfg, err := parseListenFlags(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(stdout, listenUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald listen: %v\nrun 'herald listen --help' for usage\n", err)
		return 2
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		hint := ""
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = fmt.Sprintf(" (port %d is in use: pick another with --port, or --port 0 for a free one)", cfg.Port)
		}
		fmt.Fprintf(stderr, "herald listen: cannot listen on %s: %v%s\n", addr, err, hint)
		return 1
	}
	l := &listener{cfg: cfg, out: stdout, color: terminal && getenv("NO_COLOR") == "", now: time.Now}
	if cfg.ForwardTo != nil {
		l.client = &http.Client{
			Timeout: listenForwardTimeout,
			// The app's redirect is the sender's to follow, or not: herald does not.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 8},
		}
	}
	fmt.Fprintf(stdout, "listening on http://%s — point a webhook URL at it\n", ln.Addr())
	switch {
	case cfg.Key == "":
		fmt.Fprintln(stdout, "signatures: not checked (no --key or HERALD_SIGNING_KEY)")
	default:
		fmt.Fprintln(stdout, "signatures: checked with the signing key given")
	}
	if cfg.ForwardTo != nil {
		fmt.Fprintf(stdout, "forwarding each request to %s and answering with the app's answer\n", cfg.ForwardTo.Redacted())
	} else {
		fmt.Fprintf(stdout, "answering %d %s to every request\n", cfg.Status, http.StatusText(cfg.Status))
	}
	fmt.Fprint(stdout, "Ctrl-C to stop\n\n")

	srv := &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(stderr, "herald listen: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintln(stderr, "herald listen:", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), listenShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // requests still in flight after the grace are cut
	}
	<-served
	fmt.Fprintln(stderr, "herald listen: stopped")
	return 0
}

// listener is herald listen's HTTP handler: it prints each request and
// answers it.
type listener struct {
	cfg    listenConfig
	out    io.Writer
	color  bool
	client *http.Client     // set with --forward-to
	now    func() time.Time // the clock of timestamps and Standard Webhooks checks

	mu sync.Mutex // one request's block is printed whole
}

// ServeHTTP reads the body (bounded), forwards it or picks the status,
// prints the request's block and then answers, so that the block is
// printed by the time the sender has its answer.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := l.now()
	var b strings.Builder
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, listenMaxBody))
	if err != nil {
		status := http.StatusBadRequest
		note := "body could not be read: " + err.Error()
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
			note = fmt.Sprintf("body larger than %d MiB: not read", listenMaxBody>>20)
		}
		l.requestLine(&b, at, r, fmt.Sprintf("→ %d", status))
		fmt.Fprintf(&b, "  %s\n\n", note)
		l.print(b.String())
		http.Error(w, note, status)
		return
	}

	// The answer first: with --forward-to it is the app's.
	status, answer := l.cfg.Status, "→ "+strconv.Itoa(l.cfg.Status)
	var appResp *http.Response
	var appBody []byte
	if l.client != nil {
		start := l.now()
		appResp, appBody, err = l.forward(r, body)
		took := l.now().Sub(start).Round(time.Millisecond)
		if err != nil {
			status = http.StatusBadGateway
			answer = fmt.Sprintf("→ %d (app: %s, after %s)", status, err, took)
		} else {
			status = appResp.StatusCode
			answer = fmt.Sprintf("→ %d (app answered %d in %s)", status, status, took)
		}
	}

	l.requestLine(&b, at, r, answer)
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&fields) != nil {
		fields = nil
	}
	field := func(name string) string {
		v, ok := fields[name]
		if !ok || v == nil {
			return "-"
		}
		return printable(fmt.Sprint(v), false)
	}
	header := func(name string) string {
		if v := r.Header.Get(name); v != "" {
			return printable(v, false)
		}
		return "-"
	}
	row := func(label, value string) { fmt.Fprintf(&b, "  %-21s %s\n", label, value) }
	row("type", webhookSummary(fields))
	row("connectionId", field("connectionId"))
	row("providerConfigKey", field("providerConfigKey"))
	row("X-Herald-Event-Id", header("X-Herald-Event-Id"))
	row("X-Herald-Delivery-Id", header("X-Herald-Delivery-Id"))
	row("X-Herald-Attempt", header("X-Herald-Attempt"))
	row(nango.HeaderHMAC, l.verdict(l.checkSignature(r, body, nango.HeaderHMAC, nango.VerifyHMAC, "the HMAC-SHA256 of this body")))
	row(nango.HeaderLegacySignature, l.verdict(l.checkSignature(r, body, nango.HeaderLegacySignature, nango.VerifyLegacy, "sha256(key ‖ body)")))
	row("Standard Webhooks", l.verdict(l.checkStandard(r, body, at)))
	b.WriteString(prettyBody(body))
	b.WriteString("\n")
	l.print(b.String())

	if appResp == nil {
		if status == http.StatusBadGateway {
			http.Error(w, "herald listen: the app at --forward-to did not answer", status)
			return
		}
		w.WriteHeader(status)
		return
	}
	for k, vs := range appResp.Header {
		if hopByHop(k) || http.CanonicalHeaderKey(k) == "Content-Length" {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	w.Write(appBody)
}

// requestLine writes the block's first line: time, method, path and the
// answer.
func (l *listener) requestLine(b *strings.Builder, at time.Time, r *http.Request, answer string) {
	line := fmt.Sprintf("%s  %s %s  %s", at.Format("2006-01-02 15:04:05.000"), printable(r.Method, false),
		printable(r.URL.RequestURI(), false), answer)
	if l.color {
		line = "\x1b[1m" + line + "\x1b[0m"
	}
	b.WriteString(line + "\n")
}

// print writes one request's block, whole.
func (l *listener) print(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.out, s)
}

// check is the outcome of checking one signature.
type check struct {
	state  string // "verified", "INVALID", "not sent", "not checked (no --key)"
	reason string // why INVALID
}

// verdict renders a check, green or red when colour is on.
func (l *listener) verdict(c check) string {
	s := c.state
	if l.color {
		switch c.state {
		case "verified":
			s = "\x1b[32m" + s + "\x1b[0m"
		case "INVALID":
			s = "\x1b[31m" + s + "\x1b[0m"
		}
	}
	if c.reason != "" {
		s += " (" + c.reason + ")"
	}
	return s
}

// checkSignature checks the signature in header with verify (VerifyHMAC
// for X-Nango-Hmac-Sha256, VerifyLegacy for X-Nango-Signature); what
// says what a valid one is, for the INVALID line.
func (l *listener) checkSignature(r *http.Request, body []byte, header string, verify func(key string, body []byte, sig string) bool, what string) check {
	v := r.Header.Get(header)
	switch {
	case v == "":
		return check{state: "not sent"}
	case l.cfg.Key == "":
		return check{state: "not checked (no --key)"}
	case verify(l.cfg.Key, body, v):
		return check{state: "verified"}
	}
	return check{state: "INVALID", reason: "not " + what + " under --key"}
}

// checkStandard checks webhook-id, webhook-timestamp and
// webhook-signature, with the 5-minute tolerance of Standard Webhooks.
func (l *listener) checkStandard(r *http.Request, body []byte, now time.Time) check {
	sig := r.Header.Get(nango.HeaderStandardSignature)
	if sig == "" {
		return check{state: "not sent"}
	}
	if l.cfg.Key == "" {
		return check{state: "not checked (no --key)"}
	}
	id := r.Header.Get(nango.HeaderStandardID)
	if id == "" {
		return check{state: "INVALID", reason: "no webhook-id header"}
	}
	ts, err := strconv.ParseInt(r.Header.Get(nango.HeaderStandardTimestamp), 10, 64)
	if err != nil {
		return check{state: "INVALID", reason: "webhook-timestamp is not a number of seconds"}
	}
	switch err := nango.VerifyStandard([]string{l.cfg.Key}, id, ts, body, sig, now, nango.DefaultTolerance); {
	case err == nil:
		return check{state: "verified"}
	case errors.Is(err, nango.ErrTimestampTooOld):
		return check{state: "INVALID", reason: fmt.Sprintf("webhook-timestamp is %s old, over the 5-minute tolerance", now.Sub(time.Unix(ts, 0)).Round(time.Second))}
	case errors.Is(err, nango.ErrTimestampTooNew):
		return check{state: "INVALID", reason: fmt.Sprintf("webhook-timestamp is %s ahead, over the 5-minute tolerance", time.Unix(ts, 0).Sub(now).Round(time.Second))}
	case errors.Is(err, nango.ErrNoSignature):
		return check{state: "INVALID", reason: "no v1, entry in webhook-signature"}
	default:
		return check{state: "INVALID", reason: "no v1 signature matches --key"}
	}
}

// forward passes the request on to --forward-to and returns the app's
// answer with its body (read up to listenMaxBody).
func (l *listener) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	target := *l.cfg.ForwardTo
	if target.Path == "" || target.Path == "/" {
		target.Path, target.RawPath = r.URL.Path, r.URL.RawPath
		if target.RawQuery == "" {
			target.RawQuery = r.URL.RawQuery
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			req.Header[k] = vs
		}
	}
	resp, err := l.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is known; keep the cause
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, listenMaxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading its answer: %w", err)
	}
	if len(b) > listenMaxBody {
		return nil, nil, fmt.Errorf("its answer is larger than %d MiB", listenMaxBody>>20)
	}
	return resp, b, nil
}

// hopByHop reports whether a header belongs to one connection only, and
// so is not passed on (RFC 9110, section 7.6.1).
func hopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host":
		return true
	}
	return false
}

// webhookSummary names the webhook's type and the fields that tell one
// webhook of that type from another; fields is the decoded body, nil when
// it is not a JSON object.
func webhookSummary(fields map[string]any) string {
	if fields == nil {
		return "- (the body is not a JSON object)"
	}
	get := func(name string) string {
		v, ok := fields[name]
		if !ok || v == nil {
			return "-"
		}
		return printable(fmt.Sprint(v), false)
	}
	typ := get("type")
	switch typ {
	case "auth":
		return fmt.Sprintf("auth  operation=%s success=%s", get("operation"), get("success"))
	case "sync":
		return fmt.Sprintf("sync  syncName=%s model=%s success=%s", get("syncName"), get("model"), get("success"))
	case "async_action":
		if p, ok := fields["payload"].(map[string]any); ok && p["id"] != nil {
			return "async_action  id=" + printable(fmt.Sprint(p["id"]), false)
		}
		return "async_action"
	case "forward":
		return "forward  provider=" + get("from")
	}
	return typ
}

// prettyBody is the body for the terminal: indented JSON, else the raw
// text, each line indented by two spaces.
func prettyBody(body []byte) string {
	if len(body) == 0 {
		return "  (empty body)\n"
	}
	var text string
	var buf bytes.Buffer
	if json.Valid(body) && json.Indent(&buf, body, "", "  ") == nil {
		text = buf.String()
	} else {
		text = string(body)
	}
	text = printable(strings.TrimRight(text, "\n"), true)
	return "  " + strings.ReplaceAll(text, "\n", "\n  ") + "\n"
}

// printable makes text from a request safe to print on a terminal: control
// characters (escape sequences among them) and invalid UTF-8 are shown
// escaped, as \x1b or \u0085; newlines and tabs stay when multiline.
func printable(s string, multiline bool) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t'))) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
