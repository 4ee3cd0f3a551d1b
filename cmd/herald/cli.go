package main

// The commands that call a running herald through package client (env,
// settings, events, deliveries, replay) share what is here: the flags
// --url, --key (or --admin-key) and --json, help with examples, output
// as tables or as the API's JSON, and the exit codes (docs/cli.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/client"
)

// Exit codes of the client commands.
const (
	cliExitOK     = 0 // done
	cliExitFailed = 1 // herald refused the request, or could not be reached
	cliExitUsage  = 2 // bad flags or arguments: nothing was sent
)

const cliDefaultURL = "http://127.0.0.1:8080"

// cliIO is what a client command reads and writes: the process's own in
// main, buffers in tests.
type cliIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// transport, when set, carries the requests (tests); nil: the default.
	transport http.RoundTripper
}

// cliCmd is one client command, such as "deliveries list".
type cliCmd struct {
	name     string // "deliveries list"
	synopsis string // what follows the name and [flags], such as "ID"
	summary  string // one line, for the group's help
	about    string // what it does, for its own help
	examples []string
	// admin: the command authenticates with the admin key (--admin-key,
	// HERALD_ADMIN_KEY) instead of an environment's secret key.
	admin bool
	run   func(ctx context.Context, r *cliRun) error
}

// cliGroups are the client commands by their first word; a group of one
// command without a second word (replay) has a command named as the group.
var cliGroups = map[string]struct {
	about string
	cmds  []*cliCmd
}{
	"env":        {"Environments (tenants), with the admin key.", []*cliCmd{envCreateCmd, envListCmd}},
	"settings":   {"The environment's webhook settings.", []*cliCmd{settingsGetCmd, settingsSetCmd}},
	"events":     {"Events in (the producer API) and the event log.", []*cliCmd{eventsSendCmd, eventsListCmd, eventsShowCmd}},
	"deliveries": {"The delivery log; sending a delivery again.", []*cliCmd{deliveriesListCmd, deliveriesShowCmd, deliveriesRetryCmd, deliveriesRecoverCmd}},
	"replay":     {"", []*cliCmd{replayCmd}},
}

