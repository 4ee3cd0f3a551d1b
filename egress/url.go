package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// MaxURLLength is the longest destination URL ValidateURL accepts, in bytes.
const MaxURLLength = 2048

// ValidateURL checks the syntax of a destination URL without any network
// access: it must be an absolute http or https URL of at most MaxURLLength
// bytes with a non-empty host, a valid port if one is given, no whitespace
// or control characters, and no userinfo (credentials in webhook URLs end up
// in logs). It returns the parsed URL.
func ValidateURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("egress: URL is empty")
	}
	if len(raw) > MaxURLLength {
		return nil, fmt.Errorf("egress: URL is %d bytes long; the limit is %d", len(raw), MaxURLLength)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, errors.New("egress: URL contains whitespace or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("egress: invalid URL: %w", err)
	}
	if err := checkParsedURL(u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkParsedURL applies the structural rules of ValidateURL to an already
// parsed URL (Client.Do receives those).
func checkParsedURL(u *url.URL) error {
	if u.Scheme == "" {
		return errors.New("egress: URL must be absolute (start with http:// or https://)")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("egress: URL scheme %q is not allowed; use http or https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("egress: URL must not contain credentials (userinfo); credentials in URLs leak into logs")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("egress: URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("egress: URL port %q is not in 1-65535", p)
		}
	}
	if _, err := netip.ParseAddr(host); err != nil && looksNumeric(host) {
		// "http://2130706433/", "http://0x7f.1/", "http://127.1/": some
		// resolvers (getaddrinfo) read these as IPv4 addresses. The pinned
		// dialer would still judge the result, but there is no legitimate
		// reason for such a host.
		return fmt.Errorf("egress: URL host %q looks like a non-canonical IP address", host)
	}
	return nil
}

// looksNumeric reports whether the last label of a host name is numeric
// (decimal or 0x hex); no real top-level domain is.
func looksNumeric(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		host = host[i+1:]
	}
	if host == "" {
		return false
	}
	if h := strings.ToLower(host); strings.HasPrefix(h, "0x") {
		return strings.Trim(h[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(host, "0123456789") == ""
}

// CheckURL validates raw with ValidateURL and then, unless opts.AllowPrivate
// is set, resolves its host with opts.Resolver (an IP literal is used as-is)
// and returns a *BlockedError if any resolved address is refused by Blocked.
// A host that fails to resolve or resolves to nothing is an error too.
//
// CheckURL is for early feedback (e.g. when an endpoint is registered); the
// enforcement point is Client, which re-resolves and pins at connect time.
func CheckURL(ctx context.Context, raw string, opts Options) error {
	u, err := ValidateURL(raw)
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
