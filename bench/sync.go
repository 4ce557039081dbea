package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/store"
)

// The incremental sync's benchmark: a first run lists the whole window into
// the mirror (a full sync), then 1% of the refunds change at the fake
// Stripe, then a nightly run fetches only what changed. Both runs go
// through reconcile.SyncedGateway as `refundrecon run` wires it.

// changePath is the fake child's endpoint that changes its world (see
// FakeMain); it is the harness's, not Stripe's.
const changePath = "/_bench/change"

// StripeLiveRate are Stripe's live-mode read limits: 25 requests a second
// per endpoint, 100 for the account.
const (
	StripeLivePerEndpoint = 25.0
	StripeLiveGlobal      = 100.0
	// DefaultMaxRPS is STRIPE_MAX_RPS's default.
	DefaultMaxRPS = 20.0
)

// Change changes one slot in 100 of the gateway side, now: a new refund on
// a new charge, metadata added, a late failure (with its refund_failure
// balance transaction and events), or pending → succeeded, in turns. It
// returns how many refunds it changed or added.
func (d Dataset) Change(fs *fakestripe.Server) (int, error) {
	fs.SetCreateEvents(true)
	defer fs.SetCreateEvents(false)
	now := time.Now().UTC()
	var s Slot
	changed := 0
	for i := 7; i < d.N; i += plantEvery {
		d.Slot(i, &s)
		turn := (i / plantEvery) % 4
		var err error
		switch {
		case turn == 0 || len(s.Gateway) == 0:
			ch := fmt.Sprintf("ch_bench_new_%d", i)
			if err = fs.AddCharge(fakestripe.Charge{ID: ch, Customer: s.Charge.Customer, Amount: 5000, Currency: "usd", Created: now}); err == nil {
				err = fs.AddRefund(fakestripe.Refund{ID: fmt.Sprintf("re_bench_new_%d", i), Charge: ch, Amount: 2500, Created: now})
			}
		case turn == 2 && (s.Gateway[0].Status == "" || s.Gateway[0].Status == "succeeded" || s.Gateway[0].Status == "pending"):
			err = fs.FailRefund(s.Gateway[0].ID, "declined", now)
		case turn == 3 && s.Gateway[0].Status == "pending":
			err = fs.SetRefundStatus(s.Gateway[0].ID, "succeeded", now)
		default:
			md := map[string]string{"note": "changed"}
			for k, v := range s.Gateway[0].Metadata {
				md[k] = v
			}
			err = fs.SetRefundMetadata(s.Gateway[0].ID, md, now)
		}
		if err != nil {
			return changed, fmt.Errorf("change slot %d: %w", i, err)
		}
		changed++
	}
	fs.Prepare()
	return changed, nil
}

// serveChange answers changePath in the fake child.
func serveChange(d Dataset, fs *fakestripe.Server, w http.ResponseWriter) {
	n, err := d.Change(fs)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, n)
}

// SyncResult is the incremental sync's benchmark of one size.
type SyncResult struct {
	Dataset Dataset
	// Full is the first run (a full sync), Nightly the run after Changed
	// refunds changed.
	Full, Nightly childRun
	Changed       int
}

