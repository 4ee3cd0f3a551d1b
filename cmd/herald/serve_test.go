package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseServeFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "defaults", want: config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db"}},
		{name: "env", env: map[string]string{"HERALD_ADDR": ":9", "HERALD_DATABASE_URL": "sqlite:x.db", "HERALD_ADMIN_KEY": "k",
			"HERALD_ALLOW_PRIVATE_URLS": "true"},
			want: config{Addr: ":9", Database: "sqlite:x.db", AdminKey: "k", AllowPrivateURLs: true}},
		{name: "flag wins over env", args: []string{"--addr", ":7", "--admin-key", "f", "--allow-private-urls=false"},
			env:  map[string]string{"HERALD_ADDR": ":9", "HERALD_ADMIN_KEY": "k", "HERALD_ALLOW_PRIVATE_URLS": "1"},
			want: config{Addr: ":7", Database: "sqlite:herald.db", AdminKey: "f"}},
		{name: "dev implies private URLs", args: []string{"--dev"},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Dev: true, AllowPrivateURLs: true}},
		{name: "dev from env", env: map[string]string{"HERALD_DEV": "true"},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite:herald.db", Dev: true, AllowPrivateURLs: true}},
		{name: "bad bool env", env: map[string]string{"HERALD_DEV": "maybe"}, wantErr: "HERALD_DEV"},
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
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOpenStoreRejects(t *testing.T) {
	for _, dsn := range []string{"mysql://x", "herald.db", "sqlite:" + t.TempDir() + "/x.db?cache=shared"} {
		if s, err := openStore(context.Background(), dsn, nil); err == nil {
			s.Close()
			t.Errorf("openStore(%q) succeeded", dsn)
		}
	}
	s, err := openStore(context.Background(), "sqlite:"+t.TempDir()+"/ok.db?synchronous=full", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("bench smoke test skipped in -short mode")
	}
	results, err := runBench(context.Background(), benchConfig{Events: 300, Concurrency: 8, BatchSize: 50, Timeout: time.Minute}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Scenario != "single" || results[1].Scenario != "batch" {
		t.Fatalf("results = %+v", results)
	}
	for _, r := range results {
		if r.Events != 300 || r.Duplicates != 0 || r.DeliveriesPerSec <= 0 || r.AcceptedPerSec <= 0 || r.P99MS < r.P50MS {
			t.Errorf("%s: %+v", r.Scenario, r)
		}
	}
}
