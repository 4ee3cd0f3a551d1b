package herald

import (
	"runtime/debug"
	"testing"
)

// moduleVersion takes the version the Go command recorded, without its
// "v", and nothing from a build that recorded none.
func TestModuleVersion(t *testing.T) {
	for _, tt := range []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true, "1.2.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260325194249-0123456789ab+dirty"}}, true, "0.0.0-20260325194249-0123456789ab+dirty"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, ""},
		{&debug.BuildInfo{}, true, ""},
		{nil, false, ""},
	} {
		var v string
		if tt.info != nil {
			v = tt.info.Main.Version
		}
		if got := moduleVersion(tt.info, tt.ok); got != tt.want {
			t.Errorf("moduleVersion(%q) = %q, want %q", v, got, tt.want)
		}
	}
}
