package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// TestOutbox runs the alert outbox suite against PostgreSQL and SQLite.
func TestOutbox(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name string
				fn   func(*testing.T, backend)
			}{
				{"Lifecycle", testOutboxLifecycle},
				{"NoChannels", testOutboxNoChannels},
				{"Digest", testOutboxDigest},
				{"FailedRunEnqueuesNothing", testOutboxFailedRun},
				{"ClaimLeaseAndMarks", testOutboxClaim},
				{"OrderPerCaseAndChannel", testOutboxOrder},
				{"ConcurrentClaims", testOutboxConcurrentClaims},
				{"ClaimOutlastsBusyTimeout", testOutboxClaimOutlastsBusyTimeout},
				{"SkipLocked", testOutboxSkipLocked},
				{"Review", testReview},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, b)
				})
			}
		})
	}
}

var threeChannels = []store.AlertChannel{{Name: "slack", DigestOver: 20}, {Name: "pagerduty"}, {Name: "webhook"}}

// keys lists the outbox's keys in order.
func keys(t *testing.T, db *store.DB, pending bool) []string {
	t.Helper()
	entries, err := db.Outbox(ctxFor(t), pending)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Key)
	}
	return out
}

func alertKeys(id string, action string, cycle int, channels ...string) []string {
	var out []string
	for _, ch := range channels {
		out = append(out, fmt.Sprintf("%s:%s:%s:%d", id, ch, action, cycle))
	}
	return out
}

func testOutboxLifecycle(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels(threeChannels)
	d1 := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	d2 := disc(reconcile.AmountMismatch, "lr_2", "cus_2", "re_2")
	all := []string{"slack", "pagerduty", "webhook"}

	// Opened: one alert per case and channel, in the run's transaction.
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d1, d2})
	var want []string // channel by channel, each in the run's order
	for _, ch := range all {
		want = append(want, alertKeys(d1.ID, "opened", 1, ch)...)
		want = append(want, alertKeys(d2.ID, "opened", 1, ch)...)
	}
	if got := keys(t, db, false); !slices.Equal(got, want) {
		t.Fatalf("after the first run:\n got  %v\n want %v", got, want)
	}
	// Seen again: nothing new.
	finish(t, db, "run_2", ts(time.Hour), []reconcile.Discrepancy{d1, d2})
	if got := keys(t, db, false); len(got) != 6 {
		t.Fatalf("a run that changes nothing enqueued: %v", got[6:])
	}
	// d2 resolved by a run, d1 still there.
	finish(t, db, "run_3", ts(2*time.Hour), []reconcile.Discrepancy{d1}, d2.ID)
	want = append(want, alertKeys(d2.ID, "resolved", 1, all...)...)
	if got := keys(t, db, false); !slices.Equal(got, want) {
		t.Fatalf("after the resolve:\n got  %v\n want %v", got, want)
	}
	// d2 comes back: cycle 2 alerts again; resolved again: cycle 2 resolve.
	finish(t, db, "run_4", ts(3*time.Hour), []reconcile.Discrepancy{d1, d2})
	finish(t, db, "run_5", ts(4*time.Hour), []reconcile.Discrepancy{d1}, d2.ID)
	want = append(want, alertKeys(d2.ID, "opened", 2, all...)...)
	want = append(want, alertKeys(d2.ID, "resolved", 2, all...)...)
	if got := keys(t, db, false); !slices.Equal(got, want) {
		t.Fatalf("after reopening:\n got  %v\n want %v", got, want)
	}
	// Resolving a resolved case again enqueues nothing.
	finish(t, db, "run_6", ts(5*time.Hour), []reconcile.Discrepancy{d1}, d2.ID)
	if got := keys(t, db, false); len(got) != len(want) {
		t.Fatalf("a second resolve enqueued %v", got[len(want):])
	}

	// The payload is the case as stored at the change.
	a, ok, err := db.ClaimAlert(ctx, []string{"webhook"}, ts(6*time.Hour), time.Minute)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if a.Key != want[4] || a.Action != reconcile.AlertOpened || a.DiscrepancyID != d1.ID || a.Cycle != 1 || a.RunID != "run_1" ||
		a.Actor != store.RunActor || a.Attempts != 1 || len(a.Discrepancies) != 1 || a.ClaimToken == "" || !a.CreatedAt.Equal(ts(0).Truncate(time.Microsecond)) {
		t.Fatalf("claimed %+v", a)
	}
	got := a.Discrepancies[0]
	if got.ID != d1.ID || got.Status != reconcile.StatusOpen || !got.New || got.Kind != d1.Kind || *got.LedgerAmount != 4500 ||
		got.FailureReason != d1.FailureReason || !got.FirstSeenAt.Equal(ts(0).Truncate(time.Second)) {
		t.Errorf("snapshot %+v", got)
	}
	// The resolve's snapshot is resolved.
	entries, err := db.Outbox(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[6]; e.Action != reconcile.AlertResolved || e.RunID != "run_3" || e.Cycle != 1 || e.DiscrepancyID != d2.ID {
		t.Errorf("resolve entry %+v", e)
	}
}

