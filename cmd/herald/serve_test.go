package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/server"
)

func TestParseServeFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    server.Config
		wantErr string
	}{
		{name: "defaults", want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db"}},
		{name: "env", env: map[string]string{"HERALD_ADDR": ":9", "HERALD_DATABASE_URL": "sqlite:x.db", "HERALD_ADMIN_KEY": "k",
			"HERALD_ALLOW_PRIVATE_URLS": "true"},
			want: server.Config{Addr: ":9", Database: "sqlite:x.db", AdminKey: "k", AllowPrivateURLs: true}},
		{name: "flag wins over env", args: []string{"--addr", ":7", "--admin-key", "f", "--allow-private-urls=false"},
			env:  map[string]string{"HERALD_ADDR": ":9", "HERALD_ADMIN_KEY": "k", "HERALD_ALLOW_PRIVATE_URLS": "1"},
			want: server.Config{Addr: ":7", Database: "sqlite:herald.db", AdminKey: "f"}},
		{name: "dev implies private URLs", args: []string{"--dev"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Dev: true, AllowPrivateURLs: true}},
		{name: "dev from env", env: map[string]string{"HERALD_DEV": "true"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Dev: true, AllowPrivateURLs: true}},
		{name: "bad bool env", env: map[string]string{"HERALD_DEV": "maybe"}, wantErr: "HERALD_DEV"},
		{name: "lease and grace from env", env: map[string]string{"HERALD_LEASE": "2s", "HERALD_SHUTDOWN_GRACE": "500ms"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Lease: 2 * time.Second, ShutdownGrace: 500 * time.Millisecond}},
		{name: "lease flag wins", args: []string{"--lease", "5s", "--shutdown-grace", "1s"}, env: map[string]string{"HERALD_LEASE": "2s"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Lease: 5 * time.Second, ShutdownGrace: time.Second}},
		{name: "bad lease env", env: map[string]string{"HERALD_LEASE": "soon"}, wantErr: "HERALD_LEASE"},
		{name: "body budget flag wins", args: []string{"--body-budget-mib", "32"}, env: map[string]string{"HERALD_BODY_BUDGET_MIB": "16"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", BodyBudget: 32 << 20}},
		{name: "body budget from env", env: map[string]string{"HERALD_BODY_BUDGET_MIB": "16"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", BodyBudget: 16 << 20}},
		{name: "body budget too small", args: []string{"--body-budget-mib", "1"}, wantErr: "--body-budget-mib"},
		{name: "bad body budget env", env: map[string]string{"HERALD_BODY_BUDGET_MIB": "lots"}, wantErr: "HERALD_BODY_BUDGET_MIB"},
		{name: "lease too short", args: []string{"--lease", "10ms"}, wantErr: "--lease"},
		{name: "disable after from env", env: map[string]string{"HERALD_DISABLE_AFTER": "24h"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", DisableAfter: 24 * time.Hour}},
		{name: "disable after flag wins", args: []string{"--disable-after", "1h"}, env: map[string]string{"HERALD_DISABLE_AFTER": "24h"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", DisableAfter: time.Hour}},
		{name: "disable after too short", args: []string{"--disable-after", "1s"}, wantErr: "--disable-after"},
		{name: "circuit open from env", env: map[string]string{"HERALD_CIRCUIT_OPEN": "30s"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", CircuitOpen: 30 * time.Second}},
		{name: "circuit open flag wins", args: []string{"--circuit-open", "5s"}, env: map[string]string{"HERALD_CIRCUIT_OPEN": "30s"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", CircuitOpen: 5 * time.Second}},
		{name: "circuit open too short", args: []string{"--circuit-open", "10ms"}, wantErr: "--circuit-open"},
		{name: "grace too long", args: []string{"--shutdown-grace", "1m"}, wantErr: "--shutdown-grace"},
		{name: "retention from env", env: map[string]string{"HERALD_RETENTION": "48h", "HERALD_BODY_RETENTION": "1h"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Retention: 48 * time.Hour, BodyRetention: time.Hour}},
		{name: "retention flag wins", args: []string{"--retention", "240h", "--body-retention", "2h"}, env: map[string]string{"HERALD_RETENTION": "48h"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Retention: 240 * time.Hour, BodyRetention: 2 * time.Hour}},
		{name: "bad retention env", env: map[string]string{"HERALD_BODY_RETENTION": "a week"}, wantErr: "HERALD_BODY_RETENTION"},
		{name: "negative retention", args: []string{"--retention", "-1h"}, wantErr: "--retention"},
		{name: "log format from env", env: map[string]string{"HERALD_LOG_FORMAT": "text"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", LogFormat: "text"}},
		{name: "log format flag wins", args: []string{"--log-format", "json"}, env: map[string]string{"HERALD_LOG_FORMAT": "text"},
			want: server.Config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", LogFormat: "json"}},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "--log-format"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServeFlags(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.Lease == 0 {
				tt.want.Lease = server.DefaultLease
			}
			if tt.want.ShutdownGrace == 0 {
				tt.want.ShutdownGrace = server.DefaultShutdownGrace
			}
			if tt.want.BodyBudget == 0 {
				tt.want.BodyBudget = server.DefaultBodyBudget
			}
			if tt.want.Retention == 0 {
				tt.want.Retention = herald.DefaultRetention
			}
			if tt.want.BodyRetention == 0 {
				tt.want.BodyRetention = herald.DefaultBodyRetention
			}
			if tt.want.DisableAfter == 0 {
				tt.want.DisableAfter = herald.DefaultDisableAfter
			}
			if tt.want.CircuitOpen == 0 {
				tt.want.CircuitOpen = dispatch.DefaultCircuitOpen
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseServeFlagsAdminKeyFile: --admin-key-file and
// HERALD_ADMIN_KEY_FILE read the admin key from a file, trailing newline
// trimmed; a flag wins over the environment; --admin-key with
// --admin-key-file is an error, and so is a file that cannot be read or
// holds no key, named in the error.
func TestParseServeFlagsAdminKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyNL := file("key-nl", "from-file\n")
	keyCRLF := file("key-crlf", "from-crlf\r\n")
	keyBare := file("key-bare", "bare")
	keyOther := file("key-other", "other-file\n")
	empty := file("empty", "")
	blank := file("blank", " \n\n")
	twoLines := file("two-lines", "a\nb\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string // the admin key
		wantErr []string
	}{
		{name: "flag", args: []string{"--admin-key-file", keyNL}, want: "from-file"},
		{name: "flag crlf", args: []string{"--admin-key-file=" + keyCRLF}, want: "from-crlf"},
		{name: "flag no newline", args: []string{"--admin-key-file", keyBare}, want: "bare"},
		{name: "env", env: map[string]string{"HERALD_ADMIN_KEY_FILE": keyNL}, want: "from-file"},
		{name: "file flag wins over key env", args: []string{"--admin-key-file", keyNL},
			env: map[string]string{"HERALD_ADMIN_KEY": "env-key"}, want: "from-file"},
		{name: "file flag wins over file env", args: []string{"--admin-key-file", keyNL},
			env: map[string]string{"HERALD_ADMIN_KEY_FILE": keyOther}, want: "from-file"},
		{name: "key flag wins over file env", args: []string{"--admin-key", "flag-key"},
			env: map[string]string{"HERALD_ADMIN_KEY_FILE": missing}, want: "flag-key"},
		{name: "both flags", args: []string{"--admin-key", "k", "--admin-key-file", keyNL},
			wantErr: []string{"--admin-key", "--admin-key-file"}},
		{name: "both variables", env: map[string]string{"HERALD_ADMIN_KEY": "k", "HERALD_ADMIN_KEY_FILE": keyNL},
			wantErr: []string{"HERALD_ADMIN_KEY", "HERALD_ADMIN_KEY_FILE"}},
		{name: "missing file", args: []string{"--admin-key-file", missing}, wantErr: []string{"--admin-key-file", missing}},
		{name: "missing file from env", env: map[string]string{"HERALD_ADMIN_KEY_FILE": missing},
			wantErr: []string{"HERALD_ADMIN_KEY_FILE", missing}},
		{name: "directory", args: []string{"--admin-key-file", dir}, wantErr: []string{dir}},
		{name: "empty file", args: []string{"--admin-key-file", empty}, wantErr: []string{empty, "empty"}},
		{name: "blank file", env: map[string]string{"HERALD_ADMIN_KEY_FILE": blank}, wantErr: []string{blank, "empty"}},
		{name: "two lines", args: []string{"--admin-key-file", twoLines}, wantErr: []string{twoLines, "more than one line"}},
		{name: "empty path", args: []string{"--admin-key-file="}, wantErr: []string{"--admin-key-file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServeFlags(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, want one mentioning %q", tt.wantErr)
				}
				for _, m := range tt.wantErr {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.AdminKey != tt.want {
				t.Fatalf("admin key %q, want %q", got.AdminKey, tt.want)
			}
		})
	}
}

// 0 keeps for ever: --retention 0 and --body-retention 0 turn pruning off.
func TestParseServeFlagsRetentionOff(t *testing.T) {
	got, err := parseServeFlags([]string{"--retention", "0", "--body-retention=0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.Retention != 0 || got.BodyRetention != 0 {
		t.Fatalf("retention %v, body retention %v; want 0, 0", got.Retention, got.BodyRetention)
	}
}

// The log is text on a terminal and JSON otherwise, unless forced.
func TestNewLogger(t *testing.T) {
	for _, tt := range []struct {
		format   string
		terminal bool
		json     bool
	}{{"", false, true}, {"", true, false}, {"text", false, false}, {"json", true, true}} {
		var buf bytes.Buffer
		newLogger(&buf, tt.format, tt.terminal).Info("hello", "k", "v")
		if got := strings.HasPrefix(buf.String(), "{"); got != tt.json {
			t.Errorf("format %q, terminal %v: %q, want JSON %v", tt.format, tt.terminal, buf.String(), tt.json)
		}
	}
}