// measureSync runs the incremental sync's benchmark of size n.
func measureSync(ctx context.Context, o Options, n int) (SyncResult, error) {
	res := SyncResult{}
	d, dbURL, _, err := prepare(ctx, o, n)
	if err != nil {
		return res, err
	}
	res.Dataset = d
	fake, err := startFake(ctx, o.Self, d, os.Stderr)
	if err != nil {
		return res, err
	}
	defer fake.stop()
	if err := resetMirror(ctx, dbURL); err != nil {
		return res, err
	}
	cfg := RunConfig{DatabaseURL: dbURL, StripeURL: fake.URL, APIKey: apiKey, MaxRPS: Unlimited,
		Concurrency: o.Concurrency, Scope: d.Scope(), Sync: true}
	fmt.Fprintf(o.Log, "sync %d: first run (full sync)\n", n)
	if res.Full, err = runChild(ctx, o.Self, cfg, "", "", os.Stderr); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Log, "sync %d: full run %v, %d requests, peak %s\n", n, res.Full.Wall.Round(time.Millisecond),
		res.Full.Stats.Requests(), mib(res.Full.MaxRSS))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fake.URL+changePath, nil)
	if err != nil {
		return res, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("change the fake: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("change the fake: %s: %s", resp.Status, body)
	}
	if err := json.Unmarshal(body, &res.Changed); err != nil {
		return res, fmt.Errorf("change the fake answered %q", body)
	}
	fmt.Fprintf(o.Log, "sync %d: %d refunds changed; nightly run\n", n, res.Changed)
	if res.Nightly, err = runChild(ctx, o.Self, cfg, "", "", os.Stderr); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Log, "sync %d: nightly run %v, %d requests, peak %s\n", n, res.Nightly.Wall.Round(time.Millisecond),
		res.Nightly.Stats.Requests(), mib(res.Nightly.MaxRSS))
	return res, nil
}

// resetMirror empties the state and the mirror, so the next run is a first
// run and a full sync.
func resetMirror(ctx context.Context, dbURL string) error {
	if err := resetState(ctx, dbURL); err != nil {
		return err
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	if _, err := db.SQLX().ExecContext(ctx, "TRUNCATE gateway_refunds, sync_cursors"); err != nil {
		return fmt.Errorf("reset mirror: %w", err)
	}
	return nil
}

// ModeledWall is the time a run's Stripe requests take at Stripe's pace:
// the client's own ceiling rps over all requests, Stripe's live limits per
// endpoint and for the account; the largest of those plus the run's wall
// time with the limit lifted (the fake does not throttle: the pacing is a
// model, not a measurement).
func ModeledWall(run childRun, rps float64) time.Duration {
	st := run.Stats
	total := float64(st.Requests())
	pace := total / rps
	pace = max(pace, total/StripeLiveGlobal)
	// Listing and retrieving refunds count as one endpoint, the worst case.
	for _, n := range []int64{st.ListRefundsRequests + st.RetrieveRefundRequests, st.ListChargesRequests,
		st.ListBalanceTransactionsRequests, st.OtherRequests} {
		pace = max(pace, float64(n)/StripeLivePerEndpoint)
	}
	return run.Wall + time.Duration(pace*float64(time.Second))
}

// writeSync writes the incremental sync's table.
func writeSync(w io.Writer, rs []SyncResult, markdown bool) error {
	fmt.Fprintln(w, "Incremental sync (first run: full sync into the mirror; nightly: after 1% of refunds changed):")
	fmt.Fprintln(w)
	t := newTable("refunds", "run", "Stripe requests", "of the full run", "list refunds", "events", "balance txns",
		"look-ups", "wall (limit lifted)", "modeled at 20 req/s", "modeled at live ceiling", "peak RSS")
	for _, r := range rs {
		for _, x := range []struct {
			label string
			run   childRun
		}{{"full", r.Full}, {"nightly (" + strconv.Itoa(r.Changed) + " changed)", r.Nightly}} {
			st := x.run.Stats
			t.row(count(r.Dataset.N), x.label, strconv.FormatInt(st.Requests(), 10),
				fmt.Sprintf("%.2f%%", 100*float64(st.Requests())/float64(max(r.Full.Stats.Requests(), 1))),
				strconv.FormatInt(st.ListRefundsRequests, 10), strconv.FormatInt(st.OtherRequests, 10),
				strconv.FormatInt(st.ListBalanceTransactionsRequests, 10), strconv.FormatInt(st.RetrieveRefundRequests, 10),
				dur(x.run.Wall), dur(ModeledWall(x.run, DefaultMaxRPS)), dur(ModeledWall(x.run, StripeLiveGlobal)), mib(x.run.MaxRSS))
		}
	}
	if err := t.write(w, markdown); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}
