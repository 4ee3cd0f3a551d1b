package egress

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeResolver answers from a fixed table and counts lookups. It never
// touches the network.
type fakeResolver struct {
	hosts map[string][]string
	calls atomic.Int64
}

var errNXDOMAIN = errors.New("no such host")

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	addrs, ok := r.hosts[host]
	if !ok {
		return nil, errNXDOMAIN
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{hosts: map[string][]string{
		"public.test":   {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
		"mixed.test":    {"93.184.216.34", "10.0.0.5"},
		"metadata.test": {"169.254.169.254"},
		"local.test":    {"127.0.0.1"},
		"mapped.test":   {"::ffff:192.168.0.10"},
		"empty.test":    {},
	}}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		name         string
		raw          string
		allowPrivate bool
		wantBlocked  string // expected BlockedError.IP, "" if not blocked
		wantErr      string // substring of a non-blocked error
		wantLookups  int64
	}{
		{"public", "https://public.test/hook", false, "", "", 1},
		{"mixed public and private", "https://mixed.test/hook", false, "10.0.0.5", "", 1},
		{"metadata", "http://metadata.test/latest/meta-data/", false, "169.254.169.254", "", 1},
		{"loopback name", "http://local.test:8080/", false, "127.0.0.1", "", 1},
		{"mapped private", "http://mapped.test/", false, "::ffff:192.168.0.10", "", 1},
		{"nxdomain", "https://nope.test/", false, "", "does not resolve", 1},
		{"empty answer", "https://empty.test/", false, "", "does not resolve", 1},
		{"private IP literal", "http://10.0.0.5/", false, "10.0.0.5", "", 0},
		{"loopback IPv6 literal", "http://[::1]:9000/", false, "::1", "", 0},
		{"public IP literal", "http://8.8.8.8/", false, "", "", 0},
		{"allow private literal", "http://127.0.0.1/", true, "", "", 0},
		{"allow private name", "http://local.test/", true, "", "", 0},
		{"allow private unknown name", "http://nope.test/", true, "", "", 0},
		{"invalid URL", "ftp://public.test/", false, "", "scheme", 0},
		{"invalid URL even when private allowed", "https://u:p@local.test/", true, "", "credentials", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFakeResolver()
			err := CheckURL(context.Background(), tt.raw, Options{AllowPrivate: tt.allowPrivate, Resolver: r})
			if got := r.calls.Load(); got != tt.wantLookups {
				t.Errorf("resolver called %d times, want %d", got, tt.wantLookups)
			}
			var be *BlockedError
			switch {
			case tt.wantBlocked != "":
				if !errors.As(err, &be) {
					t.Fatalf("CheckURL(%q) = %v, want *BlockedError", tt.raw, err)
				}
				if be.IP != netip.MustParseAddr(tt.wantBlocked) {
					t.Errorf("BlockedError.IP = %s, want %s", be.IP, tt.wantBlocked)
				}
				if be.Reason == "" || be.Host == "" {
					t.Errorf("BlockedError incomplete: %+v", be)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CheckURL(%q) = %v, want error containing %q", tt.raw, err, tt.wantErr)
				}
				if errors.As(err, &be) {
					t.Fatalf("CheckURL(%q) = %v, should not be a *BlockedError", tt.raw, err)
				}
			default:
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want nil", tt.raw, err)
				}
			}
		})
	}
}

func TestCheckURLWrapsResolverError(t *testing.T) {
	err := CheckURL(context.Background(), "https://nope.test/", Options{Resolver: newFakeResolver()})
	if !errors.Is(err, errNXDOMAIN) {
		t.Fatalf("CheckURL error %v does not wrap the resolver error", err)
	}
}
