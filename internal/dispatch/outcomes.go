package dispatch

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// logOutcome writes the log line of an attempt's outcome (docs/running.md,
// Logs): a warning for each failed attempt, and a line when the delivery
// reaches a final state. It never writes a body, a key or a URL's query:
// the URL is logged as scheme://host/path, and the URL is cut the same way
// inside an error message.
func (d *Dispatcher) logOutcome(job herald.Job, res herald.AttemptResult) {
	safe := herald.LogURL(job.URL)
	attrs := []any{
		slog.String("event_id", job.EventID),
		slog.String("delivery_id", job.DeliveryID),
		slog.String("environment_id", job.EnvironmentID),
		slog.String("url", safe),
	}
	if res.Status != herald.StatusSucceeded {
		failed := append(attrs, slog.Int("attempt", res.Attempt.Number))
		if res.Attempt.StatusCode != nil {
			failed = append(failed, slog.Int("status_code", *res.Attempt.StatusCode))
		}
		if res.Attempt.Error != nil {
			failed = append(failed, slog.String("error", redactURL(*res.Attempt.Error, job.URL, safe)))
		}
		if res.Status == herald.StatusPending && res.NextAttemptAt != nil {
			failed = append(failed, slog.String("next_attempt_at", res.NextAttemptAt.UTC().Format(time.RFC3339Nano)))
		} else {
			failed = append(failed, slog.String("next_attempt_at", "final"))
		}
		d.log.Warn("attempt failed", failed...)
	}
	switch res.Status {
	case herald.StatusSucceeded, herald.StatusFailed, herald.StatusSkipped:
		d.log.Info("delivery "+res.Status, append(attrs, slog.Int("attempts", res.Attempt.Number))...)
	}
}

// redactURL replaces the URL, in any of the forms an error message may
// quote it, by its safe form.
func redactURL(msg, raw, safe string) string {
	if raw == "" || raw == safe {
		return msg
	}
	msg = strings.ReplaceAll(msg, raw, safe)
	if u, err := url.Parse(raw); err == nil {
		if s := u.String(); s != raw && s != safe {
			msg = strings.ReplaceAll(msg, s, safe)
		}
		if u.RawQuery != "" {
			msg = strings.ReplaceAll(msg, u.RawQuery, "…")
		}
	}
	return msg
}
