package egress

import (
	"net/netip"
	"strings"
	"testing"
)

func TestBlocked(t *testing.T) {
	tests := []struct {
		ip      string
		blocked bool
		reason  string // substring; checked only when non-empty
	}{
		// IPv4 refused
		{"0.0.0.0", true, "unspecified"},
		{"0.1.2.3", true, "this-network"},
		{"127.0.0.1", true, "loopback"},
		{"127.255.255.254", true, "loopback"},
		{"10.0.0.5", true, "private"},
		{"10.255.255.255", true, "private"},
		{"172.16.0.1", true, "private"},
		{"172.31.255.255", true, "private"},
		{"192.168.1.1", true, "private"},
		{"169.254.169.254", true, "cloud metadata"},
		{"169.254.170.2", true, "link-local"},
		{"169.254.0.1", true, "link-local"},
		{"100.64.0.1", true, "CGNAT"},
		{"100.127.255.255", true, "CGNAT"},
		{"100.100.100.200", true, "cloud metadata"},
		{"168.63.129.16", true, "cloud metadata"},
		{"192.0.0.8", true, "IETF"},
		{"192.0.2.1", true, "documentation"},
		{"198.18.0.1", true, "benchmarking"},
		{"198.19.255.255", true, "benchmarking"},
		{"224.0.0.1", true, "multicast"},
		{"239.255.255.250", true, "multicast"},
		{"240.0.0.1", true, "reserved"},
		{"255.255.255.255", true, "broadcast"},
		// IPv4 allowed (boundaries of the blocked ranges and public hosts)
		{"8.8.8.8", false, ""},
		{"1.1.1.1", false, ""},
		{"93.184.216.34", false, ""},
		{"172.15.255.255", false, ""},
		{"172.32.0.0", false, ""},
		{"100.63.255.255", false, ""},
		{"100.128.0.0", false, ""},
		{"11.0.0.1", false, ""},
		{"126.255.255.255", false, ""},
		{"128.0.0.1", false, ""},
		{"198.17.255.255", false, ""},
		{"198.20.0.0", false, ""},
		{"223.255.255.255", false, ""},
		{"192.169.0.1", false, ""},
		// IPv6 refused
		{"::", true, "unspecified"},
		{"::1", true, "loopback"},
		{"::ffff:10.0.0.1", true, "private"},
		{"::ffff:127.0.0.1", true, "loopback"},
		{"::ffff:169.254.169.254", true, "cloud metadata"},
		{"fe80::1", true, "link-local"},
		{"fe80::1%eth0", true, "link-local"},
		{"febf:ffff::1", true, "link-local"},
		{"fc00::1", true, "unique-local"},
		{"fd12:3456::1", true, "unique-local"},
		{"fd00:ec2::254", true, "cloud metadata"},
		{"ff02::1", true, "multicast"},
		{"fec0::1", true, "site-local"},
		{"::127.0.0.1", true, "IPv4-compatible"},
		{"64:ff9b::10.0.0.1", true, "NAT64 address embedding private"},
		{"64:ff9b::169.254.169.254", true, "cloud metadata"},
		{"64:ff9b::7f00:1", true, "loopback"},
		{"2002:7f00:1::1", true, "6to4 address embedding loopback"},
		{"2002:a9fe:a9fe::", true, "cloud metadata"},
		{"2001:db8::1", true, "documentation"},
		// IPv6 allowed
		{"2606:4700:4700::1111", false, ""},
		{"2001:4860:4860::8888", false, ""},
		{"::ffff:8.8.8.8", false, ""},
		{"64:ff9b::8.8.8.8", false, ""},
		{"2002:808:808::1", false, ""},
		{"fe00::1", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			reason, blocked := Blocked(netip.MustParseAddr(tt.ip))
			if blocked != tt.blocked {
				t.Fatalf("Blocked(%s) = (%q, %v), want blocked=%v", tt.ip, reason, blocked, tt.blocked)
			}
			if blocked && reason == "" {
				t.Errorf("Blocked(%s): empty reason", tt.ip)
			}
			if !blocked && reason != "" {
				t.Errorf("Blocked(%s): reason %q for an allowed address", tt.ip, reason)
			}
			if tt.reason != "" && !strings.Contains(reason, tt.reason) {
				t.Errorf("Blocked(%s) reason = %q, want it to contain %q", tt.ip, reason, tt.reason)
			}
		})
	}
}

func TestBlockedInvalidAddr(t *testing.T) {
	if _, blocked := Blocked(netip.Addr{}); !blocked {
		t.Fatal("the zero netip.Addr must be blocked")
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	e := &BlockedError{Host: "evil.test", IP: netip.MustParseAddr("10.0.0.5"), Reason: "private address"}
	want := "egress: destination evil.test (10.0.0.5) refused: private address"
	if got := e.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// FuzzBlocked checks that an IPv4 address and its IPv4-mapped IPv6 form get
// the same verdict, and that Blocked never panics.
func FuzzBlocked(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1})
	f.Add([]byte{8, 8, 8, 8})
	f.Add(netip.MustParseAddr("fd00:ec2::254").AsSlice())
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		reason, blocked := Blocked(ip)
		if blocked == (reason == "") {
			t.Fatalf("Blocked(%s) = (%q, %v): reason must be set iff blocked", ip, reason, blocked)
		}
		if ip.Is4() {
			r2, b2 := Blocked(netip.AddrFrom16(ip.As16()))
			if r2 != reason || b2 != blocked {
				t.Fatalf("Blocked(%s)=(%q,%v) but mapped form gives (%q,%v)", ip, reason, blocked, r2, b2)
			}
		}
	})
}
