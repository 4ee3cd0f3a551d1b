package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/nango"
)

// maxResponseBody is how much of a receiver's answer the attempt log keeps.
const maxResponseBody = 4 << 10

// signal is what an attempt says to the endpoint's traffic control,
// beyond its health.
type signal struct {
	// pauseUntil is when the endpoint's Retry-After (429 or 503) ends,
	// capped by the retry policy's largest delay; zero: none.
	pauseUntil time.Time
	// overload: a 429, a 503 or a timeout, which halve the endpoint's
	// concurrency (AIMD); refused: a 429 or a 503, the receiver's own
	// word that it gets too much.
	overload, refused bool
}

// attempt makes one attempt of job and decides the delivery's next state.
// ok is false when the attempt was interrupted by shutdown and must not be
// recorded.
// ep is job's endpoint, nil when it has none yet: its static headers go
// with the request.
func (d *Dispatcher) attempt(ctx context.Context, job herald.Job, ep *herald.Endpoint) (res herald.AttemptResult, sig signal, ok bool) {
	number := job.Attempts + 1
	// The lease generation (fencing token) travels with the outcome, the
	// environment and URL for the endpoint's figures.
	res = herald.AttemptResult{DeliveryID: job.DeliveryID, LeaseGen: job.LeaseGen, EnvironmentID: job.EnvironmentID, URL: job.URL,
		Attempt: herald.Attempt{Number: number}}
	span := d.cfg.Tracing.StartAttempt(ctx, job, number)
	defer func() { span.End(res, ok) }()
	env, err := d.store.EnvironmentByID(ctx, job.EnvironmentID)
	if err != nil {
		if ctx.Err() != nil {
			return res, sig, false
		}
		res.Attempt.StartedAt = time.Now()
		if errors.Is(err, herald.ErrNotFound) {
			res.Status = herald.StatusFailed
			res.Attempt.Error = ptr("environment deleted")
			return res, sig, true
		}
		res, _ = d.decide(res, job.RoundStart, env, fmt.Errorf("load environment: %w", err), nil, time.Now())
		res.Health = "" // herald's trouble, not the endpoint's
		return res, sig, true
	}

	timeout := env.Settings.Timeout()
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, job.URL, bytes.NewReader(job.Body))
	if err != nil {
		res.Attempt.StartedAt = time.Now()
		res.Status = herald.StatusFailed
		res.Attempt.Error = ptr("invalid URL: " + err.Error())
		return res, sig, true
	}
	start := time.Now()
	var static map[string]string
	if ep != nil {
		static = ep.Headers
	}
	setHeaders(req.Header, env, job, static, number, start)
	res.Attempt.StartedAt = start
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return res, sig, false
		}
		if actx.Err() != nil {
			err = fmt.Errorf("timed out after %s", timeout)
			sig.overload = true
		}
		res, sig.pauseUntil = d.decide(res, job.RoundStart, env, err, nil, start)
		return res, sig, true
	}
	body, readErr := readResponse(resp.Body)
	resp.Body.Close()
	if readErr != nil && ctx.Err() != nil {
		return res, sig, false
	}
	if body != "" {
		res.Attempt.ResponseBody = &body
	}
	if readErr != nil {
		// The receiver answered, then its body broke off or stalled: the
		// status stands (a 2xx is still a success), with the reason noted.
		if actx.Err() != nil {
			readErr = fmt.Errorf("timed out after %s", timeout)
			sig.overload = true
		}
		readErr = fmt.Errorf("reading the response body: %w", readErr)
	}
	sig.refused = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
	sig.overload = sig.overload || sig.refused
	res, sig.pauseUntil = d.decide(res, job.RoundStart, env, readErr, resp, start)
	return res, sig, true
}

// responseBufs hold receivers' answers while they are read: the part the
// log keeps, then what is drained after it.
var responseBufs = sync.Pool{New: func() any { return new([maxResponseBody]byte) }}

// maxDrain is how much of an answer is read, past what the log keeps, so
// that the connection can be reused.
const maxDrain = 64 << 10

// readResponse reads what the log keeps of a receiver's answer, as text,
// then drains a little more so the connection can be reused; never more
// than that, and never past the attempt's timeout (the request's
// context). Only the text kept is allocated.
func readResponse(r io.Reader) (string, error) {
	buf := responseBufs.Get().(*[maxResponseBody]byte)
	defer responseBufs.Put(buf)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return text(string(buf[:n])), nil
		}
		if err != nil {
			return text(string(buf[:n])), err
		}
	}
	kept := text(string(buf[:n]))
	for drained := 0; drained < maxDrain; {
		m, err := r.Read(buf[:min(len(buf), maxDrain-drained)])
		drained += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return kept, err
		}
	}
	return kept, nil
}

// text makes s storable as text by every store: valid UTF-8 (ill-formed
// bytes become U+FFFD) without NUL (which PostgreSQL refuses in text; it
// becomes U+FFFD as well). A receiver's answer must never make the
// outcome unwritable.
func text(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	return strings.ReplaceAll(s, "\x00", string(utf8.RuneError))
}

