package egress

import (
	"fmt"
	"net/netip"
)

// BlockedError reports a destination refused by the address policy.
// Callers detect it with errors.As.
type BlockedError struct {
	// Host is the host name (or IP literal) that was requested.
	Host string
	// IP is the refused address.
	IP netip.Addr
	// Reason is the policy's explanation, as returned by Blocked.
	Reason string
}

// Error implements error.
func (e *BlockedError) Error() string {
	return fmt.Sprintf("egress: destination %s (%s) refused: %s", e.Host, e.IP, e.Reason)
}

type rule struct {
	prefix netip.Prefix
	reason string
}

const (
	reasonMetadata = "cloud metadata address"
	reasonPrivate  = "private address"
	reasonDocs     = "documentation address"
)

// Rules are checked in order, so specific entries (metadata endpoints,
// 0.0.0.0, 255.255.255.255) precede the ranges that contain them.
var v4Rules = []rule{
	{netip.MustParsePrefix("169.254.169.254/32"), reasonMetadata}, // AWS, GCP, Azure, OpenStack, ...
	{netip.MustParsePrefix("100.100.100.200/32"), reasonMetadata}, // Alibaba Cloud
	{netip.MustParsePrefix("168.63.129.16/32"), reasonMetadata},   // Azure WireServer (public range, platform-only)
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified address"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), reasonPrivate},
	{netip.MustParsePrefix("172.16.0.0/12"), reasonPrivate},
	{netip.MustParsePrefix("192.168.0.0/16"), reasonPrivate},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment address"},
	{netip.MustParsePrefix("192.0.2.0/24"), reasonDocs},
	{netip.MustParsePrefix("198.51.100.0/24"), reasonDocs},
	{netip.MustParsePrefix("203.0.113.0/24"), reasonDocs},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
}

var v6Rules = []rule{
	{netip.MustParsePrefix("::/128"), "unspecified address"},
	{netip.MustParsePrefix("::1/128"), "loopback address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), reasonMetadata}, // AWS IPv6 IMDS
	{netip.MustParsePrefix("fe80::/10"), "link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "site-local address"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast address"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible address"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "discard-only address"},
	{netip.MustParsePrefix("2001:db8::/32"), reasonDocs},
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixToF4 = netip.MustParsePrefix("2002::/16")
)

// Blocked is the address policy: it reports whether ip must not be
// connected to and, if so, why (for example "loopback address", "private
// address", "link-local address", "cloud metadata address",
// "unique-local address").
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address
// they carry, zones are ignored, and NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses are refused when the IPv4 address they embed is.
// The invalid zero netip.Addr is blocked. Blocked is safe for concurrent use.
func Blocked(ip netip.Addr) (reason string, blocked bool) {
	if !ip.IsValid() {
		return "invalid address", true
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return match(v4Rules, ip)
	}
	if reason, blocked := match(v6Rules, ip); blocked {
		return reason, true
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		if reason, blocked := match(v4Rules, netip.AddrFrom4([4]byte(b[12:16]))); blocked {
			return "NAT64 address embedding " + reason, true
		}
	case sixToF4.Contains(ip):
		if reason, blocked := match(v4Rules, netip.AddrFrom4([4]byte(b[2:6]))); blocked {
			return "6to4 address embedding " + reason, true
		}
	}
	return "", false
}

func match(rules []rule, ip netip.Addr) (string, bool) {
	for _, r := range rules {
		if r.prefix.Contains(ip) {
			return r.reason, true
		}
	}
	return "", false
}
