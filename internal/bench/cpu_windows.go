//go:build windows

package bench

import (
	"time"

	"golang.org/x/sys/windows"
)

// cpuSec is this process's user and kernel CPU time so far, in seconds.
func cpuSec() float64 {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user); err != nil {
		return 0
	}
	// Filetimes count 100 ns intervals.
	k := int64(kernel.HighDateTime)<<32 | int64(kernel.LowDateTime)
	u := int64(user.HighDateTime)<<32 | int64(user.LowDateTime)
	return time.Duration((k + u) * 100).Seconds()
}
