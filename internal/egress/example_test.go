package egress_test

import (
	"fmt"
	"net/netip"

	"github.com/heraldhq/herald/internal/egress"
)

func ExampleBlocked() {
	for _, s := range []string{"8.8.8.8", "10.0.0.5", "169.254.169.254", "::ffff:127.0.0.1", "fd00:ec2::254", "2606:4700:4700::1111"} {
		reason, blocked := egress.Blocked(netip.MustParseAddr(s))
		if !blocked {
			reason = "allowed"
		}
		fmt.Printf("%-22s %s\n", s, reason)
	}
	// Output:
	// 8.8.8.8                allowed
	// 10.0.0.5               private address
	// 169.254.169.254        cloud metadata address
	// ::ffff:127.0.0.1       loopback address
	// fd00:ec2::254          cloud metadata address
	// 2606:4700:4700::1111   allowed
}
