package resend

import "time"

// Pacing of a bulk replay: it writes a chunk of deliveries every tick, as
// many as its current rate allows, and sets that rate by additive increase
// and multiplicative decrease on live traffic's lag (the dispatcher's
// LiveLag): it backs off while live deliveries wait longer than they did
// calm, and speeds up again, up to Config.Rate, while they do not. So a
// replay uses the room live traffic leaves, on any machine, and never
// takes what live traffic needs.
const (
	// tick is how often a replay writes a chunk.
	tick = 100 * time.Millisecond
	// lagWindow is the span of live lag each decision looks at.
	lagWindow = 500 * time.Millisecond
	// lagQuantile is the live lag compared: the 99th percentile.
	lagQuantile = 0.99
	// minSamples is how many live deliveries a window needs to say
	// anything: fewer, and there is no live traffic to yield to.
	minSamples = 20
	// calmSpan is how far back the calm lag (the lowest of the windows)
	// is remembered.
	calmSpan = 30 * time.Second
	// slack is how much above calm live lag may go before the replay
	// backs off: by a quarter, plus half a millisecond of scheduling
	// noise.
	slackFactor = 1.25
	slackAbs    = 500 * time.Microsecond
	// backoff multiplies the rate when live traffic suffers (then the
	// rate holds for a window, while the lag still shows the time before
	// the cut); the rate grows back by a tenth of the maximum per calm
	// tick.
	backoff = 0.7
	// floorShare is the lowest rate, as a share of the maximum: a replay
	// always moves on.
	floorShare = 0.05
)

// lagFunc is the dispatcher's LiveLag.
type lagFunc func(q float64, window time.Duration) (time.Duration, int)

// pacer decides a bulk replay's rate.
type pacer struct {
	max, rate float64
	// hold is when the window of lag behind the last cut has passed:
	// until then the lag still shows what came before the cut, and the
	// rate stays as it is.
	hold time.Time
	// calm holds each window's lag, newest last, for calmSpan.
	calm []sample
}

type sample struct {
	at  time.Time
	lag time.Duration
}

// newPacer starts at a quarter of max: the calm lag is learnt before the
// replay weighs much.
func newPacer(max int) *pacer {
	return &pacer{max: float64(max), rate: float64(max) / 4}
}

// observe takes one window's live lag (n deliveries) at now and returns
// the rate, in deliveries per second, for the next tick.
func (p *pacer) observe(now time.Time, lag time.Duration, n int) float64 {
	if n < minSamples {
		// No live traffic to speak of: nothing to yield to.
		p.rate = min(p.max, p.rate+p.max/10)
		return p.rate
	}
	// Forget windows older than calmSpan; the calm is the lowest left.
	keep := 0
	for keep < len(p.calm) && now.Sub(p.calm[keep].at) > calmSpan {
		keep++
	}
	p.calm = append(p.calm[keep:], sample{now, lag})
	calm := lag
	for _, s := range p.calm {
		calm = min(calm, s.lag)
	}
	switch {
	case now.Before(p.hold):
	case lag > time.Duration(float64(calm)*slackFactor)+slackAbs:
		p.rate = max(p.max*floorShare, p.rate*backoff)
		p.hold = now.Add(lagWindow)
	default:
		p.rate = min(p.max, p.rate+p.max/10)
	}
	return p.rate
}
