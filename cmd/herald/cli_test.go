package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/testkit"
)

// cliHerald is a real herald (internal/server.Run on a SQLite file) for
// the client commands, with an environment "prod" whose primary URL is a
// loopback receiver.
type cliHerald struct {
	url, adminKey, key string
	receiver           *testkit.Receiver
}

func startCLIHerald(t *testing.T) *cliHerald {
	t.Helper()
	h := &cliHerald{adminKey: "admin-key-for-cli-tests", receiver: testkit.NewReceiver(t)}
	h.url = heraldtest.Run(t, h.adminKey)
	env, err := client.New(h.url, h.adminKey).CreateEnvironment(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	h.key = env.SecretKey
	if _, err := client.New(h.url, h.key).PatchSettings(t.Context(), client.SettingsPatch{PrimaryURL: new(h.receiver.URL("/hook"))}); err != nil {
		t.Fatal(err)
	}
	return h
}

// env is the environment of a command run against h: its URL and keys.
func (h *cliHerald) env() map[string]string {
	return map[string]string{"HERALD_URL": h.url, "HERALD_KEY": h.key, "HERALD_ADMIN_KEY": h.adminKey}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs "herald <args>" (a client command) with the variables of
// env and stdin, and returns what it wrote and its exit code.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runClientCmd(t.Context(), args[0], args[1:], cliIO{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return env[k] }})
	return cliResult{out.String(), errOut.String(), code}
}

// decodeJSON decodes a --json output, which must be one JSON value on
// one line.
func decodeJSON(t *testing.T, r cliResult, out any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Errorf("--json output is not one line: %q", r.stdout)
	}
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
}

// Every command answers --help with exit 0, its flags and an example,
// without a key or a herald.
func TestCLIHelp(t *testing.T) {
	for group, g := range cliGroups {
		for _, cmd := range g.cmds {
			for _, flag := range []string{"--help", "-h"} {
				t.Run(cmd.name+" "+flag, func(t *testing.T) {
					args := append(strings.Fields(cmd.name), flag)
					r := runCLI(t, map[string]string{"HERALD_KEY": "secret-1", "HERALD_ADMIN_KEY": "secret-2"}, "", args...)
					if r.code != 0 {
						t.Fatalf("exit %d: %s", r.code, r.stderr)
					}
					if strings.Contains(r.stdout, "secret-") {
						t.Errorf("help shows a key:\n%s", r.stdout)
					}
					for _, want := range []string{"usage: herald " + cmd.name, "examples:", "  herald " + cmd.name, "--url", "--json", "Exit status"} {
						if !strings.Contains(r.stdout, want) {
							t.Errorf("help lacks %q:\n%s", want, r.stdout)
						}
					}
					key := "--key"
					if cmd.admin {
						key = "--admin-key"
					}
					if !strings.Contains(r.stdout, key) {
						t.Errorf("help lacks %s:\n%s", key, r.stdout)
					}
				})
			}
		}
		if group == "replay" {
			continue
		}
		t.Run(group+" --help", func(t *testing.T) {
			r := runCLI(t, nil, "", group, "--help")
			if r.code != 0 || !strings.Contains(r.stdout, "examples:") || !strings.Contains(r.stdout, "herald "+group+" ") {
				t.Errorf("exit %d, help:\n%s", r.code, r.stdout)
			}
		})
	}
}

