package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// healthcheckCmd is `herald healthcheck`: for a container's HEALTHCHECK,
// since the distroless image has no curl (docs/release.md).
func healthcheckCmd(ctx context.Context, args []string) error {
	err := healthcheck(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// healthcheck asks a running herald whether it is up: GET /healthz (the
// process serves HTTP), or /readyz with --ready (its database answers
// too), at --url. It returns nil when the answer is 200 and an error
// naming the URL otherwise — any other status, a redirect, a refused
// connection, a timeout — so that the command exits 0 or 1. The request
// goes straight to herald, never through HTTP_PROXY.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: herald healthcheck [--url http://127.0.0.1:8080] [--ready] [--timeout 5s]\n\n"+
			"Exits 0 when herald answers 200 to GET /healthz (or /readyz with --ready), 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	base := fs.String("url", healthURL(getenv("HERALD_ADDR")),
		"herald's base URL; by default 127.0.0.1 on the port of HERALD_ADDR, or 8080")
	ready := fs.Bool("ready", false, "GET /readyz (the database answers) instead of /healthz (the process serves HTTP)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 {
		return fmt.Errorf("healthcheck: --timeout %s is not positive", *timeout)
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("healthcheck: --url %q is not an http:// or https:// URL", *base)
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", u, resp.Status)
	}
	fmt.Fprintf(stdout, "herald healthcheck: GET %s: %s\n", u, resp.Status)
	return nil
}

// healthURL is the base URL at which a herald listening on addr (a
// --addr value, such as HERALD_ADDR) is reached from the same host: a
// wildcard or empty host becomes loopback. "" or an address that does
// not parse: http://127.0.0.1:8080, serve's default.
func healthURL(addr string) string {
	const fallback = "http://127.0.0.1:8080"
	if addr == "" {
		return fallback
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fallback
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
