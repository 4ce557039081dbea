package main

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// The reconciliation lock, as every run takes it in app.reconcile.
//
// One run at a time writes discrepancies, across every process sharing the
// database (store.TryLock: a PostgreSQL advisory lock on a pinned
// connection, an expiring lock row on SQLite). Customer checks take the
// same lock as window runs: a run working from an older read of Stripe
// would otherwise resolve a case that a concurrent check has just opened
// (or reopen one it resolved). Customer checks are short, so they wait for
// the lock a little; window runs of the command line do not wait, and say
// that another reconciliation is running.

// lockWait is how long a run waits for the lock, by scope.
type lockWait struct {
	window, customer time.Duration
}

// cliCustomerLockWait is how long `customer` waits for a run in progress to
// finish; `run` does not wait: it fails at once (exit 1) saying that
// another reconciliation is running.
const cliCustomerLockWait = 30 * time.Second

// errSlotDone: the window run asked for was already made by another
// process (two replicas firing for one scheduled slot).
var errSlotDone = errors.New("this window's run was already made by another process")

// errRunPanicked: the run panicked; it is recorded as failed.
var errRunPanicked = errors.New("the run panicked")

// lockFor takes the reconciliation lock for scope, waiting as a.lockWait
// says. Holding it, it records any run still marked running as failed (an
// orphan of a process that died mid-run), and refuses a window run that
// another process has already made: runs are named by their window's end,
// and the schedule gives every process firing for one slot the same one.
func (a *app) lockFor(ctx context.Context, scope reconcile.Scope) (*store.Lock, error) {
	wait := a.lockWait.window
	if scope.CustomerID != "" {
		wait = a.lockWait.customer
	}
	deadline := time.Now().Add(wait)
	delay := 50 * time.Millisecond
	var lock *store.Lock
	for {
		var err error
		lock, err = a.db.TryLock(ctx, store.LockReconcile, store.LockOptions{})
		if err == nil {
			break
		}
		if !errors.Is(err, reconcile.ErrLocked) {
			return nil, err
		}
		if !time.Now().Add(delay).Before(deadline) {
			return nil, fmt.Errorf("%w; this run did not start: try again when that one has finished", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for the reconciliation lock: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, time.Second)
	}
	if n, err := a.db.AbortRunning(ctx, "aborted: the process running it stopped before it finished"); err != nil {
		a.unlock(ctx, lock)
		return nil, err
	} else if n > 0 {
		a.log.Warn("recorded orphaned runs as failed", "runs", n)
	}
	if scope.CustomerID == "" && !scope.Until.IsZero() {
		done, err := a.db.HasWindowRun(ctx, scope.Until)
		if err != nil || done {
			a.unlock(ctx, lock)
			if err == nil {
				err = fmt.Errorf("%w (window ending %s)", errSlotDone, scope.Until.UTC().Format(time.RFC3339))
			}
			return nil, err
		}
	}
	return lock, nil
}

// unlock releases the lock, on a fresh context; a failure is logged (the
// lock then ends with its session or lease).
func (a *app) unlock(ctx context.Context, lock *store.Lock) {
	if err := lock.Release(ctx); err != nil {
		a.log.Warn("release the reconciliation lock", "error", err)
	}
}

// watchLock returns a context that ends when the lock is lost (its
// connection died, its lease was taken over), so that the run stops and is
// recorded as failed rather than carrying on unprotected.
func (a *app) watchLock(ctx context.Context, lock *store.Lock) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-lock.Lost():
			a.log.Error("reconciliation lock lost; cancelling the run")
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// recoverRun turns a panic of the run into an error wrapping
// errRunPanicked, logged with its stack, and records the run as failed
// (the lock is still held, so the run still marked running is this one).
func (a *app) recoverRun(ctx context.Context, err *error) {
	p := recover()
	if p == nil {
		return
	}
	a.log.Error("run panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if _, ferr := a.db.AbortRunning(fctx, fmt.Sprintf("failed: panic: %v", p)); ferr != nil {
		a.log.Error("record the panicked run as failed", "error", ferr)
	}
	*err = fmt.Errorf("%w: %v", errRunPanicked, p)
}