// Bad flags and arguments exit 2 with a message, and send nothing: the
// herald URL given does not answer.
func TestCLIUsageErrors(t *testing.T) {
	env := map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_KEY": "k", "HERALD_ADMIN_KEY": "a"}
	file := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(file, []byte(`{"type":`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"env"}, env, "which one"},
		{[]string{"env", "delete"}, env, `unknown command "delete"`},
		{[]string{"env", "create"}, env, "missing argument"},
		{[]string{"env", "create", "a", "b"}, env, `unexpected argument "b"`},
		{[]string{"env", "list", "--bogus"}, env, "flag provided but not defined: -bogus"},
		{[]string{"env", "list"}, map[string]string{}, "no admin key"},
		{[]string{"env", "list", "--key", "k"}, env, "not defined: -key"},
		{[]string{"settings", "get"}, map[string]string{}, "no key"},
		{[]string{"settings", "get", "--url", "127.0.0.1:8080"}, env, "--url"},
		{[]string{"settings", "set"}, env, "nothing to change"},
		{[]string{"settings", "set", "colour=blue"}, env, `unknown setting "colour"`},
		{[]string{"settings", "set", "primary_url"}, env, "want name=value"},
		{[]string{"settings", "set", "--timeout-ms", "soon"}, env, "timeout-ms"},
		{[]string{"settings", "set", "on_sync_error=perhaps"}, env, "on_sync_error"},
		{[]string{"settings", "set", "retry={"}, env, "retry"},
		{[]string{"settings", "set", "--retry-schedule", "5s,often"}, env, "retry-schedule"},
		{[]string{"events", "send"}, env, "no event"},
		{[]string{"events", "send", "--file", file, "--type", "sync"}, env, "not both"},
		{[]string{"events", "send", "--file", file}, env, "not JSON"},
		{[]string{"events", "send", "--file", filepath.Join(t.TempDir(), "missing.json")}, env, "--file"},
		{[]string{"events", "send", "--type", "webhook"}, env, "--type"},
		{[]string{"events", "send", "--type", "sync", "--connection-id", "c1"}, env, "providerConfigKey"},
		{[]string{"events", "list", "--since", "yesterday"}, env, "--since"},
		{[]string{"events", "list", "--limit", "500"}, env, "--limit"},
		{[]string{"events", "show"}, env, "missing argument"},
		{[]string{"deliveries", "show", "a", "b"}, env, "unexpected argument"},
		{[]string{"deliveries", "retry"}, env, "missing argument"},
		{[]string{"deliveries", "recover"}, env, "--since is required"},
		{[]string{"deliveries", "recover", "--since", "1h", "--until", "2h"}, env, "not before"},
		{[]string{"replay"}, env, "--since is required"},
		{[]string{"replay", "--since", "1h", "some-event"}, env, "not both"},
		{[]string{"replay", "--since", "1h", "--json=maybe"}, env, "json"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, tt.env, "", tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

// Every command against a real herald: --json prints the API's answer,
// tables otherwise; a 404, a 401 or no herald at all exits 1 with the
// error's code.
func TestCLIAgainstHerald(t *testing.T) {
	h := startCLIHerald(t)
	env := h.env()
	start := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	// Events in: from flags, from a file (a batch, one object a line),
	// from standard input with an Idempotency-Key.
	var sent client.SendResult
	decodeJSON(t, runCLI(t, env, "", "events", "send", "--type", "sync", "--connection-id", "c1", "--provider-config-key", "github",
		"--sync-name", "issues", "--model", "Issue", "--added", "3", "--json"), &sent)
	if sent.Type != "sync" || len(sent.Deliveries) != 1 || sent.Deliveries[0].URL != h.receiver.URL("/hook") {
		t.Fatalf("events send: %+v", sent)
	}
	batchFile := filepath.Join(t.TempDir(), "events.ndjson")
	batch := `{"type":"async_action","connectionId":"c2","providerConfigKey":"github","payload":{"id":"a1","statusUrl":"/action/a1"}}` + "\n" +
		`{"type":"auth","connectionId":"c3","providerConfigKey":"hubspot","authMode":"OAUTH2","provider":"hubspot","environment":"prod","operation":"deletion","success":true}` + "\n"
	if err := os.WriteFile(batchFile, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	var results struct {
		Results []client.SendResult `json:"results"`
	}
	decodeJSON(t, runCLI(t, env, "", "events", "send", "--file", batchFile, "--json"), &results)
	if len(results.Results) != 2 || results.Results[0].Type != "async_action" || results.Results[1].Skipped == "" {
		t.Fatalf("batch: %+v", results)
	}
	one := `{"type":"async_action","connectionId":"c4","providerConfigKey":"github","payload":{"id":"a2","statusUrl":"/action/a2"}}`
	var first, again client.SendResult
	decodeJSON(t, runCLI(t, env, one, "events", "send", "--file", "-", "--idempotency-key", "k1", "--json"), &first)
	decodeJSON(t, runCLI(t, env, one, "events", "send", "--file", "-", "--idempotency-key", "k1", "--json"), &again)
	if first.ID == "" || again.ID != first.ID {
		t.Errorf("idempotent send: %s then %s", first.ID, again.ID)
	}
	testkit.WaitFor(t, "three webhooks", func() bool { return len(h.receiver.Requests()) == 3 })
	c := client.New(h.url, h.key)
	testkit.WaitFor(t, "three deliveries succeeded", func() bool {
		page, err := c.ListDeliveries(t.Context(), &client.ListParams{Status: "succeeded"})
		return err == nil && len(page.Data) == 3
	})

	// The raw answer of GET /environment, to compare --json with.
	var envRaw json.RawMessage
	if err := c.Do(t.Context(), "GET", "/environment", nil, &envRaw); err != nil {
		t.Fatal(err)
	}
	const missing = "00000000-0000-4000-8000-000000000000"
	badKey := map[string]string{"HERALD_URL": h.url, "HERALD_KEY": "wrong", "HERALD_ADMIN_KEY": "wrong"}
	noHerald := map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_KEY": "k", "HERALD_ADMIN_KEY": "a"}

	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		code  int
		check func(t *testing.T, r cliResult) // for code 0
		want  string                          // in stderr, for code 1
	}{
		{name: "env create", env: env, args: []string{"env", "create", "staging", "--json"}, check: func(t *testing.T, r cliResult) {
			var e client.Environment
			decodeJSON(t, r, &e)
			if e.Name != "staging" || e.SecretKey == "" || e.WebhookSigningKey == "" || e.ID == "" {
				t.Errorf("%+v", e)
			}
		}},
		{name: "env create table", env: env, args: []string{"env", "create", "qa"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "name:", "qa", "secret_key:", "webhook_signing_key:")
			mustContain(t, r.stderr, "shown only now")
		}},
		{name: "env create twice", env: env, args: []string{"env", "create", "prod"}, code: 1, want: "conflict"},
		{name: "env list", env: env, args: []string{"env", "list", "--json"}, check: func(t *testing.T, r cliResult) {
			var l struct{ Data []client.Environment }
			decodeJSON(t, r, &l)
			if len(l.Data) < 2 || l.Data[0].Name != "prod" || l.Data[0].SecretKey != "" {
				t.Errorf("%+v", l)
			}
		}},
		{name: "env list table", env: env, args: []string{"env", "list"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "ID", "NAME", "CREATED", "prod", "staging")
		}},
		{name: "env list flag wins", env: badKey, args: []string{"env", "list", "--admin-key", h.adminKey, "--url", h.url}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "prod")
		}},
		{name: "env list 401", env: badKey, args: []string{"env", "list"}, code: 1, want: "unauthorized"},
		{name: "settings get", env: env, args: []string{"settings", "get", "--json"}, check: func(t *testing.T, r cliResult) {
			if strings.TrimSpace(r.stdout) != string(envRaw) {
				t.Errorf("--json %s, want the API's %s", r.stdout, envRaw)
			}
		}},
		{name: "settings get table", env: env, args: []string{"settings", "get"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "name:", "prod", "primary_url:", h.receiver.URL("/hook"), "retry:", `"max_retries":2`, "timeout_ms:", "20000")
		}},
		{name: "settings get 401", env: badKey, args: []string{"settings", "get"}, code: 1, want: "unauthorized: "},
		{name: "settings set", env: env, args: []string{"settings", "set", "--on-connection-deletion", "secondary_url=null",
			"timeout_ms=5000", "--retry-schedule", "1s,1m", "--json"}, check: func(t *testing.T, r cliResult) {
			var s client.Settings
			decodeJSON(t, r, &s)
			if !s.OnConnectionDeletion || s.TimeoutMS != 5000 || len(s.Retry.ScheduleMS) != 2 || s.Retry.ScheduleMS[1] != 60000 ||
				s.PrimaryURL != h.receiver.URL("/hook") {
				t.Errorf("%+v", s)
			}
		}},
		{name: "settings set table", env: env, args: []string{"settings", "set", `retry={"max_retries":1}`, "on-sync-error=false"},
			check: func(t *testing.T, r cliResult) {
				mustContain(t, r.stdout, `"max_retries":1`, "on_sync_error:", "on_connection_deletion:")
			}},
		{name: "settings set refused", env: env, args: []string{"settings", "set", "--timeout-ms", "10"}, code: 1, want: "invalid_body: timeout_ms"},
		{name: "events list", env: env, args: []string{"events", "list", "--json"}, check: func(t *testing.T, r cliResult) {
			var p client.EventPage
			decodeJSON(t, r, &p)
			if len(p.Data) != 4 || p.NextCursor != "" || p.Data[3].ID != sent.ID {
				t.Errorf("%+v", p)
			}
		}},
		{name: "events list page", env: env, args: []string{"events", "list", "--limit", "1", "--json"}, check: func(t *testing.T, r cliResult) {
			var p client.EventPage
			decodeJSON(t, r, &p)
			if len(p.Data) != 1 || p.NextCursor == "" {
				t.Errorf("%+v", p)
			}
		}},
		{name: "events list all", env: env, args: []string{"events", "list", "--limit", "1", "--all", "--since", start, "--json"}, check: func(t *testing.T, r cliResult) {
			var p struct {
				Data       []client.Event
				NextCursor *string `json:"next_cursor"`
			}
			decodeJSON(t, r, &p)
			if len(p.Data) != 4 || p.NextCursor != nil {
				t.Errorf("%+v", p)
			}
		}},
		{name: "events list filtered", env: env, args: []string{"events", "list", "--type", "auth", "--status", "skipped", "--since", "1h"},
			check: func(t *testing.T, r cliResult) {
				mustContain(t, r.stdout, "ID", "STATUS", "auth", "skipped", "c3", "hubspot")
				if strings.Count(r.stdout, "\n") != 2 {
					t.Errorf("want one row:\n%s", r.stdout)
				}
			}},
		{name: "events list table with more", env: env, args: []string{"events", "list", "--limit", "2"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stderr, "--cursor")
		}},
		{name: "events list 400", env: env, args: []string{"events", "list", "--status", "lost"}, code: 1, want: "invalid_query_params"},
		{name: "events show", env: env, args: []string{"events", "show", sent.ID, "--json"}, check: func(t *testing.T, r cliResult) {
			var e client.EventDetail
			decodeJSON(t, r, &e)
			if e.ID != sent.ID || e.Status != "succeeded" || len(e.Deliveries) != 1 || !strings.Contains(string(e.Body), `"syncName":"issues"`) {
				t.Errorf("%+v", e)
			}
		}},
		{name: "events show table", env: env, args: []string{"events", "show", sent.ID}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "status:", "succeeded", "body:", `"syncName": "issues"`, "deliveries:", sent.Deliveries[0].ID)
		}},
		{name: "events show after --", env: env, args: []string{"events", "show", "--json", "--", sent.ID}, check: func(t *testing.T, r cliResult) {
			var e client.EventDetail
			decodeJSON(t, r, &e)
			if e.ID != sent.ID {
				t.Errorf("%+v", e)
			}
		}},
		{name: "events show 404", env: env, args: []string{"events", "show", missing}, code: 1, want: "not_found: no event with this id (HTTP 404)"},
		{name: "deliveries list", env: env, args: []string{"deliveries", "list", "--status", "succeeded", "--json"}, check: func(t *testing.T, r cliResult) {
			var p client.DeliveryPage
			decodeJSON(t, r, &p)
			if len(p.Data) != 3 || p.Data[2].ID != sent.Deliveries[0].ID {
				t.Errorf("%+v", p)
			}
		}},
		{name: "deliveries list table", env: env, args: []string{"deliveries", "list", "--connection-id", "c1"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "ATTEMPTS", "LAST", sent.Deliveries[0].ID, "succeeded", "200")
		}},
		{name: "deliveries show", env: env, args: []string{"deliveries", "show", sent.Deliveries[0].ID, "--json"}, check: func(t *testing.T, r cliResult) {
			var d client.DeliveryDetail
			decodeJSON(t, r, &d)
			if d.ID != sent.Deliveries[0].ID || len(d.AttemptLog) != 1 || *d.AttemptLog[0].StatusCode != 200 {
				t.Errorf("%+v", d)
			}
		}},
		{name: "deliveries show table", env: env, args: []string{"deliveries", "show", sent.Deliveries[0].ID}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "attempts:", "STARTED", "200", "body:", `"model": "Issue"`)
		}},
		{name: "deliveries show 404", env: env, args: []string{"deliveries", "show", missing}, code: 1, want: "not_found"},
		{name: "deliveries show 400", env: env, args: []string{"deliveries", "show", "nope"}, code: 1, want: "invalid_uri_params"},
		{name: "deliveries show 401", env: badKey, args: []string{"deliveries", "show", missing}, code: 1, want: "unauthorized"},
		{name: "deliveries retry", env: env, args: []string{"deliveries", "retry", sent.Deliveries[0].ID, "--json"}, check: func(t *testing.T, r cliResult) {
			var d client.Delivery
			decodeJSON(t, r, &d)
			if d.ID != sent.Deliveries[0].ID || d.Status != "pending" {
				t.Errorf("%+v", d)
			}
		}},
		{name: "deliveries retry 404", env: env, args: []string{"deliveries", "retry", missing}, code: 1, want: "not_found"},
		{name: "deliveries recover", env: env, args: []string{"deliveries", "recover", "--since", "1h", "--json"}, check: func(t *testing.T, r cliResult) {
			var out struct{ Requeued *int }
			decodeJSON(t, r, &out)
			if out.Requeued == nil || *out.Requeued != 0 {
				t.Errorf("%s", r.stdout)
			}
		}},
		{name: "deliveries recover table", env: env, args: []string{"deliveries", "recover", "--since", "2h", "--until", "now"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "Requeued 0")
		}},
		{name: "replay", env: env, args: []string{"replay", "--since", start, "--type", "async_action", "--json"}, check: func(t *testing.T, r cliResult) {
			var out struct{ Queued *int }
			decodeJSON(t, r, &out)
			if out.Queued == nil || *out.Queued != 2 { // c2 and c4
				t.Errorf("%s", r.stdout)
			}
		}},
		{name: "replay table", env: env, args: []string{"replay", "--since", start, "--until", end, "--connection-id", "c3"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "Queued 1 event(s)", "herald deliveries list --since")
		}},
		{name: "replay again queues nothing", env: env, args: []string{"replay", "--since", start, "--until", end, "--connection-id", "c3"}, check: func(t *testing.T, r cliResult) {
			mustContain(t, r.stdout, "Queued 0 events")
		}},
		{name: "replay one", env: env, args: []string{"replay", sent.ID, "--json"}, check: func(t *testing.T, r cliResult) {
			if strings.TrimSpace(r.stdout) != `{"queued":1}` {
				t.Errorf("%s", r.stdout)
			}
		}},
		{name: "replay one 404", env: env, args: []string{"replay", missing}, code: 1, want: "not_found"},
		{name: "replay 400", env: env, args: []string{"replay", "--since", "1h", "--status", "lost"}, code: 1, want: "invalid_body: status"},
		{name: "no herald", env: noHerald, args: []string{"events", "list"}, code: 1, want: "herald events list:"},
		{name: "no herald, admin", env: noHerald, args: []string{"env", "list"}, code: 1, want: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, "", tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s; stderr %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code != 0 {
				if !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
					t.Errorf("stderr %q lacks %q (stdout %q)", r.stderr, tt.want, r.stdout)
				}
				return
			}
			tt.check(t, r)
		})
	}
	testkit.WaitFor(t, "the retry and the replays delivered", func() bool { return len(h.receiver.Requests()) == 8 })
}

