package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/heraldhq/herald"
)

// CheckURL validates raw with herald.ValidateURL and then, unless opts.AllowPrivate
// is set, resolves its host with opts.Resolver (an IP literal is used as-is)
// and returns a *BlockedError if any resolved address is refused by Blocked.
// A host that fails to resolve or resolves to nothing is an error too.
//
// CheckURL is for early feedback (e.g. when an endpoint is registered); the
// enforcement point is Client, which re-resolves and pins at connect time.
func CheckURL(ctx context.Context, raw string, opts Options) error {
	u, err := herald.ValidateURL(raw)
	if err != nil {
		return err
	}
	if opts.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	ips, err := resolve(ctx, resolverOf(opts), "ip", host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if reason, blocked := Blocked(ip); blocked {
			return &BlockedError{Host: host, IP: ip, Reason: reason}
		}
	}
	return nil
}

func resolverOf(opts Options) Resolver {
	if opts.Resolver != nil {
		return opts.Resolver
	}
	return net.DefaultResolver
}

// resolve returns the addresses of host: the address itself for an IP
// literal, otherwise exactly one lookup. An empty answer is an error.
func resolve(ctx context.Context, r Resolver, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	ips, err := r.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, fmt.Errorf("egress: host %q does not resolve: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("egress: host %q does not resolve: no addresses", host)
	}
	return ips, nil
}
