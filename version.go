package herald

import (
	"runtime/debug"
	"strings"
)

// Version is herald's version: printed by `herald version`, sent in the
// User-Agent of every webhook as herald/<Version>, logged at start and set
// as the service.version of traces.
//
// A release sets it when it links the binary (docs/release.md):
//
//	go build -ldflags "-X github.com/heraldhq/herald.Version=1.2.3" ./cmd/herald
//
// It must stay a variable initialised with a constant string for -X to
// take. Left as "dev", it becomes the module version that the Go command
// recorded in the binary, when there is one: 1.2.3 after
// `go install github.com/heraldhq/herald/cmd/herald@v1.2.3`, or the
// pseudo-version a build in a Git checkout is stamped with. A leading "v"
// is dropped there, so that every kind of build writes it alike.
var Version = "dev"

func init() {
	if Version != "dev" {
		return // set with -ldflags -X
	}
	if v := moduleVersion(debug.ReadBuildInfo()); v != "" {
		Version = v
	}
}

// moduleVersion is the main module's version in info without its leading
// "v", or "" when the Go command recorded none: no build information (a
// binary built without module support) or "(devel)" (a build outside
// version control, or a test binary).
func moduleVersion(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return ""
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		return ""
	}
	return strings.TrimPrefix(v, "v")
}