// clientCmd runs the client command group (env, settings, events,
// deliveries, replay) with args and returns the exit code.
func clientCmd(ctx context.Context, group string, args []string) int {
	return runClientCmd(ctx, group, args, cliIO{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
}

func runClientCmd(ctx context.Context, group string, args []string, cio cliIO) int {
	g, ok := cliGroups[group]
	if !ok {
		fmt.Fprintf(cio.stderr, "herald: unknown command %q\n", group)
		return cliExitUsage
	}
	var cmd *cliCmd
	if len(g.cmds) == 1 && g.cmds[0].name == group {
		cmd = g.cmds[0]
	} else {
		if len(args) == 0 {
			fmt.Fprintf(cio.stderr, "herald %s: which one?\n\n", group)
			writeGroupHelp(cio.stderr, group)
			return cliExitUsage
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			writeGroupHelp(cio.stdout, group)
			return cliExitOK
		}
		for _, c := range g.cmds {
			if c.name == group+" "+args[0] {
				cmd = c
			}
		}
		if cmd == nil {
			fmt.Fprintf(cio.stderr, "herald %s: unknown command %q\n\n", group, args[0])
			writeGroupHelp(cio.stderr, group)
			return cliExitUsage
		}
		args = args[1:]
	}
	r := newCLIRun(cmd, args, cio)
	return r.exit(cmd.run(ctx, r))
}

func writeGroupHelp(w io.Writer, group string) {
	g := cliGroups[group]
	fmt.Fprintf(w, "usage: herald %s <command> [flags]\n\n%s\n\ncommands:\n", group, g.about)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range g.cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nexamples:\n")
	for _, c := range g.cmds {
		fmt.Fprintf(w, "  %s\n", c.examples[0])
	}
	fmt.Fprintf(w, "\nRun 'herald %s <command> --help' for a command's flags.\n", group)
}

// cliRun is one run of a client command: its flags, its output and its
// client.
type cliRun struct {
	cmd  *cliCmd
	args []string
	io   cliIO
	fs   *flag.FlagSet

	url, key string
	json     bool
	pos      []string // positional arguments, after parse

	capture *cliCapture
}

// errCLIHelp: --help was asked for and written.
var errCLIHelp = errors.New("help")

// cliUsageError is a bad flag or argument: exit 2, nothing was sent.
type cliUsageError struct{ msg string }

func (e *cliUsageError) Error() string { return e.msg }

func cliUsagef(format string, a ...any) error { return &cliUsageError{fmt.Sprintf(format, a...)} }

func newCLIRun(cmd *cliCmd, args []string, cio cliIO) *cliRun {
	r := &cliRun{cmd: cmd, args: args, io: cio, fs: flag.NewFlagSet(cmd.name, flag.ContinueOnError)}
	r.fs.SetOutput(io.Discard) // parse errors are written by exit
	r.fs.Usage = func() {}
	// The variables are read after parsing, when no flag was given: as
	// flag defaults, a key would show in --help.
	r.fs.StringVar(&r.url, "url", cliDefaultURL, "herald's base URL (HERALD_URL)")
	if cmd.admin {
		r.fs.StringVar(&r.key, "admin-key", "", "the admin key (HERALD_ADMIN_KEY)")
	} else {
		r.fs.StringVar(&r.key, "key", "", "the environment's secret key (HERALD_KEY)")
	}
	r.fs.BoolVar(&r.json, "json", false, "print the API's JSON answer instead of a table")
	return r
}

// parse reads the flags (before, between and after the positional
// arguments; all after "--" are positional) and checks that there are
// between minArgs and maxArgs positional arguments (maxArgs < 0: no
// limit).
func (r *cliRun) parse(minArgs, maxArgs int) error {
	args, rest := r.args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	for {
		if err := r.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				r.writeHelp(r.io.stdout)
				return errCLIHelp
			}
			return cliUsagef("%v", err)
		}
		args = r.fs.Args()
		if len(args) == 0 {
			break
		}
		r.pos = append(r.pos, args[0])
		args = args[1:]
	}
	r.pos = append(r.pos, rest...)
	switch {
	case len(r.pos) < minArgs:
		return cliUsagef("missing argument: herald %s [flags] %s", r.cmd.name, r.cmd.synopsis)
	case maxArgs >= 0 && len(r.pos) > maxArgs:
		return cliUsagef("unexpected argument %q", r.pos[maxArgs])
	}
	if v := r.io.getenv("HERALD_URL"); v != "" && !r.set("url") {
		r.url = v
	}
	keyFlag, keyVar := "key", "HERALD_KEY"
	if r.cmd.admin {
		keyFlag, keyVar = "admin-key", "HERALD_ADMIN_KEY"
	}
	if !r.set(keyFlag) {
		r.key = r.io.getenv(keyVar)
	}
	u, err := url.Parse(r.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cliUsagef("--url %q: want an http:// or https:// URL such as %s", r.url, cliDefaultURL)
	}
	if r.key == "" {
		if r.cmd.admin {
			return cliUsagef("no admin key: pass --admin-key or set HERALD_ADMIN_KEY")
		}
		return cliUsagef("no key: pass --key or set HERALD_KEY to the environment's secret key")
	}
	return nil
}

// set reports whether the flag name was given.
func (r *cliRun) set(name string) bool {
	found := false
	r.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func (r *cliRun) writeHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: herald %s [flags] %s\n\n%s\n\nflags:\n", r.cmd.name, r.cmd.synopsis, r.cmd.about)
	r.fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			typ = ""
		}
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case typ == "string":
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, usage)
	})
	fmt.Fprintf(w, "\nexamples:\n")
	for _, e := range r.cmd.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "\nExit status: 0 done, 1 herald refused or could not be reached, 2 bad flags or arguments.\n")
}

// client returns the client of the command's herald; with --json it
// keeps each answer's bytes for out.
func (r *cliRun) client() *client.Client {
	base := r.io.transport
	if base == nil {
		base = http.DefaultTransport
	}
	r.capture = &cliCapture{base: base}
	return client.New(r.url, r.key,
		client.WithHTTPClient(&http.Client{Transport: r.capture, Timeout: 60 * time.Second}),
		client.WithUserAgent("herald-cli/"+versionString()))
}

// printJSON writes the API's last answer as it came, on a line.
func (r *cliRun) printJSON() error {
	_, err := fmt.Fprintf(r.io.stdout, "%s\n", bytes.TrimSpace(r.capture.last()))
	return err
}

// exit reports err on stderr and returns the exit code.
func (r *cliRun) exit(err error) int {
	var usage *cliUsageError
	var herr *client.Error
	switch {
	case err == nil:
		return cliExitOK
	case errors.Is(err, errCLIHelp):
		return cliExitOK
	case errors.As(err, &usage):
		fmt.Fprintf(r.io.stderr, "herald %s: %s\nRun 'herald %s --help' for usage.\n", r.cmd.name, usage.msg, r.cmd.name)
		return cliExitUsage
	case errors.As(err, &herr):
		code := herr.Code
		if code == "" {
			code = "http_" + strconv.Itoa(herr.StatusCode)
		}
		fmt.Fprintf(r.io.stderr, "herald %s: %s: %s (HTTP %d)\n", r.cmd.name, code, herr.Message, herr.StatusCode)
		return cliExitFailed
	default:
		fmt.Fprintf(r.io.stderr, "herald %s: %v\n", r.cmd.name, err)
		return cliExitFailed
	}
}

