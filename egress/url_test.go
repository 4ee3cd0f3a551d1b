package egress

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestValidateURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength)
	exact := "https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/"))
	tests := []struct {
		raw     string
		wantErr string // substring; "" means valid
	}{
		{"http://example.com", ""},
		{"https://example.com/", ""},
		{"https://example.com:8443/hooks/abc?x=1&y=2", ""},
		{"http://hooks.example.com:80/path/to/hook?token=abc#frag", ""},
		{"HTTPS://Example.COM/Path", ""},
		{"http://[2001:db8::1]:8080/", ""},
		{"http://127.0.0.1:9000/", ""}, // syntax only; the policy is not applied here
		{exact, ""},
		{"", "empty"},
		{"ftp://example.com/file", `scheme "ftp" is not allowed`},
		{"javascript:alert(1)", `scheme "javascript" is not allowed`},
		{"file:///etc/passwd", `scheme "file" is not allowed`},
		{"gopher://127.0.0.1:6379/_INFO", `scheme "gopher" is not allowed`},
		{"/relative/path", "absolute"},
		{"example.com/hook", "absolute"},
		{"//example.com/hook", "absolute"},
		{"http://", "no host"},
		{"http:///path", "no host"},
		{"http://:8080/", "no host"},
		{"http:example.com", "no host"},
		{"https://user:pass@example.com/", "credentials"},
		{"https://user@example.com/", "credentials"},
		{"https://:@example.com/", "credentials"},
		{long, "limit is 2048"},
		{"http://exa mple.com/", "whitespace"},
		{"http://example.com/a b", "whitespace"},
		{" http://example.com/", "whitespace"},
		{"http://example.com/\n", "whitespace"},
		{"http://example.com/\x00", "control"},
		{"http://example.com:99999/", "port"},
		{"http://example.com:0/", "port"},
		{"http://example.com:abc/", "invalid URL"},
		{"http://2130706433/", "non-canonical"},
		{"http://0x7f.1/", "non-canonical"},
		{"http://127.1/", "non-canonical"},
		{"http://%zz/", "invalid URL"},
	}
	for _, tt := range tests {
		name := tt.raw
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			u, err := ValidateURL(tt.raw)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateURL(%q) = %v, want nil", tt.raw, err)
				}
				if u == nil || u.Hostname() == "" {
					t.Fatalf("ValidateURL(%q) returned URL %v", tt.raw, u)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateURL(%q) = nil error, want one containing %q", tt.raw, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateURL(%q) = %q, want it to contain %q", tt.raw, err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "egress: ") {
				t.Errorf("error %q lacks the egress: prefix", err)
			}
		})
	}
}

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

// FuzzValidateURL checks that ValidateURL never panics and that whatever it
// accepts satisfies its contract.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hook?x=1",
		"http://[::1]:80/",
		"ftp://x",
		"javascript:alert(1)",
		"https://u:p@h/",
		"http://%41:%42@[::1%25eth0]:1/",
		"",
		"http://2130706433/",
		"http://a b/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ValidateURL(raw)
		if err != nil {
			if u != nil {
				t.Fatalf("ValidateURL(%q) returned both a URL and %v", raw, err)
			}
			return
		}
		if len(raw) > MaxURLLength {
			t.Fatalf("accepted a %d-byte URL", len(raw))
		}
		if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		if u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q: host %q user %v", raw, u.Hostname(), u.User)
		}
		if err := checkParsedURL(u); err != nil {
			t.Fatalf("accepted %q but the parsed form fails: %v", raw, err)
		}
	})
}
