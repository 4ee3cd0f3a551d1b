//go:build linux

package bench

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// postgresCPUSec is the CPU time, user and system, in seconds, of the
// processes on this machine whose name starts with "postgres": a
// PostgreSQL server's postmaster, backends and background processes (and
// those of any other server on the machine), with the time of the
// backends that have exited, which their parent keeps. servers names the
// processes at the top of those trees (the postmasters, by pid and start
// time): a server restarted between two readings makes them differ, and
// the difference of their times meaningless. ok is false when there is
// no such process.
func postgresCPUSec() (sec float64, servers string, ok bool) {
	return procCPUSec("postgres")
}

// procCPUSec is postgresCPUSec for the processes whose name
// (/proc/<pid>/comm) starts with prefix.
func procCPUSec(prefix string) (sec float64, roots string, ok bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", false
	}
	procs := map[int64]procStat{}
	for _, e := range ents {
		pid, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || !strings.HasPrefix(string(comm), prefix) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if st, found := parseStat(stat); found {
			procs[pid] = st
		}
	}
	var ticks int64
	var top []string
	for pid, st := range procs {
		ticks += st.ticks
		if _, child := procs[st.ppid]; !child {
			top = append(top, fmt.Sprintf("%d@%d", pid, st.start))
		}
	}
	slices.Sort(top)
	return float64(ticks) / clkTck, strings.Join(top, " "), len(procs) > 0
}
