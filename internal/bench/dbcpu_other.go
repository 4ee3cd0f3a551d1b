//go:build !linux

package bench

// postgresCPUSec is unknown off Linux: there is no /proc to read a
// PostgreSQL server's CPU time from.
func postgresCPUSec() (sec float64, servers string, ok bool) { return 0, "", false }
