package main

import (
	"io"
	"strings"
	"testing"
	"time"

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
		{name: "lease too short", args: []string{"--lease", "10ms"}, wantErr: "--lease"},
		{name: "grace too long", args: []string{"--shutdown-grace", "1m"}, wantErr: "--shutdown-grace"},
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
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
