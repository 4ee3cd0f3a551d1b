package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/nango"
)

// The operations events (the body's "type").
const (
	EndpointDisabled = "endpoint.disabled"
	EndpointEnabled  = "endpoint.enabled"
)

// DefaultBackoff is the wait before the second attempt and the third.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second}

// loadTimeout bounds reading the environment before a send.
const loadTimeout = 10 * time.Second

// Notifier sends operations events to the environments' alert URLs. A nil
// *Notifier sends nothing. It is safe for concurrent use.
type Notifier struct {
	store  herald.Store
	client *egress.Client
	log    *slog.Logger
	// Backoff is the wait before each retry: one attempt, then one more
	// after each entry (DefaultBackoff: 3 attempts in all). Set it before
	// the first event; tests make it short.
	Backoff []time.Duration

	mu       sync.Mutex
	closed   bool
	stopping chan struct{} // closed by Close: no retry starts after it
	wg       sync.WaitGroup
}

// New returns a Notifier that reads environments from store (pass the
// cached one) and sends through client (the dispatcher's, so that the same
// address policy applies). log nil: slog.Default.
func New(store herald.Store, client *egress.Client, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{store: store, client: client, log: log,
		Backoff: DefaultBackoff, stopping: make(chan struct{})}
}

// Endpoint sends event (EndpointDisabled or EndpointEnabled) about ep to
// its environment's alert_url, if it has one. It returns at once: the
// send goes on in the background, and Close waits for it. Events are not
// ordered: two sent close together may arrive either way round (the
// body's created_at and endpoint.state tell).
func (n *Notifier) Endpoint(event string, ep herald.Endpoint) {
	if n == nil {
		return
	}
	created := time.Now()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.log.Warn("alert dropped: herald is stopping", "event", event, "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID)
		return
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		n.send(event, ep, created)
	}()
}

// Close waits for the attempts in flight, each bounded by its
// environment's timeout_ms; retries not yet started are given up (and
// logged). Events after Close are dropped. Close is idempotent.
func (n *Notifier) Close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.stopping)
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// Body returns the JSON body of event about ep in envID at created: the
// canonical JSON that is sent and signed (docs/settings.md).
func Body(event string, ep herald.Endpoint, envID string, created time.Time) ([]byte, error) {
	state := herald.EndpointHealthy
	switch {
	case ep.Disabled:
		state = herald.EndpointDisabled
	case ep.ConsecutiveFailures > 0:
		state = herald.EndpointDegraded
	}
	var reason, disabledAt any
	if ep.Disabled {
		reason = ep.DisabledReason
		if ep.DisabledAt != nil {
			disabledAt = timestamp(*ep.DisabledAt)
		}
	}
	return canonjson.Marshal(map[string]any{
		"from": "herald",
		"type": event,
		"endpoint": map[string]any{
			"id":                   ep.ID,
			"url":                  ep.URL,
			"state":                state,
			"disabled_reason":      reason,
			"disabled_at":          disabledAt,
			"consecutive_failures": ep.ConsecutiveFailures,
		},
		"environment_id": envID,
		"created_at":     timestamp(created),
	})
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// send loads the environment and tries the alert URL until an attempt
// succeeds, the attempts run out, or Close stops the retries.
func (n *Notifier) send(event string, ep herald.Endpoint, created time.Time) {
	log := n.log.With("event", event, "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID)
	lctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	env, err := n.store.EnvironmentByID(lctx, ep.EnvironmentID)
	cancel()
	if errors.Is(err, herald.ErrNotFound) {
		return // deleted meanwhile: nobody to tell
	}
	if err != nil {
		log.Error("alert not sent: load environment", "err", err)
		return
	}
	if env.Settings.AlertURL == nil || *env.Settings.AlertURL == "" {
		return
	}
	target := *env.Settings.AlertURL
	log = log.With("url", herald.LogURL(target))
	body, err := Body(event, ep, env.ID, created)
	if err != nil {
		log.Error("alert not sent: body", "err", err)
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		log.Error("alert not sent: event id", "err", err)
		return
	}
	attempts := len(n.Backoff) + 1
	for number := 1; ; number++ {
		status, err := n.attempt(env, target, id.String(), body, number)
		if err == nil {
			log.Info("alert sent", "attempt", number, "status", status)
			return
		}
		var blocked *egress.BlockedError
		final := errors.As(err, &blocked) || number >= attempts
		if final {
			log.Warn("alert not sent", "attempt", number, "status", status, "err", err)
			return
		}
		log.Warn("alert attempt failed", "attempt", number, "status", status, "err", err)
		t := time.NewTimer(n.Backoff[number-1])
		select {
		case <-t.C:
		case <-n.stopping:
			t.Stop()
			log.Warn("alert not sent: herald is stopping", "attempts", number)
			return
		}
	}
}

// attempt makes one request; err is nil after a 2xx answer. status is the
// answer's, 0 without one.
func (n *Notifier) attempt(env *herald.Environment, target, id string, body []byte, number int) (status int, err error) {
	timeout := env.Settings.Timeout()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("invalid URL")
	}
	setHeaders(req.Header, env, id, body, number, time.Now())
	resp, err := n.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("timed out after %s", timeout)
		}
		// *url.Error quotes the whole URL, query included: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// setHeaders signs the request as a webhook is signed (docs/webhooks.md):
// the Nango signatures always, Standard Webhooks' when the environment
// asks for them. There is no delivery, so no X-Herald-Delivery-Id.
func setHeaders(h http.Header, env *herald.Environment, id string, body []byte, number int, now time.Time) {
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{"herald/" + herald.Version}
	h[nango.HeaderHMAC] = []string{nango.SignHMAC(env.SigningKey, body)}
	h[nango.HeaderLegacySignature] = []string{nango.SignLegacy(env.SigningKey, body)}
	h["X-Herald-Event-Id"] = []string{id}
	h["X-Herald-Attempt"] = []string{strconv.Itoa(number)}
	if env.Settings.StandardWebhooks {
		ts := now.Unix()
		var sigs []string
		for _, k := range env.SigningKeys(now) {
			sigs = append(sigs, nango.SignStandard(k, id, ts, body))
		}
		h["webhook-id"] = []string{id}
		h["webhook-timestamp"] = []string{strconv.FormatInt(ts, 10)}
		h["webhook-signature"] = []string{strings.Join(sigs, " ")}
	}
}
