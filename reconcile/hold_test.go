package reconcile

import (
	"fmt"
	"testing"
	"time"
)

func TestHoldPolicyHolds(t *testing.T) {
	for _, c := range []struct {
		p       HoldPolicy
		n, refs int
		want    bool
	}{
		{DefaultHold, 2076, 2076, true}, // the misconfigured query
		{DefaultHold, 20, 100, true},    // 20% of 100, and 20
		{DefaultHold, 19, 19, false},    // under the minimum
		{DefaultHold, 25, 1000, false},  // 2.5%: an ordinary bad night
		{DefaultHold, 50, 1000, false},  // exactly 5% is not more than 5%
		{DefaultHold, 51, 1000, true},
		{HoldPolicy{Share: 0, Min: 20}, 20, 1_000_000, true},
		{HoldPolicy{Share: 1, Min: 20}, 30, 30, false},
		{HoldPolicy{}, 5000, 5000, false}, // the zero value never holds
	} {
		if got := c.p.Holds(c.n, c.refs); got != c.want {
			t.Errorf("%+v.Holds(%d, %d) = %v, want %v", c.p, c.n, c.refs, got, c.want)
		}
	}
}

func TestRefundsInScope(t *testing.T) {
	for _, c := range []struct {
		c    Counts
		want int
	}{
		{Counts{LedgerRefunds: 100, GatewayRefunds: 90, Matched: 90}, 100},
		{Counts{LedgerRefunds: 2000, GatewayRefunds: 76}, 2076},
		{Counts{GatewayRefunds: 5}, 5},
	} {
		if got := c.c.RefundsInScope(); got != c.want {
			t.Errorf("%+v.RefundsInScope() = %d, want %d", c.c, got, c.want)
		}
	}
}

// TestDecideRunHolds: new cases count, reopened and refreshed ones do not;
// a customer check is never held.
func TestDecideRunHolds(t *testing.T) {
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	var found []Discrepancy
	for i := range 25 {
		found = append(found, Discrepancy{Kind: InvalidLedgerRow, LedgerRefundID: fmt.Sprintf("lr_%d", i), CustomerID: "cus_1"})
	}
	run := Run{ID: "run_1", Hold: DefaultHold, Counts: Counts{LedgerRefunds: 100}}
	ch := DecideRun(run, at, nil, found, nil)
	if ch.Held == nil || *ch.Held != (HeldRun{RunID: "run_1", NewDiscrepancies: 25, RefundsInScope: 100}) {
		t.Fatalf("held = %+v, want 25 new of 100", ch.Held)
	}
	// The same cases known already: refreshed, nothing new, not held.
	if again := DecideRun(run, at.Add(time.Hour), ch.Cases, found, nil); again.Held != nil {
		t.Errorf("a run that opens nothing new is held: %+v", again.Held)
	}
	// Reopened (resolved before) is not new.
	var resolved []Discrepancy
	for _, d := range ch.Cases {
		d.Status = StatusResolved
		resolved = append(resolved, d)
	}
	if re := DecideRun(run, at.Add(time.Hour), resolved, found, nil); re.Held != nil || re.NewCases() != 0 {
		t.Errorf("reopenings held the run: %+v", re.Held)
	}
	run.Scope.CustomerID = "cus_1"
	if c := DecideRun(run, at, nil, found, nil); c.Held != nil {
		t.Errorf("a customer check is held: %+v", c.Held)
	}
	run.Scope.CustomerID, run.Hold = "", HoldPolicy{}
	if c := DecideRun(run, at, nil, found, nil); c.Held != nil {
		t.Errorf("no policy, yet held: %+v", c.Held)
	}
}

func TestAlertRunHeldType(t *testing.T) {
	if got := AlertRunHeld.Type(); got != "run.held" {
		t.Errorf("AlertRunHeld.Type() = %q", got)
	}
	if got := AlertOpened.Type(); got != "discrepancy.opened" {
		t.Errorf("AlertOpened.Type() = %q", got)
	}
}
