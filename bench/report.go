package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The targets.
const (
	TargetWall          = 30 * time.Second
	TargetPeakRSS       = 400 << 20
	TargetPerListCall   = 99.0
	TargetRateFraction  = 0.95
	targetSize          = 1_000_000
	stripeLiveRateLimit = 100 // read requests a second in live mode
)

// Write prints the report as aligned text tables, or as Markdown tables
// when markdown is set (docs/performance.md takes them as they are).
func (r *Report) Write(w io.Writer, markdown bool) error {
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %.1f GiB, %s %s, PostgreSQL %s\n\n",
		m.CPUs, m.CPUModel, m.MemoryGiB, m.GoVersion, m.OS, m.PostgreSQL)

	if len(r.Sizes) > 0 {
		fmt.Fprintln(w, "End to end, rate limit lifted (one `run` over the 90-day window, state tables empty):")
		fmt.Fprintln(w)
		t := newTable("refunds", "wall", "refunds/s", "peak RSS", "Stripe calls", "window pages", "refunds/page",
			"other calls", "ledger read", "gateway fetch", "matching", "writes", "discrepancies")
		row := func(label string, s SizeResult, run childRun) {
			other := run.Stats.Requests() - run.Listing.Pages
			t.row(label, dur(run.Wall), rate(float64(run.Counts.LedgerRefunds)/run.Wall.Seconds()),
				mib(run.MaxRSS), strconv.FormatInt(run.Stats.Requests(), 10), strconv.FormatInt(run.Listing.Pages, 10),
				fmt.Sprintf("%.2f", run.Listing.RefundsPerPage()), strconv.FormatInt(other, 10),
				dur(run.Timings.Ledger), dur(run.Timings.Gateway), dur(run.Timings.Match), dur(run.Timings.Store),
				found(run.Kinds, s.Expected))
		}
		for _, s := range r.Sizes {
			row(count(s.Dataset.N), s, s.Run)
			if s.Limited != nil {
				row(count(s.Dataset.N)+" (GOMEMLIMIT="+r.MemLimit+")", s, *s.Limited)
			}
		}
		if err := t.write(w, markdown); err != nil {
			return err
		}
		fmt.Fprintln(w)

		fmt.Fprintln(w, "Peers on the same data (ratio: the peer's time over the reconciler's wall time):")
		fmt.Fprintln(w)
		t = newTable("refunds", "reconciler", "naive calls", "naive time", "naive ÷ reconciler",
			"SQL load (COPY)", "SQL join", "SQL total", "SQL ÷ reconciler", "SQL flags (true)")
		for _, s := range r.Sizes {
			naive := dur(s.Naive.Projected)
			calls := strconv.Itoa(s.Naive.Rows)
			if s.Naive.Extrapolated {
				naive += fmt.Sprintf(" (extrapolated from %s rows in %s)", count(s.Naive.Done), dur(s.Naive.Elapsed))
				calls += " (projected)"
			} else {
				calls = strconv.FormatInt(s.Naive.Calls, 10)
			}
			wall := s.Run.Wall.Seconds()
			t.row(count(s.Dataset.N), dur(s.Run.Wall), calls, naive, ratio(s.Naive.Projected.Seconds()/wall),
				dur(s.SQL.Load), dur(s.SQL.Query), dur(s.SQL.Total()), ratio(s.SQL.Total().Seconds()/wall),
				fmt.Sprintf("%d (%d)", s.SQL.Flagged(), sum(s.Expected)))
		}
		if err := t.write(w, markdown); err != nil {
			return err
		}
		fmt.Fprintln(w)

		fmt.Fprintf(w, "At Stripe's live rate limit (%d read requests a second), where the calls, not the CPU, set the time:\n\n", stripeLiveRateLimit)
		t = newTable("refunds", "reconciler calls", "reconciler at limit", "naive calls", "naive at limit", "naive ÷ reconciler")
		for _, s := range r.Sizes {
			rc, nc := float64(s.Run.Stats.Requests()), float64(s.Naive.Rows)
			t.row(count(s.Dataset.N), strconv.FormatInt(s.Run.Stats.Requests(), 10), dur(secs(rc/stripeLiveRateLimit)),
				strconv.Itoa(s.Naive.Rows), dur(secs(nc/stripeLiveRateLimit)), ratio(nc/rc))
		}
		if err := t.write(w, markdown); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	if len(r.Rates) > 0 {
		fmt.Fprintln(w, "Rate limited (STRIPE_MAX_RPS = R; the window's listing alone, target ≥ 95% of R × 100 refunds/s):")
		fmt.Fprintln(w)
		t := newTable("R", "refunds", "listing time", "pages", "refunds/page", "refunds/s", "of R × 100", "whole run", "Stripe calls")
		for _, rr := range r.Rates {
			l := rr.Run.Listing
			t.row(strconv.FormatFloat(rr.RPS, 'g', -1, 64), count(rr.Dataset.N), dur(l.Duration), strconv.FormatInt(l.Pages, 10),
				fmt.Sprintf("%.2f", l.RefundsPerPage()), rate(l.PerSecond()), pct(l.PerSecond()/(rr.RPS*100)),
				dur(rr.Run.Wall), strconv.FormatInt(rr.Run.Stats.Requests(), 10))
		}
		if err := t.write(w, markdown); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}

	if len(r.Syncs) > 0 {
		if err := writeSync(w, r.Syncs, markdown); err != nil { // sync.go
			return err
		}
	}

	fmt.Fprintln(w, "Targets:")
	fmt.Fprintln(w)
	for _, line := range r.Targets() {
		fmt.Fprintf(w, "- %s\n", line)
	}
	return nil
}

