package main

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/client"
)

var replayCmd = &cliCmd{
	name:     "replay",
	synopsis: "(--since WHEN [--until WHEN] [filters] | EVENT_ID)",
	summary:  "send events again to the current URLs",
	about: `Sends events again, whatever their fate (skipped ones too), as new
deliveries to the environment's current webhook URLs: every event created
in [--since, --until) that the filters select (POST /events/replay), or
the one event EVENT_ID (POST /events/{id}/replay).

A bulk replay is asynchronous: herald answers at once with the number of
events queued, then writes their deliveries in the background, at up to
1,000 a second and slower while live traffic would wait. Follow them with
herald deliveries list --since <when you ran the replay>. The same replay
again within a minute queues nothing.`,
	examples: []string{
		"herald replay --since 2026-03-25T08:00:00Z --until 2026-03-25T12:00:00Z",
		"herald replay --since 24h --type sync --connection-id c1",
		"herald replay --since 7d --status skipped --json",
		"herald replay 0b7c4b8e-2f0c-4f43-9d1e-3f6a1c2b9e10",
	},
	run: func(ctx context.Context, r *cliRun) error {
		var since, until, typ, conn, pck, status string
		r.fs.StringVar(&since, "since", "", "created at or after (required for a bulk replay): RFC 3339 time, date, or duration ago (24h, 7d)")
		r.fs.StringVar(&until, "until", "now", "created before: RFC 3339 time, date, now, or duration ago")
		r.fs.StringVar(&typ, "type", "", "only this type: auth, sync, async_action, forward")
		r.fs.StringVar(&conn, "connection-id", "", "only this connection")
		r.fs.StringVar(&pck, "provider-config-key", "", "only this integration")
		r.fs.StringVar(&status, "status", "", "only events of this fate: skipped, pending, succeeded, failed")
		if err := r.parse(0, 1); err != nil {
			return err
		}
		if len(r.pos) == 1 {
			for _, name := range []string{"since", "until", "type", "connection-id", "provider-config-key", "status"} {
				if r.set(name) {
					return cliUsagef("--%s selects events for a bulk replay: give it or an EVENT_ID, not both", name)
				}
			}
			n, err := r.client().ReplayEvent(ctx, r.pos[0])
			if err != nil {
				return err
			}
			if r.json {
				return r.printJSON()
			}
			if n == 0 {
				_, err = fmt.Fprintln(r.io.stdout, "Queued nothing: the environment has no webhook URL for this event.")
				return err
			}
			_, err = fmt.Fprintf(r.io.stdout, "Queued event %s; follow it with herald events show %s\n", r.pos[0], r.pos[0])
			return err
		}
		from, to, err := cliWindow(since, until)
		if err != nil {
			return err
		}
		start := time.Now()
		n, err := r.client().Replay(ctx, client.ReplayParams{Since: from, Until: to, Type: typ, ConnectionID: conn,
			ProviderConfigKey: pck, Status: status})
		if err != nil {
			return err
		}
		if r.json {
			return r.printJSON()
		}
		if n == 0 {
			_, err = fmt.Fprintln(r.io.stdout, "Queued 0 events: none matched, or the same replay ran less than a minute ago.")
			return err
		}
		_, err = fmt.Fprintf(r.io.stdout, "Queued %d event(s) for replay; herald writes their deliveries in the background (live traffic first).\n"+
			"Follow them: herald deliveries list --since %s\n", n, cliTime(start))
		return err
	},
}
