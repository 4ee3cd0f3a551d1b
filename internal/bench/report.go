package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes the report as text tables.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "herald bench — %s\n\n", r.Machine)
	fmt.Fprintf(w, "raw ceiling (Go client → Go receiver, keep-alive): %.0f requests/s, %.3f CPU s per 1,000 requests\n\n", r.RawPerSec, r.RawCPUPer1000)
	if len(r.Throughput) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "store\tprocesses\tmode\tevents\taccepted/s\tdeliveries/s\tof ceiling\tduplicates\tCPU s/1,000\tof ceiling's\tdb CPU s/1,000\twith db, of ceiling's\tWAL bytes/delivery\t")
		for _, t := range r.Throughput {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.0f\t%.0f\t%.0f %%\t%d\t%.3f\t%.2f\t%s\t%s\t%s\t\n", t.Store, t.Processes, t.Mode, t.Events,
				t.AcceptedPerSec, t.DeliveriesPerSec, 100*t.OfCeiling, t.Duplicates,
				t.CPUPer1000, t.CPUOfCeiling, t.dbCPUCell(), opt(t.CPUWithDBOfCeiling, "%.2f"), opt(t.WALBytesPerDelivery, "%.0f"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, throughputNote)
		fmt.Fprintln(w)
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "accept-to-first-attempt at %d events/s (achieved %.0f, %d events): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
			l.Rate, l.AchievedRate, l.Events, l.P50MS, l.P95MS, l.P99MS)
	}
	for _, x := range []*Ratio{r.Isolation, r.RetryStorm, r.ReplayLoad} {
		if x != nil {
			fmt.Fprintf(w, "%s: %.1f vs %.1f = %.2f\n", x.What, x.Disturbed, x.Baseline, x.Ratio)
		}
	}
	if t := r.Throttle; t != nil {
		t.write(w)
	}
	if o := r.Outage; o != nil {
		o.write(w)
	}
	if f := r.Forwarding; f != nil {
		fmt.Fprintf(w, "forwarding, one provider webhook per request (%d): %.0f answered/s, %.0f forwarded/s = %.0f %% of the ceiling, %.2f of /events one per request (%.0f/s)\n",
			f.Webhooks, f.InboundPerSec, f.ForwardsPerSec, 100*f.OfCeiling, f.OfEvents, f.EventsPerSec)
		fmt.Fprintf(w, "provider answer time at %d webhooks/s (achieved %.0f): p50 %.1f ms, p99 %.1f ms\n",
			f.Rate, f.AchievedRate, f.AnswerP50MS, f.AnswerP99MS)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "peak RSS with %d deliveries pending: %.0f MB (ingested in %.0f s)\n", m.Pending, m.PeakRSSMB, m.IngestSec)
	}
	if st := r.Steady; st != nil {
		fmt.Fprintf(w, "peak RSS at a steady %d events/s for %.0f s (%d events, one per request, one healthy URL): %.1f MiB (goal ≤ %.0f MiB)\n",
			st.Rate, st.Seconds, st.Events, st.PeakRSSMiB, st.GoalMiB)
	}
	if c := r.Convoy; c != nil {
		c.write(w)
	}
	if o := r.Outpost; o != nil {
		o.write(w)
	}
	fmt.Fprintf(w, "\nwhole run: %.0f s\n", r.DurationSec)
	return nil
}

// throughputNote says what the cost columns of the throughput table are.
const throughputNote = `CPU s/1,000: the bench process's CPU (user + system: herald, producers and receiver), first request to last delivery, per 1,000 deliveries; of ceiling's: ÷ the raw ceiling's CPU per 1,000 requests.
db CPU: the PostgreSQL server's processes on this machine over the same window (/proc; anything else the server did included), not in the bench process; SQLite runs in it ("in process"). with db: (CPU + db CPU) ÷ the raw ceiling's.
WAL: SQLite, what herald's store wrote to its log (herald_store_wal_bytes_total); PostgreSQL, WAL the whole server generated (pg_current_wal_insert_lsn), anything else it served included; from before the run until herald had written every outcome.`

