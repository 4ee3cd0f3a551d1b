package dispatch

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// FuzzRetryAfter: a receiver's Retry-After header (outside input, on 429
// and 503) read by parseRetryAfter and applied by the retry policy, as
// docs/retries.md says: seconds or an HTTP date; herald waits for the
// longer of the policy's wait and Retry-After, capped at the policy's
// max_delay_ms (exponential form, when not 0) or at 7 days.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 25, 19, 42, 49, 717e6, time.UTC)
	for _, v := range []string{"", "0", "1", "120", " 120 ", "-5", "+7", "007", "1.5", "1e3", "9223372036854775807",
		"99999999999999999999", "604800", "604801", "Wed, 25 Mar 2026 19:43:49 GMT", "Wed, 25 Mar 2026 19:40:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Wednesday, 25-Mar-26 19:43:49 GMT", "Wed Mar 25 19:43:49 2026", "soon", "\x00", "1\n2"} {
		f.Add(v, uint8(0))
	}
	policies := []herald.RetryPolicy{
		herald.DefaultRetryPolicy(),
		{ScheduleMS: []int64{50}},
		{MaxRetries: 3, InitialDelayMS: 1000, Multiplier: 2, MaxDelayMS: 0},
		{MaxRetries: 3, InitialDelayMS: 100, Multiplier: 2, MaxDelayMS: 1000},
	}
	f.Fuzz(func(t *testing.T, header string, which uint8) {
		d := parseRetryAfter(header, now)
		if d < 0 {
			t.Fatalf("Retry-After %q: negative wait %s", header, d)
		}
		v := strings.TrimSpace(header)
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			want := time.Duration(0)
			if secs > 0 {
				want = time.Duration(min(secs, int64(herald.MaxRetryTotal/time.Second))) * time.Second
			}
			if d != want {
				t.Fatalf("Retry-After %q (seconds): %s, want %s", header, d, want)
			}
		} else if at, err := http.ParseTime(v); err == nil {
			if want := max(0, at.Sub(now)); d != want {
				t.Fatalf("Retry-After %q (a date): %s, want %s", header, d, want)
			}
		} else if d != 0 {
			t.Fatalf("Retry-After %q is neither seconds nor a date but gives %s", header, d)
		}

		p := policies[int(which)%len(policies)]
		wait, ok := p.NextDelay(1, d)
		if !ok {
			t.Fatalf("policy %+v: no first retry", p)
		}
		own := p.Delay(1)
		limit := herald.MaxRetryTotal
		if p.ScheduleMS == nil && p.MaxDelayMS > 0 {
			limit = time.Duration(p.MaxDelayMS) * time.Millisecond
		}
		if wait < own {
			t.Fatalf("Retry-After %q with policy %+v: waits %s, less than the policy's %s", header, p, wait, own)
		}
		if wait > max(own, limit) {
			t.Fatalf("Retry-After %q with policy %+v: waits %s, beyond the cap %s", header, p, wait, limit)
		}
		if d > own && wait != min(d, limit) {
			t.Fatalf("Retry-After %q with policy %+v: waits %s, want the hint %s capped at %s", header, p, wait, d, limit)
		}
	})
}
