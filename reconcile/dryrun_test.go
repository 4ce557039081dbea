package reconcile

import (
	"context"
	"fmt"
	"testing"
)

// previewStore is a memStore that previews: DecideRun over its cases,
// changing nothing.
type previewStore struct{ *memStore }

func (p previewStore) PreviewRun(_ context.Context, r Run, found []Discrepancy, judged map[string]string) (Changes, error) {
	stored := make([]Discrepancy, 0, len(p.cases))
	for _, d := range p.cases {
		stored = append(stored, d)
	}
	return DecideRun(r, r.FinishedAt, stored, found, judged), nil
}

// TestDryRunJudgesAsARunAndRecordsNothing: the dry run's report is the
// run's (the same cases, new and status, the same hold), and the store saw
// no StartRun, FinishRun or FailRun.
func TestDryRunJudgesAsARunAndRecordsNothing(t *testing.T) {
	ledger := &memLedger{}
	for i := range 25 { // a misconfigured query: every row invalid
		ledger.rows = append(ledger.rows, LedgerRefund{ID: fmt.Sprintf("lr_%02d", i), CustomerID: "cus_1", Amount: 100,
			Currency: "usd", Status: "REFUNDED", CreatedAt: ago(3 * day24), CompletedAt: ago(3 * day24)})
	}
	gateway := &memGateway{}
	mem := newMemStore()
	r := newRunner(ledger, gateway, nil)
	r.Store, r.Hold = previewStore{mem}, DefaultHold

	dry, err := r.DryRun(context.Background(), window)
	if err != nil {
		t.Fatal(err)
	}
	if len(mem.runs) != 0 || len(mem.cases) != 0 || mem.finish != 0 {
		t.Fatalf("the dry run recorded: %d runs, %d cases, %d finishes", len(mem.runs), len(mem.cases), mem.finish)
	}
	if !dry.Run.DryRun || dry.Run.Held == nil || dry.Run.Held.NewDiscrepancies != 25 {
		t.Errorf("dry run: %+v, want marked dry and held with 25 new", dry.Run)
	}

	r.Store = mem // a real run, same data
	real, err := r.Run(context.Background(), window)
	if err != nil {
		t.Fatal(err)
	}
	if len(real.Discrepancies) != len(dry.Discrepancies) || len(real.Discrepancies) != 25 {
		t.Fatalf("run found %d, dry run %d", len(real.Discrepancies), len(dry.Discrepancies))
	}
	for i, d := range real.Discrepancies {
		g := dry.Discrepancies[i]
		if d.ID != g.ID || d.New != g.New || d.Status != g.Status || d.Kind != g.Kind {
			t.Errorf("case %d: run %s %v %s, dry run %s %v %s", i, d.ID, d.New, d.Status, g.ID, g.New, g.Status)
		}
	}

	// A store that cannot preview: no dry run rather than a real one.
	r.Store = newMemStore()
	if _, err := r.DryRun(context.Background(), window); err == nil {
		t.Error("a dry run over a store that cannot preview ran")
	}
}