// decide fills in the attempt's outcome and the delivery's next state. err
// is why there is no response, or, with resp, what went wrong reading its
// body: noted on the attempt, and a failure even after a 2xx, since the
// attempt's timeout covers the whole response (as Nango's client does).
// pauseUntil is when a Retry-After on a 429 or 503 ends, capped by the
// retry policy's largest delay (zero: none); the delivery's next attempt
// is no sooner.
func (d *Dispatcher) decide(res herald.AttemptResult, roundStart int, env *herald.Environment, err error, resp *http.Response, start time.Time) (_ herald.AttemptResult, pauseUntil time.Time) {
	end := time.Now()
	res.Attempt.DurationMS = end.Sub(start).Milliseconds()
	var retryAfter time.Duration
	if resp != nil {
		code := resp.StatusCode
		res.Attempt.StatusCode = &code
		var notes []string
		if code >= 300 && code < 400 {
			notes = append(notes, fmt.Sprintf("redirect (%d) not followed", code))
		}
		if err != nil {
			notes = append(notes, text(err.Error()))
		}
		if len(notes) > 0 {
			res.Attempt.Error = ptr(strings.Join(notes, "; "))
		}
		if code >= 200 && code < 300 && err == nil {
			res.Status, res.Health = herald.StatusSucceeded, herald.HealthSuccess
			return res, time.Time{}
		}
		res.Health = herald.HealthFailure
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), end)
			if retryAfter > 0 {
				// The endpoint asked for time: not a failure of its own.
				res.Health = herald.HealthThrottled
			}
		}
	} else {
		res.Attempt.Error = ptr(text(err.Error()))
		var blocked *egress.BlockedError
		if errors.As(err, &blocked) {
			// The URL now resolves somewhere it must not: a final answer,
			// and no word on the endpoint's health.
			res.Status = herald.StatusSkipped
			return res, time.Time{}
		}
		res.Health = herald.HealthFailure
	}
	policy := herald.DefaultRetryPolicy()
	if env != nil {
		policy = env.Settings.Retry
	}
	if retryAfter > 0 {
		pauseUntil = end.Add(min(retryAfter, policy.RetryAfterLimit()))
	}
	// Attempt n of the round is followed by retry n; a retry or recover
	// starts a new round (herald.Delivery.RoundStart).
	if delay, ok := policy.NextDelay(res.Attempt.Number-roundStart, retryAfter); ok {
		next := end.Add(delay)
		res.Status = herald.StatusPending
		res.NextAttemptAt = &next
		return res, pauseUntil
	}
	res.Status = herald.StatusFailed
	return res, pauseUntil
}

// RequestHeaders returns the headers of attempt number of job as herald
// sends them at now (docs/webhooks.md), with the endpoint's static
// headers, for the delivery log to show.
func RequestHeaders(env *herald.Environment, job herald.Job, static map[string]string, number int, now time.Time) http.Header {
	h := http.Header{}
	setHeaders(h, env, job, static, number, now)
	return h
}

// userAgent is herald's User-Agent; Version is settled before any
// package that imports herald initializes.
var userAgent = "herald/" + herald.Version

// ownHeaders is how many headers setHeaders sets itself, without Standard
// Webhooks (standardHeaders more).
const ownHeaders, standardHeaders = 7, 3

// setHeaders sets every header of a webhook request (docs/webhooks.md).
// Every value set is a one-element slice of one backing array: one
// allocation for them all instead of one each.
func setHeaders(h http.Header, env *herald.Environment, job herald.Job, static map[string]string, number int, now time.Time) {
	// A forward carries the provider's headers (SPEC §9); the endpoint's
	// static headers come next, and herald's own, set below, take their
	// place where names meet.
	var extra map[string]string
	if len(job.Headers) > 0 && json.Unmarshal(job.Headers, &extra) != nil {
		extra = nil
	}
	n := len(extra) + len(static) + ownHeaders
	if env.Settings.StandardWebhooks {
		n += standardHeaders
	}
	vals := make([]string, 0, n)
	set := func(name, v string) {
		vals = append(vals, v)
		h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	// The server that took the provider's headers in checked names and
	// values.
	for name, v := range extra {
		set(http.CanonicalHeaderKey(name), v)
	}
	for name, v := range static {
		// PATCH /endpoints/{id} refused herald's own names (ReservedHeader).
		set(http.CanonicalHeaderKey(name), v)
	}
	set("Content-Type", "application/json")
	set("User-Agent", userAgent)
	set(nango.HeaderHMAC, nango.SignHMAC(env.SigningKey, job.Body))
	set(nango.HeaderLegacySignature, nango.SignLegacy(env.SigningKey, job.Body))
	set("X-Herald-Delivery-Id", job.DeliveryID)
	set("X-Herald-Event-Id", job.EventID)
	set("X-Herald-Attempt", strconv.Itoa(number))
	if env.Settings.StandardWebhooks {
		ts := now.Unix()
		var keys [2]string // the signing key and, during a rotation, the previous one
		sigs := keys[:0]
		for _, k := range env.SigningKeys(now) {
			sigs = append(sigs, nango.SignStandard(k, job.EventID, ts, job.Body))
		}
		// Standard Webhooks header names are lower-case by convention; a
		// forwarded provider's own are replaced.
		delete(h, "Webhook-Id")
		delete(h, "Webhook-Timestamp")
		delete(h, "Webhook-Signature")
		set("webhook-id", job.EventID)
		set("webhook-timestamp", strconv.FormatInt(ts, 10))
		set("webhook-signature", strings.Join(sigs, " "))
	}
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(herald.MaxRetryTotal/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func ptr[T any](v T) *T { return &v }