func testOutboxNoChannels(t *testing.T, b backend) {
	db := b.open(t)
	d := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})
	finish(t, db, "run_2", ts(time.Hour), nil, d.ID)
	if got := keys(t, db, false); len(got) != 0 {
		t.Fatalf("no channel, yet %v", got)
	}
	// The cycle still counts, so that a channel enabled later alerts with
	// the right key.
	finish(t, db, "run_3", ts(2*time.Hour), []reconcile.Discrepancy{d})
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}})
	finish(t, db, "run_4", ts(3*time.Hour), nil, d.ID)
	if got, want := keys(t, db, false), alertKeys(d.ID, "resolved", 2, "pagerduty"); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func testOutboxDigest(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels([]store.AlertChannel{{Name: "slack", DigestOver: 2}, {Name: "pagerduty"}})
	var found []reconcile.Discrepancy
	for i := range 3 {
		found = append(found, disc(reconcile.GatewayFailed, fmt.Sprintf("lr_%d", i), "cus_1", fmt.Sprintf("re_%d", i)))
	}
	finish(t, db, "run_1", ts(0), found)
	got := keys(t, db, false)
	want := []string{"run_1:slack:opened:digest"}
	for _, d := range found {
		want = append(want, alertKeys(d.ID, "opened", 1, "pagerduty")...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	a, ok, err := db.ClaimAlert(ctx, []string{"slack"}, ts(time.Minute), time.Minute)
	if err != nil || !ok || !a.Digest || a.DiscrepancyID != "" || len(a.Discrepancies) != 3 {
		t.Fatalf("digest claim: %+v %v %v", a, ok, err)
	}
	// Two of them resolved: at the threshold, one alert each.
	finish(t, db, "run_2", ts(time.Hour), found[:1], found[1].ID, found[2].ID)
	got = keys(t, db, false)[len(want):]
	want = append(alertKeys(found[1].ID, "resolved", 1, "slack", "pagerduty"), alertKeys(found[2].ID, "resolved", 1, "slack", "pagerduty")...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("resolves: got %v\nwant %v", got, want)
	}
}

func testOutboxFailedRun(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels(threeChannels)
	d := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})
	before := keys(t, db, false)
	run := newRun("run_2", ts(time.Hour))
	if err := db.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.FinishedAt, run.Error = ts(2*time.Hour), "list stripe refunds: boom"
	if err := db.FailRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, db, false); !slices.Equal(got, before) {
		t.Fatalf("a failed run enqueued: %v", got[len(before):])
	}
}

