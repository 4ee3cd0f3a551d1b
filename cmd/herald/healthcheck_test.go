package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
)

// startHerald runs herald in the test process on a fresh SQLite file
// until the test ends, and returns its base URL once it is ready.
func startHerald(t *testing.T) string {
	t.Helper()
	return heraldtest.Run(t, "")
}

// closedPort is the base URL of a loopback port that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	return base
}

func noEnv(string) string { return "" }

// A running herald passes both checks, whatever the form of its URL.
func TestHealthcheckHerald(t *testing.T) {
	base := startHerald(t)
	for _, args := range [][]string{
		{"--url", base},
		{"--url", base + "/"},
		{"--url=" + base, "--ready"},
		{"--ready", "--timeout", "2s", "--url", base},
	} {
		var out bytes.Buffer
		if err := healthcheck(t.Context(), args, noEnv, &out, io.Discard); err != nil {
			t.Errorf("%q: %v", args, err)
			continue
		}
		path := "/healthz"
		if strings.Contains(strings.Join(args, " "), "--ready") {
			path = "/readyz"
		}
		if want := "GET " + strings.TrimSuffix(base, "/") + path + ": 200 OK"; !strings.Contains(out.String(), want) {
			t.Errorf("%q: printed %q, want %q", args, out.String(), want)
		}
	}
	// Without --url, the port comes from HERALD_ADDR, its wildcard host
	// made loopback: what a container running `serve` on 0.0.0.0 needs.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	env := func(k string) string {
		if k == "HERALD_ADDR" {
			return "0.0.0.0:" + port
		}
		return ""
	}
	if err := healthcheck(t.Context(), nil, env, io.Discard, io.Discard); err != nil {
		t.Errorf("HERALD_ADDR=0.0.0.0:%s: %v", port, err)
	}
}

// Nothing listening, a status other than 200, a redirect or a bad
// command line: an error, so the command exits 1.
func TestHealthcheckFails(t *testing.T) {
	down := closedPort(t)
	unwell := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/healthz":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer unwell.Close()
	// Accepts connections and never answers: the timeout decides.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", down}, "connection refused"},
		{[]string{"--url", down, "--ready"}, "connection refused"},
		{[]string{"--url", unwell.URL, "--ready"}, "503"},
		{[]string{"--url", unwell.URL}, "302"},
		{[]string{"--url", "http://" + hung.Addr().String(), "--timeout", "200ms"}, "deadline exceeded"},
		{[]string{"--url", "ftp://127.0.0.1"}, "--url"},
		{[]string{"--url", down, "extra"}, "unexpected argument"},
		{[]string{"--timeout", "0s"}, "--timeout"},
		{[]string{"--nope"}, "nope"},
	} {
		err := healthcheck(t.Context(), tt.args, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
	if err := healthcheck(t.Context(), []string{"--help"}, noEnv, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp (healthcheckCmd makes it exit 0)", err)
	}
}

func TestHealthcheckURL(t *testing.T) {
	for addr, want := range map[string]string{
		"":               "http://127.0.0.1:8080",
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		":9001":          "http://127.0.0.1:9001",
		"[::]:9002":      "http://[::1]:9002",
		"[::1]:9003":     "http://[::1]:9003",
		"herald:9004":    "http://herald:9004",
		"garbage":        "http://127.0.0.1:8080",
	} {
		if got := healthURL(addr); got != want {
			t.Errorf("healthURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestVersionLdflags builds the binary as a release does, with the
// version set by -ldflags -X, and runs it: `herald version` prints that
// version, and `herald healthcheck` exits 0 or 1.
func TestVersionLdflags(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	const version = "v1.2.3"
	bin := filepath.Join(t.TempDir(), "herald")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goCmd, "build", "-trimpath",
		"-ldflags", "-X github.com/heraldhq/herald.Version="+version, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = []string{} // no HERALD_* from the test's environment
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			return string(out), exit.ExitCode()
		case err != nil:
			t.Fatalf("herald %q: %v", args, err)
		}
		return string(out), 0
	}
	for _, arg := range []string{"version", "--version"} {
		if out, code := run(arg); code != 0 || out != "herald "+version+"\n" {
			t.Errorf("herald %s: %q, exit %d; want %q, exit 0", arg, out, code, "herald "+version+"\n")
		}
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer up.Close()
	if out, code := run("healthcheck", "--url", up.URL); code != 0 {
		t.Errorf("healthcheck on a live server: exit %d, want 0\n%s", code, out)
	}
	if out, code := run("healthcheck", "--url", closedPort(t)); code != 1 {
		t.Errorf("healthcheck on a closed port: exit %d, want 1\n%s", code, out)
	}
}