// cliCapture is a transport that keeps the body of the last answer, so
// that --json prints the API's own bytes.
type cliCapture struct {
	base http.RoundTripper
	mu   sync.Mutex
	body []byte
}

// RoundTrip reads the answer's body whole, keeps it and hands it on.
func (c *cliCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20+1)) // the client refuses more
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.body = b
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

func (c *cliCapture) last() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.body
}

// cliTable writes rows aligned in columns, the first one a header.
func cliTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// cliFields writes name, value pairs, one a line, the values aligned.
func cliFields(w io.Writer, pairs ...string) error {
	rows := make([][]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		rows = append(rows, []string{pairs[i] + ":", pairs[i+1]})
	}
	return cliTable(w, rows)
}

// cliTime formats a time for a table, in UTC to the second; "-" for none.
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func cliDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cliParseWhen reads a --since or --until value: an RFC 3339 time
// (2026-03-25T19:42:49Z), a date (2026-03-25, midnight UTC), "now", or a
// duration before now (90m, 24h, 7d).
func cliParseWhen(flagName, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, cliUsagef("--%s %q: want an RFC 3339 time (2026-03-25T19:42:49Z), a date (2026-03-25), now, or a duration ago (90m, 24h, 7d)", flagName, v)
}

// listFlags are the filters of events list and deliveries list.
type listFlags struct {
	status, typ, connectionID, providerConfigKey, since, until, cursor string
	limit                                                              int
	all                                                                bool
}

func (f *listFlags) register(fs *flag.FlagSet, statuses string) {
	fs.StringVar(&f.status, "status", "", "only this status: "+statuses)
	fs.StringVar(&f.typ, "type", "", "only this type: auth, sync, async_action, forward")
	fs.StringVar(&f.connectionID, "connection-id", "", "only this connection")
	fs.StringVar(&f.providerConfigKey, "provider-config-key", "", "only this integration")
	fs.StringVar(&f.since, "since", "", "created at or after: RFC 3339 time, date, or duration ago (24h, 7d)")
	fs.StringVar(&f.until, "until", "", "created before: RFC 3339 time, date, or duration ago")
	fs.IntVar(&f.limit, "limit", 0, "page size, 1–200 (default 50)")
	fs.StringVar(&f.cursor, "cursor", "", "start after this cursor (the next_cursor of an earlier page)")
	fs.BoolVar(&f.all, "all", false, "follow the cursors to the last page")
}

func (f *listFlags) params() (*client.ListParams, error) {
	p := &client.ListParams{Status: f.status, Type: f.typ, ConnectionID: f.connectionID,
		ProviderConfigKey: f.providerConfigKey, Limit: f.limit, Cursor: f.cursor}
	now := time.Now()
	var err error
	if f.since != "" {
		if p.Since, err = cliParseWhen("since", f.since, now); err != nil {
			return nil, err
		}
	}
	if f.until != "" {
		if p.Until, err = cliParseWhen("until", f.until, now); err != nil {
			return nil, err
		}
	}
	if f.limit < 0 || f.limit > 200 {
		return nil, cliUsagef("--limit %d: want 1–200", f.limit)
	}
	return p, nil
}

// cliListPages fetches one page, or with all every page, through list; with
// --json it prints the API's answer (for several pages, their data in one
// {"data":[…],"next_cursor":null}), otherwise it hands the items and the
// next cursor to show.
func cliListPages[T any](ctx context.Context, r *cliRun, f *listFlags, list func(context.Context, *client.ListParams) ([]T, string, error),
	show func(items []T, next string) error) error {
	p, err := f.params()
	if err != nil {
		return err
	}
	var items []T
	var raws []json.RawMessage
	for {
		page, next, err := list(ctx, p)
		if err != nil {
			return err
		}
		items = append(items, page...)
		if r.json && f.all {
			var body struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(r.capture.last(), &body); err != nil {
				return fmt.Errorf("decode the answer: %w", err)
			}
			raws = append(raws, body.Data...)
		}
		if !f.all || next == "" {
			if r.json && f.all {
				if raws == nil {
					raws = []json.RawMessage{}
				}
				b, err := json.Marshal(map[string]any{"data": raws, "next_cursor": nil})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(r.io.stdout, "%s\n", b)
				return err
			}
			if r.json {
				return r.printJSON()
			}
			return show(items, next)
		}
		p.Cursor = next
	}
}
