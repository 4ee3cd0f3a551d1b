package resend

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	const max = 1000
	type step struct {
		after time.Duration // since the previous step
		lag   time.Duration
		n     int
		want  float64 // the rate returned
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"no live traffic: up by a tenth a tick, to the maximum", []step{
			{tick, 0, 0, 350}, {tick, 0, 0, 450}, {tick, 50 * ms, minSamples - 1, 550},
			{tick, 0, 0, 650}, {tick, 0, 0, 750}, {tick, 0, 0, 850}, {tick, 0, 0, 950}, {tick, 0, 0, 1000}, {tick, 0, 0, 1000},
		}},
		{"live lag stays calm: up to the maximum", []step{
			{tick, 4 * ms, 500, 350}, {tick, 4500 * time.Microsecond, 500, 450}, {tick, 5 * ms, 500, 550},
			{tick, 5500 * time.Microsecond, 500, 650},
		}},
		{"live lag past a quarter more than the calm and half a millisecond: cut by 0.7, held for a window, to the floor", []step{
			{tick, 4 * ms, 500, 350}, {tick, 5500*time.Microsecond + 1, 500, 245},
			{tick, 20 * ms, 500, 245}, {tick, 20 * ms, 500, 245}, {tick, 20 * ms, 500, 245}, {tick, 20 * ms, 500, 245},
			{tick, 20 * ms, 500, 171.5}, {lagWindow, 20 * ms, 500, 120.05}, {lagWindow, 20 * ms, 500, 84.035},
			{lagWindow, 20 * ms, 500, 58.8245}, {lagWindow, 20 * ms, 500, 50}, {lagWindow, 20 * ms, 500, 50},
			{lagWindow, 4 * ms, 500, 150},
		}},
		{"the calm is the lowest lag of the last 30 s", []step{
			{tick, 4 * ms, 500, 350}, {time.Second, 10 * ms, 500, 245}, {calmSpan, 10 * ms, 500, 345},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(max)
			now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
			for i, s := range tc.steps {
				now = now.Add(s.after)
				got := p.observe(now, s.lag, s.n)
				if d := got - s.want; d > 1e-6 || d < -1e-6 {
					t.Fatalf("step %d (lag %s over %d): rate %.4f, want %.4f", i, s.lag, s.n, got, s.want)
				}
			}
		})
	}
}
