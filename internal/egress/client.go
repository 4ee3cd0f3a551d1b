package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/heraldhq/herald"
)

// Resolver is the DNS lookup used by Client and CheckURL; *net.Resolver
// satisfies it. Implementations must be safe for concurrent use.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configures Client and CheckURL. The zero value is the production
// configuration.
type Options struct {
	// AllowPrivate disables the address policy so every destination is
	// allowed. For local development and tests only.
	AllowPrivate bool
	// Resolver performs DNS lookups; nil means net.DefaultResolver.
	Resolver Resolver
	// MaxIdleConnsPerHost bounds kept-alive idle connections per
	// destination; 0 means 64.
	MaxIdleConnsPerHost int
	// DialTimeout bounds each TCP connect attempt; 0 means 5s.
	DialTimeout time.Duration
}

const (
	defaultMaxIdleConnsPerHost = 64
	defaultDialTimeout         = 5 * time.Second
)

// Client sends requests to untrusted destinations with SSRF protection and
// DNS pinning (see the package documentation). It never follows redirects.
// A Client holds one shared connection pool and is safe for concurrent use;
// create one and reuse it.
type Client struct {
	allowPrivate bool
	resolver     Resolver
	// dial connects to a literal IP:port. Tests replace it to observe or
	// forbid dialling.
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	transport *http.Transport
	client    *http.Client
}

// New returns a Client configured by opts.
func New(opts Options) *Client {
	perHost := opts.MaxIdleConnsPerHost
	if perHost <= 0 {
		perHost = defaultMaxIdleConnsPerHost
	}
	dialTimeout := opts.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = defaultDialTimeout
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		// Defence in depth: re-check the literal address right before connect.
		dialer.ControlContext = controlBlocked
	}
	c := &Client{
		allowPrivate: opts.AllowPrivate,
		resolver:     resolverOf(opts),
		dial:         dialer.DialContext,
	}
	c.transport = &http.Transport{
		Proxy:                 nil, // an environment proxy would resolve the name itself and bypass pinning
		DialContext:           c.dialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		// Webhook receivers get the body exactly as signed; no gzip dance.
		DisableCompression: true,
	}
	c.client = &http.Client{
		Transport: c.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c
}

// Do sends req and returns the response. The URL must pass ValidateURL's
// rules; redirects are not followed (a 3xx response is returned as-is); the
// request's context carries the deadline. A destination refused by the
// address policy yields an error wrapping *BlockedError, and no connection
// is attempted. As with http.Client, the caller must close the response body.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("egress: nil request or request URL")
	}
	if n := len(req.URL.String()); n > herald.MaxURLLength {
		return nil, fmt.Errorf("egress: URL is %d bytes long; the limit is %d", n, herald.MaxURLLength)
	}
	if err := herald.ValidateParsedURL(req.URL); err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	return c.client.Do(req)
}

// HTTPClient is the client underneath Do, for libraries that take an
// *http.Client (the OTLP exporter): the same address policy and DNS
// pinning, no redirects, without Do's URL checks.
func (c *Client) HTTPClient() *http.Client { return c.client }

// CloseIdleConnections closes idle kept-alive connections in the pool.
func (c *Client) CloseIdleConnections() {
	c.transport.CloseIdleConnections()
}

// dialContext is the Transport's DialContext: resolve once, filter by
// policy, dial the checked literal addresses in order.
func (c *Client) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: bad dial address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("egress: bad port in dial address %q", addr)
	}
	ips, err := resolve(ctx, c.resolver, lookupNetwork(network), host)
	if err != nil {
		return nil, err
	}
	allowed := make([]netip.Addr, 0, len(ips))
	var refused *BlockedError
	for _, ip := range ips {
		ip = ip.Unmap()
		if !c.allowPrivate {
			if reason, blocked := Blocked(ip); blocked {
				if refused == nil {
					refused = &BlockedError{Host: host, IP: ip, Reason: reason}
				}
				continue
			}
		}
		allowed = append(allowed, ip)
	}
	if len(allowed) == 0 {
		return nil, refused
	}
	var firstErr error
	for _, ip := range allowed {
		conn, err := c.dial(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func lookupNetwork(network string) string {
	switch network {
	case "tcp4", "udp4":
		return "ip4"
	case "tcp6", "udp6":
		return "ip6"
	}
	return "ip"
}

// controlBlocked runs on the real socket just before connect.
func controlBlocked(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: refusing to dial unparsable address %q", address)
	}
	if reason, blocked := Blocked(ap.Addr()); blocked {
		return &BlockedError{Host: ap.Addr().String(), IP: ap.Addr(), Reason: reason}
	}
	return nil
}
