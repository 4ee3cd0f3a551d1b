package herald_test

import (
	"fmt"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
)

func TestValidateURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", herald.MaxURLLength)
	exact := "https://example.com/" + strings.Repeat("a", herald.MaxURLLength-len("https://example.com/"))
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
		{"https://example.com/\xed\xba\xad", "UTF-8"},
	}
	for _, tt := range tests {
		name := tt.raw
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			u, err := herald.ValidateURL(tt.raw)
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
		})
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
		u, err := herald.ValidateURL(raw)
		if err != nil {
			if u != nil {
				t.Fatalf("ValidateURL(%q) returned both a URL and %v", raw, err)
			}
			return
		}
		if len(raw) > herald.MaxURLLength {
			t.Fatalf("accepted a %d-byte URL", len(raw))
		}
		if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
		if u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q: host %q user %v", raw, u.Hostname(), u.User)
		}
		if err := herald.ValidateParsedURL(u); err != nil {
			t.Fatalf("accepted %q but the parsed form fails: %v", raw, err)
		}
	})
}

func ExampleValidateURL() {
	for _, raw := range []string{"https://hooks.example.com/t/123?sig=abc", "ftp://example.com/", "https://user:pw@example.com/"} {
		if _, err := herald.ValidateURL(raw); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("ok:", raw)
	}
	// Output:
	// ok: https://hooks.example.com/t/123?sig=abc
	// URL scheme "ftp" is not allowed; use http or https
	// URL must not contain credentials (userinfo); credentials in URLs leak into logs
}

// LogURL keeps scheme, host and path, never credentials, query or
// fragment.
func TestLogURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hooks.example.com/nango", "https://hooks.example.com/nango"},
		{"https://user:secret@hooks.example.com:8443/a%2Fb?token=s3cret#frag", "https://hooks.example.com:8443/a%2Fb"},
		{"http://[::1]:4000/h?x=1", "http://[::1]:4000/h"},
		{"://bad", "[unparsable URL]"},
	} {
		if got := herald.LogURL(c.in); got != c.want {
			t.Errorf("LogURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
