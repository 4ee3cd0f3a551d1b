package bench

import (
	"os"
	"strings"
	"testing"
)

// procCPUSec finds this very process by its name, at the top of its tree
// (its parent, go test, has another name).
func TestProcCPUSec(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(string(comm))
	sec, roots, ok := procCPUSec(name)
	if !ok || sec < 0 {
		t.Errorf("procCPUSec(%q) = %v, %q, %v; want this process found", name, sec, roots, ok)
	}
	st, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := parseStat(st)
	if want := strings.Fields(string(st))[0] + "@"; !strings.Contains(" "+roots, " "+want) || self.start <= 0 {
		t.Errorf("procCPUSec(%q) roots %q, without this process (%s)", name, roots, want)
	}
	if sec, roots, ok := procCPUSec("no process is named like this"); ok || sec != 0 || roots != "" {
		t.Errorf("procCPUSec of no process = %v, %q, %v", sec, roots, ok)
	}
}
