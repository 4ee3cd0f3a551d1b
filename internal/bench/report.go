package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes the report as text tables.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "herald bench — %s\n\n", r.Machine)
	fmt.Fprintf(w, "raw ceiling (Go client → Go receiver, keep-alive): %.0f requests/s\n\n", r.RawPerSec)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tprocesses\tmode\tevents\taccepted/s\tdeliveries/s\tof ceiling\tduplicates\t")
	for _, t := range r.Throughput {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.0f\t%.0f\t%.0f %%\t%d\t\n", t.Store, t.Processes, t.Mode, t.Events,
			t.AcceptedPerSec, t.DeliveriesPerSec, 100*t.OfCeiling, t.Duplicates)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "accept-to-first-attempt at %d events/s (achieved %.0f, %d events): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
			l.Rate, l.AchievedRate, l.Events, l.P50MS, l.P95MS, l.P99MS)
	}
	for _, x := range []*Ratio{r.Isolation, r.RetryStorm, r.ReplayLoad} {
		if x != nil {
			fmt.Fprintf(w, "%s: %.1f vs %.1f = %.2f\n", x.What, x.Disturbed, x.Baseline, x.Ratio)
		}
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
	fmt.Fprintf(w, "\nwhole run: %.0f s\n", r.DurationSec)
	return nil
}