func testOutboxClaim(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels([]store.AlertChannel{{Name: "webhook"}, {Name: "pagerduty"}})
	d := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})
	web := []string{"webhook"}

	// Not due before it was enqueued; a channel nobody sends is left alone.
	if _, ok, err := db.ClaimAlert(ctx, web, ts(-time.Second), time.Minute); ok || err != nil {
		t.Fatalf("claimed before due: %v %v", ok, err)
	}
	if _, ok, err := db.ClaimAlert(ctx, []string{"slack"}, ts(time.Second), time.Minute); ok || err != nil {
		t.Fatalf("claimed on an unknown channel: %v %v", ok, err)
	}
	if next, ok, err := db.NextAlertDue(ctx, web); err != nil || !ok || !next.Equal(ts(0).Truncate(time.Microsecond)) {
		t.Fatalf("NextAlertDue = %v %v %v", next, ok, err)
	}

	// Claimed: invisible to others for the lease.
	a, ok, err := db.ClaimAlert(ctx, web, ts(time.Second), time.Minute)
	if err != nil || !ok || a.Attempts != 1 {
		t.Fatalf("claim: %+v %v %v", a, ok, err)
	}
	if _, ok, _ := db.ClaimAlert(ctx, web, ts(30*time.Second), time.Minute); ok {
		t.Fatal("claimed twice within the lease")
	}
	if next, ok, _ := db.NextAlertDue(ctx, web); !ok || !next.Equal(ts(61*time.Second)) {
		t.Fatalf("NextAlertDue during the lease = %v", next)
	}
	// The claimer "crashed": after the lease another claim takes it, and
	// the first claim can no longer mark it.
	b2, ok, err := db.ClaimAlert(ctx, web, ts(62*time.Second), time.Minute)
	if err != nil || !ok || b2.ID != a.ID || b2.Attempts != 2 || b2.ClaimToken == a.ClaimToken {
		t.Fatalf("reclaim: %+v %v %v", b2, ok, err)
	}
	if err := db.AlertDelivered(ctx, a, ts(63*time.Second)); !errors.Is(err, reconcile.ErrConflict) {
		t.Fatalf("a lost claim marked the alert delivered: %v", err)
	}
	// A failure: due again at next, with the reason kept.
	if err := db.AlertFailed(ctx, b2, ts(5*time.Minute), "post to https://hooks.example: 500 Internal Server Error"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.ClaimAlert(ctx, web, ts(4*time.Minute), time.Minute); ok {
		t.Fatal("claimed before its next attempt")
	}
	entries, _ := db.Outbox(ctx, true)
	var e store.OutboxEntry
	for _, x := range entries {
		if x.ID == a.ID {
			e = x
		}
	}
	if e.Attempts != 2 || e.LastError == "" || !e.NextAttemptAt.Equal(ts(5*time.Minute).Truncate(time.Microsecond)) || !e.DeliveredAt.IsZero() {
		t.Fatalf("after a failure: %+v", e)
	}
	c, ok, err := db.ClaimAlert(ctx, web, ts(5*time.Minute), time.Minute)
	if err != nil || !ok || c.Attempts != 3 {
		t.Fatalf("claim after the backoff: %+v %v %v", c, ok, err)
	}
	if err := db.AlertDelivered(ctx, c, ts(5*time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.AlertDelivered(ctx, c, ts(5*time.Minute+time.Second)); !errors.Is(err, reconcile.ErrConflict) {
		t.Fatalf("marked delivered twice: %v", err)
	}
	if _, ok, _ := db.ClaimAlert(ctx, web, ts(time.Hour), time.Minute); ok {
		t.Fatal("a delivered alert was claimed again")
	}
	if _, ok, _ := db.NextAlertDue(ctx, web); ok {
		t.Fatal("NextAlertDue sees a delivered alert")
	}
	if got := keys(t, db, true); !slices.Equal(got, alertKeys(d.ID, "opened", 1, "pagerduty")) {
		t.Fatalf("pending: %v", got)
	}
}

func testOutboxOrder(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}})
	d1 := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	d2 := disc(reconcile.GatewayFailed, "lr_2", "cus_1", "re_2")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d1, d2})
	finish(t, db, "run_2", ts(time.Hour), []reconcile.Discrepancy{d2}, d1.ID)
	pd := []string{"pagerduty"}
	// d1's trigger fails and waits; its resolve must not overtake it, but
	// d2's trigger goes out.
	a, _, _ := db.ClaimAlert(ctx, pd, ts(2*time.Hour), time.Minute)
	if a.DiscrepancyID != d1.ID || a.Action != reconcile.AlertOpened {
		t.Fatalf("first claim %+v", a)
	}
	if err := db.AlertFailed(ctx, a, ts(3*time.Hour), "down"); err != nil {
		t.Fatal(err)
	}
	next, ok, err := db.ClaimAlert(ctx, pd, ts(2*time.Hour), time.Minute)
	if err != nil || !ok || next.DiscrepancyID != d2.ID {
		t.Fatalf("second claim %+v %v", next, err)
	}
	if err := db.AlertDelivered(ctx, next, ts(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if x, ok, _ := db.ClaimAlert(ctx, pd, ts(2*time.Hour), time.Minute); ok {
		t.Fatalf("the resolve overtook its trigger: %+v", x)
	}
	// The waiting resolve is not due before its trigger.
	if next, ok, err := db.NextAlertDue(ctx, pd); err != nil || !ok || !next.Equal(ts(3*time.Hour)) {
		t.Fatalf("NextAlertDue = %v %v %v, want the trigger's retry", next, ok, err)
	}
	a, _, _ = db.ClaimAlert(ctx, pd, ts(3*time.Hour), time.Minute)
	if a.Action != reconcile.AlertOpened || a.DiscrepancyID != d1.ID {
		t.Fatalf("retry %+v", a)
	}
	_ = db.AlertDelivered(ctx, a, ts(3*time.Hour))
	a, ok, _ = db.ClaimAlert(ctx, pd, ts(3*time.Hour), time.Minute)
	if !ok || a.Action != reconcile.AlertResolved || a.DiscrepancyID != d1.ID {
		t.Fatalf("resolve after its trigger: %+v %v", a, ok)
	}
}

// Several processes claiming at once each get different alerts: every
// alert is claimed exactly once.
func testOutboxConcurrentClaims(t *testing.T, b backend) {
	ctx := ctxFor(t)
	url := b.url(t)
	db := openAt(t, url)
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}, {Name: "webhook"}})
	var found []reconcile.Discrepancy
	for i := range 100 {
		found = append(found, disc(reconcile.GatewayFailed, fmt.Sprintf("lr_%03d", i), "cus_1", fmt.Sprintf("re_%03d", i)))
	}
	finish(t, db, "run_1", ts(0), found)

	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	for range 8 {
		other := openAt(t, url) // a process of its own
		wg.Go(func() {
			for {
				a, ok, err := other.ClaimAlert(ctx, []string{"pagerduty", "webhook"}, ts(time.Minute), time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				claimed[a.ID]++
				mu.Unlock()
				if err := other.AlertDelivered(ctx, a, ts(time.Minute)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(claimed) != 200 {
		t.Fatalf("%d alerts claimed, want 200", len(claimed))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("alert %d claimed %d times", id, n)
		}
	}
	if got := keys(t, db, true); len(got) != 0 {
		t.Errorf("left pending: %v", got)
	}
}

// On SQLite a claim that finds another process writing for longer than
// busy_timeout waits for it (as long as its context lasts) instead of
// failing with SQLITE_BUSY: on a loaded machine the busy handler's polls
// can lose to other writers for longer than any fixed timeout.
func testOutboxClaimOutlastsBusyTimeout(t *testing.T, b backend) {
	if b.name != store.DialectSQLite {
		t.Skip("PostgreSQL waits on row locks without a busy timeout")
	}
	ctx := ctxFor(t)
	url := b.url(t)
	db := openAt(t, url)
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}})
	d := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})

	// Another process writes; the claimer gives SQLite 1 ms per try.
	holder := openAt(t, url)
	tx, err := holder.SQLX().BeginTxx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE alert_outbox SET attempts = attempts`); err != nil {
		t.Fatal(err)
	}
	claimer := openAt(t, url+"?_pragma=busy_timeout(1)")
	type result struct {
		a   reconcile.Alert
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, ok, err := claimer.ClaimAlert(ctx, []string{"pagerduty"}, ts(time.Minute), time.Hour)
		done <- result{a, ok, err}
	}()
	// The claim must not return while the lock is held. Holding it for a
	// spell lets a claim without the retry fail (its 1 ms busy timeout
	// ends long before); the spell only sets how hard this is checked: a
	// correct claim passes however slow the machine.
	select {
	case r := <-done:
		t.Fatalf("the claim returned while another process wrote: %+v %v %v", r.a, r.ok, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || !r.ok || r.a.DiscrepancyID != d.ID {
		t.Fatalf("claim after the writer ended: %+v %v %v", r.a, r.ok, r.err)
	}
}

// On PostgreSQL a claim skips the rows another transaction holds instead
// of waiting for them, or claiming them after it.
func testOutboxSkipLocked(t *testing.T, b backend) {
	if b.name != store.DialectPostgres {
		t.Skip("SQLite has one writer: no row locks to skip")
	}
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}})
	d1 := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	d2 := disc(reconcile.GatewayFailed, "lr_2", "cus_1", "re_2")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d1, d2})

	// Another process is in the middle of claiming the first alert.
	tx, err := db.SQLX().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT id FROM alert_outbox WHERE discrepancy_id = $1 FOR UPDATE`, d1.ID); err != nil {
		t.Fatal(err)
	}
	// A claim that waited on the locked row would wait until the test ends:
	// no fixed bound on "at once" (3 s could lie on a loaded machine).
	a, ok, err := db.ClaimAlert(ctx, []string{"pagerduty"}, ts(time.Minute), time.Minute)
	if err != nil || !ok || a.DiscrepancyID != d2.ID {
		t.Fatalf("claim beside a locked row = %+v, %v, %v; want the second alert at once", a, ok, err)
	}
	if _, ok, err := db.ClaimAlert(ctx, []string{"pagerduty"}, ts(time.Minute), time.Minute); ok || err != nil {
		t.Fatalf("claimed the locked row: %v %v", ok, err)
	}
}

// openAt opens a migrated store at url for t.
func openAt(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(ctxFor(t), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	return db
}
