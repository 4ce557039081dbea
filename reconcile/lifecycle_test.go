package reconcile

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The contract's "Discrepancy identity and life", as Decide's table.
func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	at := t0.Add(24 * time.Hour)
	amount := func(n int64) *int64 { return &n }
	ledgerCase := func(kind Kind, gatewayAmount int64, gateway ...string) Discrepancy {
		d := Discrepancy{Kind: kind, CustomerID: "cus_1", LedgerRefundID: "lr_1", GatewayRefundIDs: gateway,
			Currency: "usd", LedgerAmount: amount(4500), GatewayAmount: amount(gatewayAmount), Detail: string(kind)}
		return d.withID()
	}
	stored := func(d Discrepancy, s Status) Discrepancy {
		d.Status, d.FirstSeenAt, d.LastSeenAt = s, t0, t0
		return d
	}
	// An invalid row without an id: identified by its content.
	idless := LedgerRefund{CustomerID: "cus_1", Amount: -5, Currency: "usd", Status: LedgerComplete, CreatedAt: t0}
	invalid, ok := rules.ClassifyLedger(&idless, nil, nil, at)
	if !ok || invalid.Kind != InvalidLedgerRow || !strings.HasPrefix(invalid.Subject, "row:") {
		t.Fatalf("id-less invalid row: %+v", invalid)
	}
	failed := ledgerCase(GatewayFailed, 4500, "re_1")
	unmatched := Discrepancy{Kind: MissingInLedger, CustomerID: "cus_1", GatewayRefundIDs: []string{"re_9"}, GatewayAmount: amount(100)}
	unmatched = unmatched.withID()

	type want struct {
		action CaseAction
		id     string
		status Status
		new    bool
		alert  AlertAction
		note   string // a part of the history's note
	}
	tests := []struct {
		name   string
		stored []Discrepancy
		found  []Discrepancy
		judged map[string]string
		want   []want
	}{
		{
			name:  "a new problem opens a case",
			found: []Discrepancy{failed},
			want:  []want{{CaseOpened, failed.ID, StatusOpen, true, AlertOpened, ""}},
		},
		{
			name:   "seen again unchanged: refreshed, no history, no alert",
			stored: []Discrepancy{stored(failed, StatusAcknowledged)},
			found:  []Discrepancy{failed},
			judged: map[string]string{failed.Subject: ReasonNoLongerFound},
			want:   []want{{CaseRefreshed, failed.ID, StatusAcknowledged, false, "", ""}},
		},
		{
			name:   "the wording alone changes: still a refresh",
			stored: []Discrepancy{stored(failed, StatusOpen)},
			found: []Discrepancy{func() Discrepancy {
				d := failed
				d.Detail = "reworded"
				return d
			}()},
			want: []want{{CaseRefreshed, failed.ID, StatusOpen, false, "", ""}},
		},
		{
			name:   "the kind changes (amount fixed, refund now failed): same id, one update",
			stored: []Discrepancy{stored(ledgerCase(AmountMismatch, 4000, "re_1"), StatusOpen)},
			found:  []Discrepancy{failed},
			want: []want{{CaseUpdated, failed.ID, StatusOpen, false, AlertUpdated,
				"kind amount_mismatch → gateway_failed; gateway amount 4000 → 4500"}},
		},
		{
			name:   "a second failed attempt is linked: same id, one update, status kept",
			stored: []Discrepancy{stored(failed, StatusAcknowledged)},
			found:  []Discrepancy{ledgerCase(GatewayFailed, 4500, "re_1", "re_2")},
			want: []want{{CaseUpdated, failed.ID, StatusAcknowledged, false, AlertUpdated,
				"gateway refunds re_1 → re_1,re_2"}},
		},
		{
			name:   "fixed: judged again and not found, resolved",
			stored: []Discrepancy{stored(failed, StatusOpen)},
			judged: map[string]string{failed.Subject: ReasonNoLongerFound},
			want:   []want{{CaseResolved, failed.ID, StatusResolved, false, AlertResolved, "no longer a problem"}},
		},
		{
			name:   "not judged (outside what the run looked at): left alone",
			stored: []Discrepancy{stored(failed, StatusOpen)},
			judged: map[string]string{},
			want:   nil,
		},
		{
			name:   "manually resolved but the problem persists: reopened under its id",
			stored: []Discrepancy{stored(failed, StatusResolved)},
			found:  []Discrepancy{failed},
			want:   []want{{CaseReopened, failed.ID, StatusOpen, false, AlertOpened, "the problem is back"}},
		},
		{
			name:   "the ledger row was deleted: resolved, the history says so",
			stored: []Discrepancy{stored(failed, StatusAcknowledged)},
			judged: map[string]string{failed.Subject: ReasonLedgerRowDeleted},
			want:   []want{{CaseResolved, failed.ID, StatusResolved, false, AlertResolved, "ledger row deleted"}},
		},
		{
			name:   "an id-less invalid row is fixed: resolved",
			stored: []Discrepancy{stored(invalid, StatusOpen)},
			judged: map[string]string{invalid.Subject: ReasonRowChanged},
			want:   []want{{CaseResolved, invalid.ID, StatusResolved, false, AlertResolved, "without an id was fixed"}},
		},
		{
			name:   "an id-less invalid row still there: refreshed",
			stored: []Discrepancy{stored(invalid, StatusOpen)},
			found:  []Discrepancy{invalid},
			judged: map[string]string{invalid.Subject: ReasonRowChanged},
			want:   []want{{CaseRefreshed, invalid.ID, StatusOpen, false, "", ""}},
		},
		{
			name:   "an unmatched gateway refund's case, still unmatched",
			stored: []Discrepancy{stored(unmatched, StatusOpen)},
			found:  []Discrepancy{unmatched},
			want:   []want{{CaseRefreshed, unmatched.ID, StatusOpen, false, "", ""}},
		},
		{
			name: "a case from before identity by subject (another id) keeps its id",
			stored: []Discrepancy{func() Discrepancy {
				d := stored(ledgerCase(AmountMismatch, 4000, "re_1"), StatusOpen)
				d.ID = DiscrepancyID("amount_mismatch|lr_1|re_1")
				return d
			}()},
			found: []Discrepancy{failed},
			want: []want{{CaseUpdated, DiscrepancyID("amount_mismatch|lr_1|re_1"), StatusOpen, false, AlertUpdated,
				"kind amount_mismatch → gateway_failed"}},
		},
		{
			name:  "a duplicated ledger row: one subject, one case",
			found: []Discrepancy{failed, failed},
			want:  []want{{CaseOpened, failed.ID, StatusOpen, true, AlertOpened, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(at, tt.stored, tt.found, tt.judged)
			if len(got.Changes) != len(tt.want) {
				t.Fatalf("changes = %+v, want %d", got.Changes, len(tt.want))
			}
			for i, w := range tt.want {
				c := got.Changes[i]
				if c.Action != w.action || c.Case.ID != w.id || c.Case.Status != w.status || c.Case.New != w.new ||
					c.Alert != w.alert || !strings.Contains(c.Note, w.note) {
					t.Errorf("change %d = %s %s status %s new %v alert %q note %q;\nwant %s %s status %s new %v alert %q note containing %q",
						i, c.Action, c.Case.ID, c.Case.Status, c.Case.New, c.Alert, c.Note,
						w.action, w.id, w.status, w.new, w.alert, w.note)
				}
				if c.Action != CaseResolved {
					if !c.Case.LastSeenAt.Equal(at) || (c.Action != CaseOpened && !c.Case.FirstSeenAt.Equal(t0)) {
						t.Errorf("change %d sightings: first %v last %v", i, c.Case.FirstSeenAt, c.Case.LastSeenAt)
					}
				}
			}
			var resolved []string
			for _, c := range got.Changes {
				if c.Action == CaseResolved {
					resolved = append(resolved, c.Case.ID)
				}
			}
			if !slices.Equal(got.Resolved, resolved) {
				t.Errorf("Resolved = %v, want %v", got.Resolved, resolved)
			}
			if len(got.Cases) != len(got.Changes)-len(resolved) {
				t.Errorf("Cases = %d, want one per found subject", len(got.Cases))
			}
		})
	}
}
