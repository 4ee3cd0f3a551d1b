// Command herald runs the herald webhook delivery service.
//
//	herald serve [--addr] [--database] [--admin-key] [--allow-private-urls] [--dev] [--lease] [--shutdown-grace]
//	herald bench [flags]
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
  serve   run the API and the delivery workers (herald serve --help)
  bench   measure throughput and latency on this machine (herald bench --help)
  version print the version
`)
}