// Targets judges the end-to-end targets on what was measured.
func (r *Report) Targets() []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	for _, s := range r.Sizes {
		if s.Dataset.N != targetSize {
			continue
		}
		out = append(out,
			fmt.Sprintf("1M × 1M wall < %v: %s (%s)", TargetWall, verdict(s.Run.Wall < TargetWall), dur(s.Run.Wall)),
			fmt.Sprintf("1M × 1M peak memory < %s, the runtime's defaults: %s (%s)", mib(TargetPeakRSS), verdict(s.Run.MaxRSS < TargetPeakRSS), mib(s.Run.MaxRSS)))
		if l := s.Limited; l != nil {
			out = append(out, fmt.Sprintf("1M × 1M peak memory < %s, GOMEMLIMIT=%s: %s (%s, wall %s)", mib(TargetPeakRSS), r.MemLimit,
				verdict(l.MaxRSS < TargetPeakRSS), mib(l.MaxRSS), dur(l.Wall)))
		}
	}
	if len(out) == 0 {
		out = append(out, "1M × 1M wall and memory: not measured (add 1000000 to the sizes)")
	}
	for _, s := range r.Sizes {
		p := s.Run.Listing.RefundsPerPage()
		out = append(out, fmt.Sprintf("≥ %.0f refunds per list call, %s: %s (%.2f over %d window pages; %d other calls)",
			TargetPerListCall, count(s.Dataset.N), verdict(p >= TargetPerListCall), p, s.Run.Listing.Pages,
			s.Run.Stats.Requests()-s.Run.Listing.Pages))
	}
	for _, rr := range r.Rates {
		f := rr.Run.Listing.PerSecond() / (rr.RPS * 100)
		out = append(out, fmt.Sprintf("STRIPE_MAX_RPS=%g: ≥ 95%% of R × 100 refunds/s: %s (%s)",
			rr.RPS, verdict(f >= TargetRateFraction), pct(f)))
	}
	for _, s := range r.Sizes {
		if !slices.Equal(sortedCounts(s.Run.Kinds), sortedCounts(s.Expected)) {
			out = append(out, fmt.Sprintf("discrepancies at %s: MISMATCH, found %v, planted %v", count(s.Dataset.N), s.Run.Kinds, s.Expected))
		}
	}
	return out
}

func sortedCounts(m map[reconcile.Kind]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			out = append(out, string(k)+"="+strconv.Itoa(m[k]))
		}
	}
	return out
}

func sum(m map[reconcile.Kind]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// found says how many discrepancies a run found, and whether they are
// exactly the planted ones.
func found(got, want map[reconcile.Kind]int) string {
	s := strconv.Itoa(sum(got))
	if slices.Equal(sortedCounts(got), sortedCounts(want)) {
		return s + " = planted"
	}
	return s + " ≠ planted " + strconv.Itoa(sum(want))
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func dur(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}

func rate(v float64) string { return count(int(v+0.5)) + "/s" }

func ratio(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.0f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// count formats n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// table collects rows for text or Markdown output.
type table struct {
	head []string
	rows [][]string
}

func newTable(head ...string) *table { return &table{head: head} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, markdown bool) error {
	if markdown {
		line := func(cells []string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
		line(t.head)
		sep := make([]string, len(t.head))
		for i := range sep {
			sep[i] = "---"
		}
		line(sep)
		for _, r := range t.rows {
			line(r)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.head, "\t")+"\t")
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	return tw.Flush()
}
