package reconcile

import (
	"context"
	"errors"
)

// PreviewStore is a Store that can say what FinishRun would do without
// doing it: the dry run's read-only view of the stored cases.
type PreviewStore interface {
	// PreviewRun returns the changes FinishRun would make (DecideRun over
	// the stored cases of the subjects involved) and writes nothing.
	PreviewRun(ctx context.Context, run Run, found []Discrepancy, judged map[string]string) (Changes, error)
}

// errNoPreview: the Store cannot preview, so a dry run cannot judge.
var errNoPreview = errors.New("the store cannot preview a run")

// DryRun reads and judges scope exactly as Run does (the same reads,
// look-ups, matching, classification and Decide, so a case's status and
// new in the report are what a run would say), and records nothing: no run,
// case, history or alert, and no lock is needed. The report's run is marked
// DryRun, and Held when a run would be held.
func (r *Runner) DryRun(ctx context.Context, scope Scope) (Report, error) {
	if _, ok := r.Store.(PreviewStore); !ok {
		return Report{}, errNoPreview
	}
	now := r.now()
	if scope.Until.IsZero() {
		scope.Until = now
	}
	newID := r.NewID
	if newID == nil {
		newID = NewRunID
	}
	// A dry run's id says so: no run of that id is ever recorded.
	run := Run{ID: "dry_" + newID(now), Scope: scope, StartedAt: now, Status: RunRunning, DryRun: true}
	rep, err := r.reconcile(ctx, &run, now)
	if err != nil {
		run.Status, run.Error, run.FinishedAt = RunFailed, err.Error(), r.now()
		return Report{Run: run, Timings: rep.Timings}, err
	}
	return rep, nil
}

// finish records a run that read and judged everything, with the Runner's
// hold policy, or, for a dry run, only previews it. A held run is marked
// Held.
func (r *Runner) finish(ctx context.Context, run *Run, found []Discrepancy, judged map[string]string) (Changes, error) {
	run.Hold = r.Hold
	var ch Changes
	var err error
	if run.DryRun {
		ps, ok := r.Store.(PreviewStore)
		if !ok {
			return Changes{}, errNoPreview
		}
		ch, err = ps.PreviewRun(ctx, *run, found, judged)
	} else {
		ch, err = r.Store.FinishRun(ctx, *run, found, judged)
	}
	if err != nil {
		return Changes{}, err
	}
	if h := ch.Held; h != nil {
		run.Held = &Hold{State: HoldWaiting, NewDiscrepancies: h.NewDiscrepancies, RefundsInScope: h.RefundsInScope}
	}
	return ch, nil
}
