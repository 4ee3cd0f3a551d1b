package server

import (
	"context"
	"testing"
)

func TestOpenStoreRejects(t *testing.T) {
	for _, dsn := range []string{"mysql://x", "herald.db", "sqlite:" + t.TempDir() + "/x.db?cache=shared"} {
		if s, err := OpenStore(context.Background(), dsn, nil); err == nil {
			s.Close()
			t.Errorf("OpenStore(%q) succeeded", dsn)
		}
	}
	s, err := OpenStore(context.Background(), "sqlite:"+t.TempDir()+"/ok.db?synchronous=full", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@db:5432/h": "postgres://…@db:5432/h",
		"sqlite:herald.db":              "sqlite:herald.db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