func mustContain(t *testing.T, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("output lacks %q:\n%s", w, s)
		}
	}
}

func TestCLIParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 25, 19, 42, 49, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"now", now, false},
		{"2026-03-25T08:00:00Z", time.Date(2026, 3, 25, 8, 0, 0, 0, time.UTC), false},
		{"2026-03-25T08:00:00.123+01:00", time.Date(2026, 3, 25, 7, 0, 0, 123e6, time.UTC), false},
		{"2026-03-24", time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"-1h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := cliParseWhen("since", tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("cliParseWhen(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestCLIReadEvents(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		n     int
		batch bool
		err   bool
	}{
		{"one object", `{"type":"sync"}`, 1, false, false},
		{"an array", `[{"type":"sync"},{"type":"auth"}]`, 2, true, false},
		{"an array of one", `[{"type":"sync"}]`, 1, true, false},
		{"a batch body", `{"events":[{"type":"sync"},{"type":"auth"},{"type":"auth"}]}`, 3, true, false},
		{"one a line", "{\"type\":\"sync\"}\n{\"type\":\"auth\"}\n", 2, true, false},
		{"empty", "  \n", 0, false, true},
		{"not JSON", `type: sync`, 0, false, true},
		{"cut short", `{"type":"sync"`, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bodies, batch, err := cliReadEvents([]byte(tt.in))
			if (err != nil) != tt.err || len(bodies) != tt.n || batch != tt.batch {
				t.Errorf("got %d bodies, batch %v, err %v", len(bodies), batch, err)
			}
		})
	}
}
