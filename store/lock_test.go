package store_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// TestLock runs the lock's suite against PostgreSQL and SQLite, each time
// with two stores on one database: two processes.
func TestLock(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name string
				fn   func(*testing.T, *store.DB, *store.DB)
			}{
				{"Exclusive", testLockExclusive},
				{"ReleasedOnCanceledContext", testLockCanceledContext},
				{"NamesAreIndependent", testLockNames},
				{"AbortRunning", testAbortRunning},
				{"HasWindowRun", testHasWindowRun},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					url := b.url(t)
					one, two := migrated(t, url), storetest.Open(t, url)
					tc.fn(t, one, two)
				})
			}
		})
	}
}

func migrated(t *testing.T, url string) *store.DB {
	db := storetest.Open(t, url)
	if err := db.Migrate(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	return db
}

func mustLock(t *testing.T, db *store.DB, name string) *store.Lock {
	t.Helper()
	l, err := db.TryLock(ctxFor(t), name, store.LockOptions{})
	if err != nil {
		t.Fatalf("lock %s: %v", name, err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

func wantLocked(t *testing.T, db *store.DB, name string) {
	t.Helper()
	l, err := db.TryLock(ctxFor(t), name, store.LockOptions{})
	if !errors.Is(err, reconcile.ErrLocked) {
		if l != nil {
			_ = l.Release(context.Background())
		}
		t.Fatalf("second holder of %s: err %v, want ErrLocked", name, err)
	}
}

func testLockExclusive(t *testing.T, one, two *store.DB) {
	ctx := ctxFor(t)
	l := mustLock(t, one, store.LockReconcile)
	wantLocked(t, two, store.LockReconcile)
	// Not re-entrant within a process either: each holder is its own session.
	wantLocked(t, one, store.LockReconcile)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("second release: %v", err)
	}
	l2 := mustLock(t, two, store.LockReconcile)
	wantLocked(t, one, store.LockReconcile)
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l2.Lost():
		t.Fatal("a released lock reports lost")
	default:
	}
}

func testLockCanceledContext(t *testing.T, one, two *store.DB) {
	ctx, cancel := context.WithCancel(ctxFor(t))
	l, err := one.TryLock(ctx, store.LockReconcile, store.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the run's context ended (shutdown): the release must still happen
	if err := l.Release(ctx); err != nil {
		t.Fatalf("release on a canceled context: %v", err)
	}
	mustLock(t, two, store.LockReconcile)
}

func testLockNames(t *testing.T, one, two *store.DB) {
	mustLock(t, one, "a")
	mustLock(t, two, "b")
	wantLocked(t, two, "a")
}

func testAbortRunning(t *testing.T, one, _ *store.DB) {
	ctx := ctxFor(t)
	start := time.Now().Add(-time.Hour)
	orphan := reconcile.Run{ID: "run_orphan", Scope: reconcile.Scope{Since: start.Add(-time.Hour), Until: start}, StartedAt: start, Status: reconcile.RunRunning}
	if err := one.StartRun(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	done := orphan
	done.ID = "run_done"
	if err := one.StartRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	done.Status, done.FinishedAt = reconcile.RunSucceeded, start.Add(time.Minute)
	if _, err := one.FinishRun(ctx, done, nil, nil); err != nil {
		t.Fatal(err)
	}
	n, err := one.AbortRunning(ctx, "aborted: test")
	if err != nil || n != 1 {
		t.Fatalf("aborted %d runs (%v), want 1", n, err)
	}
	got, err := one.Run(ctx, "run_orphan")
	if err != nil || got.Status != reconcile.RunFailed || got.Error != "aborted: test" || got.FinishedAt.IsZero() {
		t.Fatalf("orphan after abort: %+v %v", got, err)
	}
	if got, _ := one.Run(ctx, "run_done"); got.Status != reconcile.RunSucceeded {
		t.Fatalf("a finished run was touched: %+v", got)
	}
}

func testHasWindowRun(t *testing.T, one, _ *store.DB) {
	ctx := ctxFor(t)
	slot := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	has := func(until time.Time) bool {
		t.Helper()
		ok, err := one.HasWindowRun(ctx, until)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if has(slot) {
		t.Fatal("empty store has a run")
	}
	customer := reconcile.Run{ID: "run_c", Scope: reconcile.Scope{Until: slot, CustomerID: "cus_1"}, StartedAt: slot, Status: reconcile.RunRunning}
	if err := one.StartRun(ctx, customer); err != nil {
		t.Fatal(err)
	}
	if has(slot) {
		t.Fatal("a customer run counts as the window run")
	}
	window := reconcile.Run{ID: "run_w", Scope: reconcile.Scope{Since: slot.AddDate(0, 0, -90), Until: slot}, StartedAt: slot, Status: reconcile.RunRunning}
	if err := one.StartRun(ctx, window); err != nil {
		t.Fatal(err)
	}
	if !has(slot) || has(slot.Add(time.Second)) || has(slot.Add(-time.Second)) {
		t.Fatal("HasWindowRun does not match the slot exactly")
	}
}

// A PostgreSQL lock lives as long as its session: when the pinned
// connection dies, the holder learns it and another process can take over.
func TestLockPostgresSessionDies(t *testing.T) {
	url := storetest.PostgresURL(t)
	app := "locktest_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	one, two := migrated(t, url+"&application_name="+app), storetest.Open(t, url)
	ctx := ctxFor(t)
	l, err := one.TryLock(ctx, store.LockReconcile, store.LockOptions{Lease: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	var killed int
	if err := two.SQLX().GetContext(ctx, &killed, `SELECT COUNT(pg_terminate_backend(a.pid))
		FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
		WHERE a.application_name = $1 AND l.locktype = 'advisory' AND l.granted`, app); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("%d sessions hold the lock, want 1 (the pinned connection)", killed)
	}
	select {
	case <-l.Lost():
	case <-nearDeadline(t):
		t.Fatal("the holder did not notice its session died")
	}
	mustLock(t, two, store.LockReconcile)
	if err := l.Release(ctx); err == nil {
		t.Error("release after the session died reported no error")
	}
}

// An SQLite holder that crashed leaves a row that expires; one that lost
// its row to another holder learns it at the next renewal.
func TestLockSQLiteLease(t *testing.T) {
	url := storetest.SQLiteURL(t)
	one, two := migrated(t, url), storetest.Open(t, url)
	ctx := ctxFor(t)
	past := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000000Z")
	if _, err := one.SQLX().ExecContext(ctx, `INSERT INTO locks (name, owner, acquired_at, expires_at) VALUES ('reconcile', 'crashed', ?, ?)`, past, past); err != nil {
		t.Fatal(err)
	}
	l, err := two.TryLock(ctx, store.LockReconcile, store.LockOptions{Owner: "second", Lease: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	defer l.Release(ctx)
	// Renewals keep it held past its lease: wait until the row has been
	// renewed to beyond the first lease's end plus a whole lease, which
	// only renewals made after the first lease ran out can do.
	var first string
	if err := one.SQLX().GetContext(ctx, &first, `SELECT expires_at FROM locks`); err != nil {
		t.Fatal(err)
	}
	firstEnd, err := time.Parse("2006-01-02T15:04:05.000000Z", first)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "renewals past the first lease", func() bool {
		var exp string
		_ = one.SQLX().GetContext(ctx, &exp, `SELECT expires_at FROM locks`)
		e, err := time.Parse("2006-01-02T15:04:05.000000Z", exp)
		return err == nil && e.After(firstEnd.Add(300*time.Millisecond))
	})
	wantLocked(t, one, store.LockReconcile)
	select {
	case <-l.Lost():
		t.Fatal("renewed lock reported lost")
	default:
	}
	if _, err := one.SQLX().ExecContext(ctx, `UPDATE locks SET owner = 'thief'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-nearDeadline(t):
		t.Fatal("a lock taken over was not reported lost")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	var owner string
	if err := one.SQLX().GetContext(ctx, &owner, `SELECT owner FROM locks`); err != nil || owner != "thief" {
		t.Fatalf("release removed another holder's row: %q %v", owner, err)
	}
}

// The trust issue's interleaving: run A loses its lock mid-run (its
// PostgreSQL session is killed; its SQLite lease runs out while it stalls),
// run B takes the lock, records A as failed and resolves a case that was
// fixed; then A, working from its stale read, tries to record its outcome.
// A must not commit: its run stays failed, the case stays resolved, and the
// on-call gets opened, resolved — never opened again.
func TestLockLostRunCannotCommit(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			url := b.url(t)
			app := "fencetest_" + strconv.FormatInt(time.Now().UnixNano(), 36)
			oneURL := url
			if b.name == store.DialectPostgres {
				oneURL += "&application_name=" + app
			}
			one, two := migrated(t, oneURL), storetest.Open(t, url)
			for _, db := range []*store.DB{one, two} {
				db.SetAlertChannels([]store.AlertChannel{{Name: "webhook"}})
			}
			start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			stale := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")

			// The case is open, from an earlier run.
			finish(t, one, "run_0", start, []reconcile.Discrepancy{stale})

			// A takes the lock and starts.
			lockA, err := one.TryLock(ctx, store.LockReconcile, store.LockOptions{Owner: "a", Lease: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer lockA.Release(ctx)
			runA := newRun("run_a", start.Add(time.Minute))
			runA.Fence = lockA.Fence()
			if err := one.StartRun(ctx, runA); err != nil {
				t.Fatal(err)
			}

			// A loses its lock without noticing yet.
			switch b.name {
			case store.DialectPostgres:
				var killed int
				if err := two.SQLX().GetContext(ctx, &killed, `SELECT COUNT(pg_terminate_backend(a.pid))
		FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
		WHERE a.application_name = $1 AND l.locktype = 'advisory' AND l.granted`, app); err != nil || killed != 1 {
					t.Fatalf("killed %d sessions holding the lock (%v), want 1", killed, err)
				}
			default:
				if _, err := two.SQLX().ExecContext(ctx, `UPDATE locks SET expires_at = '2000-01-01T00:00:00.000000Z'`); err != nil {
					t.Fatal(err)
				}
			}

			// B takes over, records A as an orphan, resolves the fixed case.
			var lockB *store.Lock
			waitFor(t, "the second run to take the lock", func() bool {
				lockB, err = two.TryLock(ctx, store.LockReconcile, store.LockOptions{Owner: "b"})
				return err == nil
			})
			defer lockB.Release(ctx)
			// Before B has even recorded A as failed, A's fence no longer
			// holds: a new holder bumped the lock's generation.
			early := runA
			early.FinishedAt, early.Status = start.Add(90*time.Second), reconcile.RunSucceeded
			if _, err := one.FinishRun(ctx, early, []reconcile.Discrepancy{stale}, nil); !errors.Is(err, reconcile.ErrFenced) {
				t.Fatalf("FinishRun with a fence taken over: %v, want ErrFenced", err)
			}
			if got, _ := two.Run(ctx, "run_a"); got.Status != reconcile.RunRunning {
				t.Fatalf("a refused FinishRun recorded run_a %s", got.Status)
			}
			if n, err := two.AbortRunning(ctx, "aborted: test"); err != nil || n != 1 {
				t.Fatalf("aborted %d runs (%v), want run_a", n, err)
			}
			runB := newRun("run_b", start.Add(2*time.Minute))
			runB.Fence = lockB.Fence()
			if err := two.StartRun(ctx, runB); err != nil {
				t.Fatal(err)
			}
			runB.FinishedAt, runB.Status = start.Add(3*time.Minute), reconcile.RunSucceeded
			if _, err := two.FinishRun(ctx, runB, nil, judgedOf(t, two, stale.ID)); err != nil {
				t.Fatalf("the lock holder's FinishRun: %v", err)
			}

			// A finishes from its stale read: refused.
			runA.FinishedAt, runA.Status = start.Add(4*time.Minute), reconcile.RunSucceeded
			if _, err := two.FinishRun(ctx, runA, []reconcile.Discrepancy{stale}, nil); !errors.Is(err, reconcile.ErrFenced) {
				t.Fatalf("FinishRun of the run that lost its lock: %v, want ErrFenced", err)
			}
			if err := two.FailRun(ctx, runA); err != nil {
				t.Fatal(err)
			}
			if got, err := two.Run(ctx, "run_a"); err != nil || got.Status != reconcile.RunFailed {
				t.Fatalf("run_a = %+v (%v), want it to stay failed", got, err)
			}
			if got, err := two.Discrepancy(ctx, stale.ID); err != nil || got.Status != reconcile.StatusResolved {
				t.Fatalf("case = %+v (%v), want it to stay resolved", got, err)
			}
			var keys []string
			if err := two.SQLX().SelectContext(ctx, &keys, `SELECT dedup_key FROM alert_outbox ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			want := []string{stale.ID + ":webhook:opened:1", stale.ID + ":webhook:resolved:1"}
			if !slices.Equal(keys, want) {
				t.Fatalf("alerts enqueued %q, want %q (opened, resolved, never opened again)", keys, want)
			}

			// A run recorded failed by another process stays failed even
			// with a fence that still holds.
			runC := newRun("run_c", start.Add(5*time.Minute))
			runC.Fence = lockB.Fence()
			if err := two.StartRun(ctx, runC); err != nil {
				t.Fatal(err)
			}
			if _, err := two.AbortRunning(ctx, "aborted: test"); err != nil {
				t.Fatal(err)
			}
			runC.FinishedAt, runC.Status = start.Add(6*time.Minute), reconcile.RunSucceeded
			if _, err := two.FinishRun(ctx, runC, []reconcile.Discrepancy{stale}, nil); !errors.Is(err, reconcile.ErrFenced) {
				t.Fatalf("FinishRun of a run recorded failed: %v, want ErrFenced", err)
			}
			if got, _ := two.Discrepancy(ctx, stale.ID); got.Status != reconcile.StatusResolved {
				t.Fatalf("a refused FinishRun changed the case: %+v", got)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := nearDeadline(t)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// nearDeadline fires 10 s before go test's deadline (-timeout), or never
// when there is none: waits on a condition fail there, not after a fixed
// few seconds that a loaded machine may need.
func nearDeadline(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil
	}
	return time.After(time.Until(d) - 10*time.Second)
}
