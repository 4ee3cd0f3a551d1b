package server

import (
	"net/url"
	"strings"
	"testing"
)

// TestRedactDSNCredentials: the userinfo and every query parameter whose
// name holds "password" or "sslkey" are hidden, the rest stays as
// written; what cannot be read as a URL is hidden whole.
func TestRedactDSNCredentials(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sqlite:herald.db", "sqlite:herald.db"},
		{"sqlite:herald.db?synchronous=full", "sqlite:herald.db?synchronous=full"},
		{"sqlite:///var/lib/herald/herald.db", "sqlite:///var/lib/herald/herald.db"},
		{"postgres://h/db", "postgres://h/db"},
		{"postgres://herald@h:5432/db?sslmode=require", "postgres://…@h:5432/db?sslmode=require"},
		{"postgres://herald:secret@h:5432/db?sslmode=require", "postgres://…@h:5432/db?sslmode=require"},
		{"postgresql://herald:p%40ss%2Fw0rd@h/db", "postgresql://…@h/db"},
		{"postgres://u:p@ss@h/db", "postgres://…@h/db"},
		{"postgres://:secret@h/db", "postgres://…@h/db"},
		{"postgres://u:secret@/db", "postgres://…@/db"},
		{"postgres://u:secret@", "postgres://…@"},
		{"postgres://h/db?password=secret", "postgres://h/db?password=…"},
		{"postgres://h/db?sslmode=verify-full&sslpassword=secret&sslkey=/etc/key.pem&search_path=s",
			"postgres://h/db?sslmode=verify-full&sslpassword=…&sslkey=…&search_path=s"},
		{"postgres://h/db?PassWord=secret", "postgres://h/db?PassWord=…"},
		{"postgres://h/db?pass%77ord=secret", "postgres://h/db?pass%77ord=…"},
		{"postgres://h/db?my_password_2=secret&x=1", "postgres://h/db?my_password_2=…&x=1"},
		{"postgres://h/db?sslmode=disable;password=secret", "postgres://h/db?sslmode=disable;password=…"},
		{"postgres://h/db?password", "postgres://h/db?password=…"},
		{"postgres://u:secret@h/db?password=other&application_name=herald", "postgres://…@h/db?password=…&application_name=herald"},
		{"postgres://h/db#password=secret", "postgres://h/db#…"},
		{"postgres://herald:secret@db:5432/herald?sslpassword=x&sslmode=require", "postgres://…@db:5432/herald?sslpassword=…&sslmode=require"},
		{"postgres://h/db?options=-c%20password%3Dsecret", "postgres://h/db?options=…"},
		// A secret that also shows elsewhere hides everything.
		{"postgres://u:secret@h/db?application_name=secret", "[redacted]"},
		{"postgres://h/db?password=herald&application_name=herald", "[redacted]"},
		// Not a URL, or not one that can be read: hidden whole.
		{"host=h user=u password=secret dbname=db", "[redacted]"},
		{"postgres:u:secret@h/db", "[redacted]"},
		{"postgres://u:secret@h:port/db", "[redacted]"},
		{"postgres://u:secret@[::1/db", "[redacted]"},
		{"://u:secret@h", "[redacted]"},
		{"postgres://u:sec\x00ret@h/db", "[redacted]"},
		{"", "[redacted]"},
	}
	for _, tt := range tests {
		if got := redactDSN(tt.in); got != tt.want {
			t.Errorf("redactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRedactDSN: whatever the DSN, redactDSN does not panic, and a
// password set in the userinfo or in a password-like query parameter never
// shows in its output.
func FuzzRedactDSN(f *testing.F) {
	f.Add("herald", "hunter2", "db.internal:5432", "password", "sslmode", "require", uint8(3))
	f.Add("", "p@ss/w:rd?#&", "h", "sslpassword", "x", "", uint8(1))
	f.Add("u", "%41%zz", "[::1]:5432", "SSLKEY", "search_path", "s;t", uint8(2))
	f.Add("u:v", "pw", "h/db?x=1", "pass%77ord", "password2", "y", uint8(6))
	f.Fuzz(func(t *testing.T, user, pass, host, key, other, otherValue string, where uint8) {
		// The password carries a marker that the other parts must not
		// hold, so that its absence from the output is what is checked.
		const marker = "S3CRET"
		secret := marker + pass
		for _, part := range []string{user, host, key, other, otherValue} {
			for _, s := range []string{part, unescapeOr(part), pathUnescapeOr(part)} {
				if strings.Contains(strings.ToUpper(s), "S3CR") {
					t.Skip()
				}
			}
		}
		// A key that holds a separator makes the secret another
		// parameter's value (?PASSWORD&0=secret is "PASSWORD" and "0"):
		// nothing says that one is a password.
		if strings.ContainsAny(key, "&;=#") {
			t.Skip()
		}
		// Arbitrary text as a whole DSN: never a panic.
		redactDSN(user + pass + host + key + other + otherValue)

		dsn := "postgres://"
		if where&1 != 0 { // in the userinfo
			dsn += user + ":" + secret + "@"
		}
		dsn += host + "/db"
		if where&2 != 0 { // in a query parameter named like a password
			names := []string{"password", "sslpassword", "sslkey", key + "password", "PASSWORD" + key}
			dsn += "?" + names[int(where>>2)%len(names)] + "=" + secret + "&" + other + "=" + otherValue
		}
		if where&3 == 0 {
			return
		}
		if got := redactDSN(dsn); strings.Contains(got, marker) {
			t.Fatalf("redactDSN(%q) = %q shows the password", dsn, got)
		}
	})
}

func pathUnescapeOr(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}
