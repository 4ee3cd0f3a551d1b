// Command herald runs the herald webhook delivery service.
//
//	herald serve [--addr] [--database] [--admin-key] [--allow-private-urls] [--dev] [--lease] [--shutdown-grace]
//	herald bench [flags]
//	herald env create|list, settings get|set, events send|list|show,
//	herald deliveries list|show|retry|recover, herald replay  (docs/cli.md)
//	herald listen [--port 4000] [--key KEY] [--status 200] [--forward-to URL]
//	herald healthcheck [--url http://127.0.0.1:8080] [--ready]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveCmd(ctx, os.Args[2:])
	case "bench":
		err = benchCmd(ctx, os.Args[2:])
	case "listen":
		os.Exit(listenCmd(ctx, os.Args[2:]))
	case "healthcheck":
		err = healthcheckCmd(ctx, os.Args[2:])
	case "env", "settings", "events", "deliveries", "replay":
		os.Exit(clientCmd(ctx, os.Args[1], os.Args[2:]))
	case "version", "--version":
		fmt.Println("herald", versionString())
	case "help", "-h", "--help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "herald: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

// tuneGC sets a soft memory limit where the operator has not chosen one:
// herald's live heap is small (held deliveries, caches, batches being
// parsed), and the limit makes the collector work harder before the
// heap grows much past 128 MB.
func tuneGC() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: herald <command> [flags]

commands:
  serve        run the API and the delivery workers (herald serve --help)
  listen       receive webhooks locally and print them, signatures checked (herald listen --help)
  env          create and list environments, with the admin key (herald env --help)
  settings     read and change the webhook settings (herald settings --help)
  events       send events; list and show the event log (herald events --help)
  deliveries   list, show, retry and recover deliveries (herald deliveries --help)
  replay       send events again to the current URLs (herald replay --help)
  bench        measure throughput and latency on this machine (herald bench --help)
  healthcheck  exit 0 when herald answers GET /healthz (--ready: /readyz), 1 otherwise (herald healthcheck --help)
  version      print the version
`)
}
