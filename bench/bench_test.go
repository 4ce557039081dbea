package bench

import (
	"context"
	"maps"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

var testNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func TestDatasetDeterministicAndPlanted(t *testing.T) {
	d := Dataset{N: 2500, Seed: 3, Now: testNow}
	var a, b Slot
	ids := map[string]bool{}
	kinds := map[reconcile.Kind]int{}
	for i := range d.N {
		d.Slot(i, &a)
		d.Slot(i, &b)
		if a.Ledger != b.Ledger || a.Charge != b.Charge || len(a.Gateway) != len(b.Gateway) {
			t.Fatalf("slot %d differs between two calls", i)
		}
		for _, id := range []string{a.Charge.ID, a.Charge.PaymentIntent, a.Ledger.ID} {
			if ids[id] {
				t.Fatalf("slot %d repeats id %s", i, id)
			}
			ids[id] = true
		}
		for _, g := range a.Gateway {
			if ids[g.ID] || len(g.ID) != len("re_")+24 {
				t.Fatalf("slot %d: refund id %q repeated or not Stripe's length", i, g.ID)
			}
			ids[g.ID] = true
			if g.Created.After(d.Now) || g.Created.Before(d.Now.Add(-Window-45*24*time.Hour)) {
				t.Fatalf("slot %d: refund created %v, outside the data's span", i, g.Created)
			}
		}
		if a.Kind != "" {
			kinds[a.Kind]++
		}
	}
	want := d.Expected()
	if !maps.Equal(kinds, want) {
		t.Errorf("planted %v, Expected says %v", kinds, want)
	}
	if len(want) != len(reconcile.Kinds) {
		t.Errorf("%d kinds planted in 2,500 slots, want all %d", len(want), len(reconcile.Kinds))
	}
	if n := sum(want); n != d.N/plantEvery {
		t.Errorf("%d discrepancies planted, want 1%% (%d)", n, d.N/plantEvery)
	}
}

// TestReconcileFindsWhatWasPlanted runs the measured path in this process
// on a small data set, and the peers beside it.
func TestReconcileFindsWhatWasPlanted(t *testing.T) {
	ctx := context.Background()
	d := Dataset{N: 2500, Seed: 1, Now: time.Now().UTC().Truncate(time.Second)}
	dbURL := storetest.PostgresURL(t)
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateLedger(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.LoadLedger(ctx, db); err != nil {
		t.Fatal(err)
	}
	fs := fakestripe.New(apiKey)
	if err := d.LoadFake(fs); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fs)
	defer srv.Close()

	cfg := RunConfig{DatabaseURL: dbURL, StripeURL: srv.URL, APIKey: apiKey, MaxRPS: Unlimited, Scope: d.Scope()}
	res, err := Reconcile(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(res.Kinds, d.Expected()) {
		t.Errorf("found %v, planted %v", res.Kinds, d.Expected())
	}
	if p := res.Listing.RefundsPerPage(); res.Listing.Pages == 0 || p < 90 {
		t.Errorf("listing: %d pages, %.1f refunds a page", res.Listing.Pages, p)
	}
	if res.Wall <= 0 || res.PeakRSS <= 0 {
		t.Errorf("wall %v, peak %d: not measured", res.Wall, res.PeakRSS)
	}

	naive, err := Naive(ctx, db, cfg, 2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if naive.Extrapolated || naive.Done != naive.Rows || naive.Calls < int64(naive.Rows) {
		t.Errorf("naive peer: %+v; want every row checked with a call each", naive)
	}
	sq, err := SQLPeer(ctx, db, d)
	if err != nil {
		t.Fatal(err)
	}
	if sq.Rows < d.N*98/100 || sq.Flagged() < int64(sum(d.Expected()))/2 {
		t.Errorf("sql peer: %+v", sq)
	}

	var out strings.Builder
	rep := &Report{Sizes: []SizeResult{{Dataset: d, Expected: d.Expected(), Run: childRun{RunResult: res}, Naive: naive, SQL: sq}}}
	if err := rep.Write(&out, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2,500", "= planted", "Peers on the same data", "Targets:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
