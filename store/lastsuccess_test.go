package store_test

import (
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// TestLastSucceeded: the latest successful run of each scope, failed runs
// and the other scope left out; zero before any.
func TestLastSucceeded(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			db := b.open(t)
			if got, err := db.LastSucceeded(ctx, false); err != nil || !got.IsZero() {
				t.Fatalf("before any run: %v, %v", got, err)
			}
			base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
			finish := func(id, customer string, status reconcile.RunStatus, at time.Time) {
				t.Helper()
				run := reconcile.Run{ID: id, Scope: reconcile.Scope{Since: at.Add(-time.Hour), Until: at, CustomerID: customer},
					StartedAt: at.Add(-time.Minute), Status: reconcile.RunRunning}
				if err := db.StartRun(ctx, run); err != nil {
					t.Fatal(err)
				}
				run.Status, run.FinishedAt = status, at
				if status == reconcile.RunFailed {
					run.Error = "boom"
					if err := db.FailRun(ctx, run); err != nil {
						t.Fatal(err)
					}
					return
				}
				if _, err := db.FinishRun(ctx, run, nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			finish("run_w1", "", reconcile.RunSucceeded, base)
			finish("run_w2", "", reconcile.RunFailed, base.Add(2*time.Hour))
			finish("run_c1", "cus_1", reconcile.RunSucceeded, base.Add(3*time.Hour))
			if got, err := db.LastSucceeded(ctx, false); err != nil || !got.Equal(base) {
				t.Errorf("window: %v, %v, want %v", got, err, base)
			}
			if got, err := db.LastSucceeded(ctx, true); err != nil || !got.Equal(base.Add(3*time.Hour)) {
				t.Errorf("customer: %v, %v, want %v", got, err, base.Add(3*time.Hour))
			}
		})
	}
}