// dbCPUCell is the database CPU column of t's row.
func (t *Throughput) dbCPUCell() string {
	switch {
	case t.DBCPUPer1000 != nil:
		return fmt.Sprintf("%.3f", *t.DBCPUPer1000)
	case t.DatabaseCPU == dbInProcess:
		return "in process"
	}
	return "unknown"
}

// opt formats *v, or "unknown" when v is nil.
func opt(v *float64, format string) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf(format, *v)
}

func (t *Throttle) write(w io.Writer) {
	fmt.Fprintf(w, "%s: %.1f vs %.1f = %.2f\n", t.Healthy.What, t.Healthy.Disturbed, t.Healthy.Baseline, t.Healthy.Ratio)
	fmt.Fprintf(w, "requests to one throttled URL (advertised %d/s, 429s included): at most %d in any 1 s, %d in a clock second, mean %.1f/s; %d requests to the %d URLs, %d answered 429\n",
		t.Rate, t.PeakAny1s, t.PeakClockSecond, t.MeanPerSec, t.Requests, t.URLs, t.Refused)
	fmt.Fprintf(w, "deliveries to the throttled URLs: %d sent, %d succeeded, %d failed, %d neither after %.0f s\n",
		t.Sent, t.Succeeded, t.Failed, t.Pending, t.DrainSec)
}

func (o *Outage) write(w io.Writer) {
	fmt.Fprintf(w, "%s: %.1f vs %.1f = %.2f\n", o.Live.What, o.Live.Disturbed, o.Live.Baseline, o.Live.Ratio)
	fmt.Fprintf(w, "deliveries to the URL that was down: %d sent, %d received once it was back (first after %.1f s, last after %.1f s), %d failed, %d neither; %d attempts answered 503 while down\n",
		o.Sent, o.Received, o.FirstAfterSec, o.LastAfterSec, o.Failed, o.Pending, o.RequestsWhileDown)
	fmt.Fprintf(w, "their arrival order: %d arrivals more than %d places behind the newest already arrived; %d pairs out of creation order (%.2f %% of pairs)\n",
		o.BeyondWindow, o.Window, o.Inversions, 100*o.InversionFraction)
}

// costNote says what the cost figures of the peers' scenarios cover.
const costNote = "herald, load generator and receiver in one process"

func (c *Convoy) write(w io.Writer) {
	for _, l := range c.Rates {
		fmt.Fprintf(w, "convoy, one endpoint, %d events/s for %.0f s (achieved %.0f, %d events): accept-to-first-attempt p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
			l.Rate, c.PhaseSec, l.AchievedRate, l.Events, l.P50MS, l.P95MS, l.P99MS)
	}
	fmt.Fprintf(w, "convoy goal: p95 ≤ %.0f ms at 200/s (Convoy publishes 124 ms on its best queue)\n", c.GoalP95MS)
	c.Cost.write(w, "convoy")
}

func (o *Outpost) write(w io.Writer) {
	fmt.Fprintf(w, "outpost, %d publishers at %d events/s each to %d destinations: %d sent (achieved %.0f/s), %d received, %d lost (after %.1f s for stragglers); accept-to-first-attempt p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
		o.Publishers, o.PublisherRate, o.Destinations, o.Sent, o.AchievedRate, o.Received, o.Lost, o.WaitSec, o.P50MS, o.P95MS, o.P99MS)
	fmt.Fprintf(w, "outpost goal: 0 lost, p99 ≤ %.0f ms\n", o.GoalP99MS)
	o.Cost.write(w, "outpost")
}

func (c *Cost) write(w io.Writer, name string) {
	fmt.Fprintf(w, "%s cost (%s): %.2f CPU s for %d deliveries = %.3f CPU s per 1,000; peak RSS %.0f MB\n",
		name, costNote, c.CPUSec, c.Deliveries, c.CPUPer1000, c.PeakRSSMB)
}
