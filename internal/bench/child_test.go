package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestChildScenarios builds herald and runs the two scenarios that run it
// as a child process, at a tiny size: the steady run (500 events/s for
// 1 s) and the memory run (300 deliveries to a closed port). It checks
// that they work and count right, not how much memory anything takes.
func TestChildScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("child-process scenarios skipped in -short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH to build herald")
	}
	bin := filepath.Join(t.TempDir(), "herald")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "../../cmd/herald")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rep, err := Run(ctx, Config{Binary: bin, Only: []string{"steady", "memory"}, SteadyDuration: time.Second,
		Pending: 300, Concurrency: 8, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if st := rep.Steady; st == nil || st.Rate != 500 || st.Events != 500 || st.Seconds != 1 || st.PeakRSSMiB <= 0 || st.GoalMiB != 60 {
		t.Errorf("steady %+v", rep.Steady)
	}
	if m := rep.Memory; m == nil || m.Pending != 300 || m.PeakRSSMB <= 0 {
		t.Errorf("memory %+v", rep.Memory)
	}
	if rep.Throughput != nil || rep.Convoy != nil {
		t.Errorf("ran more than asked: %+v", rep)
	}
}
