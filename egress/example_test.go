package egress_test

import (
	"fmt"
	"net/netip"

	"github.com/heraldhq/herald/egress"
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

func ExampleValidateURL() {
	for _, raw := range []string{"https://hooks.example.com/t/123?sig=abc", "ftp://example.com/", "https://user:pw@example.com/"} {
		if _, err := egress.ValidateURL(raw); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("ok:", raw)
	}
	// Output:
	// ok: https://hooks.example.com/t/123?sig=abc
	// egress: URL scheme "ftp" is not allowed; use http or https
	// egress: URL must not contain credentials (userinfo); credentials in URLs leak into logs
}
