package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/client"
)

// cliOutcome is a delivery's or attempt's last answer for a table: its
// status code, or its error cut to width characters (0: whole).
func cliOutcome(code *int, errText string, width int) string {
	switch {
	case code != nil:
		return strconv.Itoa(*code)
	case errText != "":
		return cliShorten(errText, width)
	}
	return "-"
}

// cliShorten cuts s to width characters, the last one an ellipsis, and
// puts its line breaks on one line; width 0 only joins the lines.
func cliShorten(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); width > 0 && len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return s
}

func writeDeliveries(w io.Writer, ds []client.Delivery) error {
	rows := [][]string{{"ID", "STATUS", "TYPE", "ATTEMPTS", "LAST", "CREATED", "URL"}}
	for _, d := range ds {
		rows = append(rows, []string{d.ID, d.Status, d.Type, strconv.Itoa(d.Attempts), cliOutcome(d.LastStatusCode, d.LastError, 40),
			cliTime(d.CreatedAt), d.URL})
	}
	return cliTable(w, rows)
}

var deliveriesListCmd = &cliCmd{
	name:    "deliveries list",
	summary: "list deliveries, newest first (GET /deliveries)",
	about: `Lists the environment's deliveries (one per event and URL), newest first,
a page at a time (--all follows every page). LAST is the last attempt's
status code, or its error. With more pages, the cursor of the next one is
printed on standard error.`,
	examples: []string{
		"herald deliveries list --status failed --since 24h",
		"herald deliveries list --type sync --connection-id c1 --all",
		"herald deliveries list --status failed --all --json | jq -r '.data[].id'",
	},
	run: func(ctx context.Context, r *cliRun) error {
		var f listFlags
		f.register(r.fs, "pending, sending, succeeded, failed, skipped, held")
		if err := r.parse(0, 0); err != nil {
			return err
		}
		c := r.client()
		return cliListPages(ctx, r, &f, func(ctx context.Context, p *client.ListParams) ([]client.Delivery, string, error) {
			page, err := c.ListDeliveries(ctx, p)
			if err != nil {
				return nil, "", err
			}
			return page.Data, page.NextCursor, nil
		}, func(ds []client.Delivery, next string) error {
			if err := writeDeliveries(r.io.stdout, ds); err != nil {
				return err
			}
			return r.nextPage(next)
		})
	},
}

var deliveriesShowCmd = &cliCmd{
	name:     "deliveries show",
	synopsis: "ID",
	summary:  "show one delivery with its attempts (GET /deliveries/{id})",
	about: `Shows one delivery: its state, the attempt log (status code or error,
duration, the start of each answer), and the body it sends.`,
	examples: []string{
		"herald deliveries show 5d0c6a7e-9b1f-4c3a-8e2d-7f4b1a9c0e21",
		"herald deliveries show 5d0c6a7e-9b1f-4c3a-8e2d-7f4b1a9c0e21 --json | jq .attempt_log",
	},
	run: func(ctx context.Context, r *cliRun) error {
		if err := r.parse(1, 1); err != nil {
			return err
		}
		d, err := r.client().GetDelivery(ctx, r.pos[0])
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		next := "-"
		if d.NextAttemptAt != nil {
			next = cliTime(*d.NextAttemptAt)
		}
		if err := cliFields(r.io.stdout, "id", d.ID, "event", d.EventID, "type", d.Type, "url", d.URL, "status", d.Status,
			"attempts", strconv.Itoa(d.Attempts), "created", cliTime(d.CreatedAt), "updated", cliTime(d.UpdatedAt),
			"next attempt", next, "last", cliOutcome(d.LastStatusCode, d.LastError, 0)); err != nil {
			return err
		}
		if len(d.AttemptLog) > 0 {
			fmt.Fprintln(r.io.stdout, "\nattempts:")
			rows := [][]string{{"#", "STARTED", "DURATION", "RESULT", "RESPONSE"}}
			for _, a := range d.AttemptLog {
				rows = append(rows, []string{strconv.Itoa(a.Number), cliTime(a.StartedAt), strconv.FormatInt(a.DurationMS, 10) + " ms",
					cliOutcome(a.StatusCode, a.Error, 60), cliDash(cliShorten(a.ResponseBody, 60))})
			}
			if err := cliTable(r.io.stdout, rows); err != nil {
				return err
			}
		}
		fmt.Fprintf(r.io.stdout, "\nbody:\n%s\n", cliIndentJSON(d.Body))
		return nil
	},
}

var deliveriesRetryCmd = &cliCmd{
	name:     "deliveries retry",
	synopsis: "ID",
	summary:  "queue one more round of attempts now (POST /deliveries/{id}/retry)",
	about: `Queues one more round of attempts of a finished delivery (succeeded,
failed or skipped), starting now, to the same URL with the same body. A
delivery already waiting for an attempt is refused (409 conflict).`,
	examples: []string{
		"herald deliveries retry 5d0c6a7e-9b1f-4c3a-8e2d-7f4b1a9c0e21",
		"herald deliveries retry 5d0c6a7e-9b1f-4c3a-8e2d-7f4b1a9c0e21 --json",
	},
	run: func(ctx context.Context, r *cliRun) error {
		if err := r.parse(1, 1); err != nil {
			return err
		}
		d, err := r.client().RetryDelivery(ctx, r.pos[0])
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		_, err = fmt.Fprintf(r.io.stdout, "Queued: delivery %s is %s; follow it with herald deliveries show %s\n", d.ID, d.Status, d.ID)
		return err
	},
}

var deliveriesRecoverCmd = &cliCmd{
	name:    "deliveries recover",
	summary: "requeue every failed delivery of a window (POST /deliveries/recover)",
	about: `Queues a new round of attempts for every failed delivery created in
[--since, --until), for instance after an outage of your webhook URL.
herald spreads them out so that live deliveries go between them.`,
	examples: []string{
		"herald deliveries recover --since 2026-03-25T08:00:00Z --until 2026-03-25T12:00:00Z",
		"herald deliveries recover --since 6h --json",
	},
	run: func(ctx context.Context, r *cliRun) error {
		var since, until string
		r.fs.StringVar(&since, "since", "", "created at or after (required): RFC 3339 time, date, or duration ago (6h, 7d)")
		r.fs.StringVar(&until, "until", "now", "created before: RFC 3339 time, date, now, or duration ago")
		if err := r.parse(0, 0); err != nil {
			return err
		}
		from, to, err := cliWindow(since, until)
		if err != nil {
			return err
		}
		n, err := r.client().Recover(ctx, from, to)
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		_, err = fmt.Fprintf(r.io.stdout, "Requeued %d failed deliveries.\n", n)
		return err
	},
}

// cliWindow reads --since (required) and --until.
func cliWindow(since, until string) (from, to time.Time, err error) {
	if since == "" {
		return from, to, cliUsagef("--since is required")
	}
	now := time.Now()
	if from, err = cliParseWhen("since", since, now); err != nil {
		return from, to, err
	}
	if to, err = cliParseWhen("until", until, now); err != nil {
		return from, to, err
	}
	if !from.Before(to) {
		return from, to, cliUsagef("--since %s is not before --until %s", cliTime(from), cliTime(to))
	}
	return from, to, nil
}
