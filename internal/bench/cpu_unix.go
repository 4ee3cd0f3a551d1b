//go:build !windows

package bench

import (
	"syscall"
	"time"
)

// cpuSec is this process's user and system CPU time so far, in seconds.
func cpuSec() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
