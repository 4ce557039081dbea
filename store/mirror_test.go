package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// TestMirror runs the mirror's conformance suite against PostgreSQL and
// SQLite.
func TestMirror(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("CursorOnlyWithItsBatch", func(t *testing.T) { testMirrorCursor(t, b) })
			t.Run("UpsertKeepsExpandedFields", func(t *testing.T) { testMirrorUpsert(t, b) })
			t.Run("WindowInWholeSeconds", func(t *testing.T) { testMirrorWindow(t, b) })
		})
	}
}

func mirrored(t *testing.T, m reconcile.Mirror, since, until time.Time) []reconcile.GatewayRefund {
	t.Helper()
	var out []reconcile.GatewayRefund
	if err := m.MirroredRefunds(context.Background(), since, until, func(g reconcile.GatewayRefund) error {
		out = append(out, g)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func testMirrorCursor(t *testing.T, b backend) {
	db := b.open(t)
	ctx := context.Background()
	if _, ok, err := db.SyncCursor(ctx, "refunds"); err != nil || ok {
		t.Fatalf("cursor before any sync: ok %v, err %v", ok, err)
	}
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 123456000, time.UTC)
	r := reconcile.GatewayRefund{ID: "re_1", Amount: 100, Currency: "usd", Status: reconcile.RefundSucceeded, Created: t0}
	if err := db.SaveRefunds(ctx, "refunds", []reconcile.GatewayRefund{r}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.SyncCursor(ctx, "refunds"); ok {
		t.Fatal("a batch without cursor wrote one")
	}
	want := reconcile.SyncCursor{SyncedAt: t0, FullAt: t0.Add(-time.Hour), From: t0.Add(-90 * 24 * time.Hour)}
	if err := db.SaveRefunds(ctx, "refunds", nil, &want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.SyncCursor(ctx, "refunds")
	if err != nil || !ok || got != want {
		t.Fatalf("cursor = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if _, ok, _ := db.SyncCursor(ctx, "refunds other-key"); ok {
		t.Fatal("cursors are not kept by name")
	}
	// A batch that fails (a canceled context) writes neither refunds nor
	// cursor.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	later := reconcile.SyncCursor{SyncedAt: t0.Add(time.Hour), FullAt: t0, From: t0}
	r2 := r
	r2.ID = "re_2"
	if err := db.SaveRefunds(canceled, "refunds", []reconcile.GatewayRefund{r2}, &later); err == nil {
		t.Fatal("SaveRefunds on a canceled context succeeded")
	}
	if got, _, _ := db.SyncCursor(ctx, "refunds"); got != want {
		t.Fatalf("a failed batch moved the cursor to %+v", got)
	}
	if n := len(mirrored(t, db, t0.Add(-time.Hour), t0.Add(time.Hour))); n != 1 {
		t.Fatalf("%d refunds after a failed batch, want 1", n)
	}
}

func testMirrorUpsert(t *testing.T, b backend) {
	db := b.open(t)
	ctx := context.Background()
	t0 := time.Unix(1_770_000_000, 0).UTC()
	full := reconcile.GatewayRefund{ID: "re_1", ChargeID: "ch_1", PaymentIntentID: "pi_1", CustomerID: "cus_1",
		Amount: 500, Currency: "eur", Status: reconcile.RefundPending, Created: t0}
	if err := db.SaveRefunds(ctx, "r", []reconcile.GatewayRefund{full}, nil); err != nil {
		t.Fatal(err)
	}
	// An event's copy: charge not expanded, so no customer; new status,
	// metadata and failure.
	ev := reconcile.GatewayRefund{ID: "re_1", ChargeID: "ch_1", Amount: 500, Currency: "eur",
		Status: reconcile.RefundFailed, FailureReason: "declined", LedgerRefundID: "L-1", Created: t0,
		FailedAt: t0.Add(time.Hour)}
	if err := db.SaveRefunds(ctx, "r", []reconcile.GatewayRefund{ev}, nil); err != nil {
		t.Fatal(err)
	}
	got := mirrored(t, db, t0, t0)
	want := full
	want.Status, want.FailureReason, want.LedgerRefundID = reconcile.RefundFailed, "declined", "L-1"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("after the event's copy: %+v\nwant %+v", got, want)
	}
}

func testMirrorWindow(t *testing.T, b backend) {
	db := b.open(t)
	ctx := context.Background()
	t0 := time.Unix(1_770_000_000, 0).UTC()
	// 12,000 refunds, four a second.
	var rs []reconcile.GatewayRefund
	for i := range 12000 {
		rs = append(rs, reconcile.GatewayRefund{ID: fmt.Sprintf("re_%05d", i), Amount: int64(i + 1), Currency: "usd",
			Status: reconcile.RefundSucceeded, Created: t0.Add(time.Duration(i/4) * time.Second)})
	}
	if err := db.SaveRefunds(ctx, "r", rs, nil); err != nil {
		t.Fatal(err)
	}
	// since is floored and until's second is included, as Stripe's created
	// filter reads them.
	since := t0.Add(10*time.Second + 500*time.Millisecond)
	until := t0.Add(2999*time.Second + 100*time.Millisecond)
	got := mirrored(t, db, since, until)
	if want := (2999 - 10 + 1) * 4; len(got) != want {
		t.Fatalf("%d refunds in the window, want %d", len(got), want)
	}
	for i, g := range got {
		if w := rs[40+i]; g != w {
			t.Fatalf("refund %d = %+v, want %+v", i, g, w)
		}
	}
}

// BenchmarkMirror writes 100,000 refunds in the sync's batches of 5,000, then
// reads them back, on each database.
func BenchmarkMirror(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			ctx := context.Background()
			t0 := time.Unix(1_770_000_000, 0).UTC()
			rs := make([]reconcile.GatewayRefund, 100_000)
			for i := range rs {
				rs[i] = reconcile.GatewayRefund{ID: fmt.Sprintf("re_%07d", i), ChargeID: fmt.Sprintf("ch_%07d", i),
					PaymentIntentID: fmt.Sprintf("pi_%07d", i), CustomerID: "cus_1", Amount: 100, Currency: "usd",
					Status: reconcile.RefundSucceeded, LedgerRefundID: "lr", Created: t0.Add(time.Duration(i) * time.Second)}
			}
			for b.Loop() {
				start := time.Now()
				for i := 0; i < len(rs); i += 5000 {
					if err := db.SaveRefunds(ctx, "r", rs[i:i+5000], nil); err != nil {
						b.Fatal(err)
					}
				}
				write := time.Since(start)
				start = time.Now()
				n := 0
				if err := db.MirroredRefunds(ctx, t0, t0.Add(time.Duration(len(rs))*time.Second), func(reconcile.GatewayRefund) error { n++; return nil }); err != nil || n != len(rs) {
					b.Fatal(n, err)
				}
				b.ReportMetric(write.Seconds(), "write-s")
				b.ReportMetric(time.Since(start).Seconds(), "read-s")
			}
		})
	}
}
