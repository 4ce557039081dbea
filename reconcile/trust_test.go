package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestStrTableHoldsHugeStrings: a ledger value of 2 MiB and more is interned
// and read back; its length prefix used to overflow a three-byte array and
// panic every run.
func TestStrTableHoldsHugeStrings(t *testing.T) {
	st := newStrTable()
	for _, n := range []int{bigString - 1, bigString, 2 << 20, 5 << 20} {
		s := strings.Repeat("x", n-1) + "y"
		id := st.intern(s)
		if got := st.str(id); got != s {
			t.Fatalf("string of %d bytes read back as %d bytes", n, len(got))
		}
		if again := st.intern(s); again != id {
			t.Fatalf("string of %d bytes interned twice: %d, %d", n, id, again)
		}
	}
	l := ledgerRow(func(l *LedgerRefund) { l.Currency = strings.Repeat("€", 1<<20) })
	m := Match([]LedgerRefund{l}, []GatewayRefund{gatewayRow("re_1")})
	if len(m.ByLedger[0]) != 1 {
		t.Fatalf("row with a 3 MiB currency did not match its refund: %v", m.ByLedger)
	}
}

// TestLedgerStatusAnyLetterCase: COMPLETE is complete, compared in lower
// case; a status that is none of the three in any case stays invalid.
func TestLedgerStatusAnyLetterCase(t *testing.T) {
	gw := []GatewayRefund{gatewayRow("re_1")}
	for _, s := range []LedgerStatus{"COMPLETE", "Complete", "complete"} {
		l := ledgerRow(func(l *LedgerRefund) { l.Status = s; l.Currency = "Usd" })
		if p := l.Problems(rules.ValidCurrency); len(p) != 0 {
			t.Errorf("status %q: problems %v", s, p)
		}
		if d, ok := rules.ClassifyLedger(&l, gw, []int32{0}, now); ok {
			t.Errorf("status %q: %s (%s), want no discrepancy", s, d.Kind, d.Detail)
		}
		// A failed refund of a COMPLETE row is gateway_failed: the status
		// counts as complete everywhere, not only as valid.
		failed := []GatewayRefund{gatewayRow("re_1", status(RefundFailed))}
		if d, ok := rules.ClassifyLedger(&l, failed, []int32{0}, now); !ok || d.Kind != GatewayFailed {
			t.Errorf("status %q with a failed refund: %q, want gateway_failed", s, d.Kind)
		}
	}
	s := &sides{unnamed: map[LedgerRefund]bool{}}
	s.strs = newStrTable()
	s.ledger.strs = s.strs
	s.addLedger(ledgerRow(func(l *LedgerRefund) { l.Status = "FAILED" }), false)
	if got := s.ledger.at(0).Status; got != LedgerFailed {
		t.Errorf("run holds status %q, want failed", got)
	}
	for _, bad := range []LedgerStatus{"done", "COMPLETED", " complete"} {
		l := ledgerRow(func(l *LedgerRefund) { l.Status = bad })
		if d, ok := rules.ClassifyLedger(&l, gw, []int32{0}, now); !ok || d.Kind != InvalidLedgerRow {
			t.Errorf("status %q: %q, want invalid_ledger_row", bad, d.Kind)
		}
	}
}

// TestAmountWithFractionIsInvalid: an amount that is not a whole number of
// minor units is reported as read, never rounded, and its case carries no
// ledger amount.
func TestAmountWithFractionIsInvalid(t *testing.T) {
	l := ledgerRow(func(l *LedgerRefund) { l.Amount, l.AmountText = 0, "60.5" })
	d, ok := rules.ClassifyLedger(&l, nil, nil, now)
	if !ok || d.Kind != InvalidLedgerRow {
		t.Fatalf("got %q, want invalid_ledger_row", d.Kind)
	}
	if !strings.Contains(d.Detail, "amount 60.5 is not a whole number of minor units") {
		t.Errorf("detail %q does not name the amount", d.Detail)
	}
	if d.LedgerAmount != nil {
		t.Errorf("ledger amount %d, want none", *d.LedgerAmount)
	}
	// Through a run's tables too: the text is kept.
	lt, _ := newTables([]LedgerRefund{l}, nil)
	if got := lt.at(0); got != l {
		t.Errorf("table read back %+v, want %+v", got, l)
	}
}

// TestOversizedValuesMakeTheRowInvalid: any column over MaxTextBytes, or
// holding bytes that are not text, makes the row invalid naming the column;
// the case holds every value bounded and tells rows apart.
func TestOversizedValuesMakeTheRowInvalid(t *testing.T) {
	huge := strings.Repeat("é", 1<<20) // 2 MiB
	tests := []struct {
		column string
		change func(*LedgerRefund)
	}{
		{"id", func(l *LedgerRefund) { l.ID = huge }},
		{"customer_id", func(l *LedgerRefund) { l.CustomerID = "cus_" + strings.Repeat("k", 3000) }},
		{"charge_id", func(l *LedgerRefund) { l.ChargeID = huge }},
		{"payment_intent_id", func(l *LedgerRefund) { l.PaymentIntentID = huge }},
		{"gateway_refund_id", func(l *LedgerRefund) { l.GatewayRefundID = huge }},
		{"currency", func(l *LedgerRefund) { l.Currency = huge }},
		{"status", func(l *LedgerRefund) { l.Status = LedgerStatus(huge) }},
		{"id", func(l *LedgerRefund) { l.ID = "lr_\x00nul" }},
		{"customer_id", func(l *LedgerRefund) { l.CustomerID = "cus_\xff\xfe" }},
	}
	for _, tt := range tests {
		l := ledgerRow(tt.change)
		d, ok := rules.ClassifyLedger(&l, nil, nil, now)
		if !ok || d.Kind != InvalidLedgerRow {
			t.Errorf("%s: got %q, want invalid_ledger_row", tt.column, d.Kind)
			continue
		}
		if !strings.Contains(d.Detail, tt.column+" is longer than 255 bytes") && !strings.Contains(d.Detail, tt.column+" holds bytes that are not text") {
			t.Errorf("%s: detail does not name the column: %.300s", tt.column, d.Detail)
		}
		for name, v := range map[string]string{"ledger_refund_id": d.LedgerRefundID, "customer_id": d.CustomerID,
			"charge_id": d.ChargeID, "currency": d.Currency} {
			if len(v) > MaxTextBytes || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Errorf("%s: case's %s is %d bytes, valid UTF-8 %v", tt.column, name, len(v), utf8.ValidString(v))
			}
		}
		if len(d.Detail) > MaxDetailBytes || !utf8.ValidString(d.Detail) {
			t.Errorf("%s: detail of %d bytes", tt.column, len(d.Detail))
		}
	}
	a := ledgerRow(func(l *LedgerRefund) { l.ID = huge + "a" })
	b := ledgerRow(func(l *LedgerRefund) { l.ID = huge + "b" })
	da, _ := rules.ClassifyLedger(&a, nil, nil, now)
	db, _ := rules.ClassifyLedger(&b, nil, nil, now)
	if da.ID == db.ID || da.LedgerRefundID == db.LedgerRefundID {
		t.Errorf("two rows with different huge ids share a case: %s %s", da.LedgerRefundID, db.LedgerRefundID)
	}
	if short := "lr_ok"; Bounded(short) != short {
		t.Errorf("Bounded changed a short id")
	}
}

// TestRowWithoutTimestampsIsInEveryWindow: a row without completed_at and
// created_at is read by every run, reported invalid, and takes its gateway
// refund off missing_in_ledger.
func TestRowWithoutTimestampsIsInEveryWindow(t *testing.T) {
	l := ledgerRow(func(l *LedgerRefund) { l.CompletedAt, l.CreatedAt = time.Time{}, time.Time{}; l.GatewayRefundID = "" })
	for _, scope := range []Scope{{Since: ago(90 * day24), Until: now}, {Since: ago(2 * day24), Until: now, CustomerID: "cus_1"}, {Until: now}} {
		if !l.inWindow(scope) {
			t.Errorf("row without timestamps not in window %v", scope)
		}
	}
	late := ledgerRow(func(l *LedgerRefund) { l.Status = LedgerPending; l.CreatedAt = time.Time{}; l.CompletedAt = ago(day24) })
	if !late.inWindow(Scope{Since: ago(2 * day24), Until: now}) || late.inWindow(Scope{Since: ago(300 * day24), Until: ago(200 * day24)}) {
		t.Errorf("a row with only completed_at is placed by it")
	}

	ledger := &timelessLedger{rows: []LedgerRefund{l}}
	g := &memGateway{refunds: []GatewayRefund{gatewayRow("re_1", func(g *GatewayRefund) { g.Created = ago(3 * day24) })}}
	r := newRunner(&memLedger{}, g, newMemStore())
	r.Ledger = ledger
	rep, err := r.Run(context.Background(), Scope{Since: ago(10 * day24), Until: now})
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(rep.Discrepancies)
	if len(got) != 1 || got[0].Kind != InvalidLedgerRow {
		t.Fatalf("discrepancies %v, want only invalid_ledger_row of lr_1", got)
	}
}

// timelessLedger returns its rows to every query, as the default ledger
// query returns rows without timestamps to every window.
type timelessLedger struct{ rows []LedgerRefund }

func (m *timelessLedger) Refunds(_ context.Context, _ LedgerQuery, fn func(LedgerRefund) error) error {
	for _, l := range m.rows {
		if err := fn(l); err != nil {
			return err
		}
	}
	return nil
}

// An open case of a row whose id was too long to keep (stored bounded) is
// never called deleted for being out of a run's read: its id cannot be
// looked up. When the run reads the row, it is judged as any other.
func TestBoundedLedgerIDNotCalledDeleted(t *testing.T) {
	long := strings.Repeat("x", MaxTextBytes+10)
	id := Bounded(long)
	if !boundedForm(id) || boundedForm("lr_1") || boundedForm("lr_…#zz") {
		t.Fatalf("boundedForm misjudges %q", id)
	}
	d := Discrepancy{ID: "dsc_1", Kind: InvalidLedgerRow, LedgerRefundID: id}
	subj := d.Fingerprint()
	s := newSides(Scope{})
	if got := s.judged([]Discrepancy{d}, time.Time{}, time.Now()); got[subj] != "" {
		t.Errorf("unread bounded row judged %q, want not judged", got[subj])
	}
	s.addLedger(LedgerRefund{ID: long, CustomerID: "cus_1"}, false)
	if got := s.judged([]Discrepancy{d}, time.Time{}, time.Now()); got[subj] != ReasonNoLongerFound {
		t.Errorf("read bounded row judged %q, want %q", got[subj], ReasonNoLongerFound)
	}
}
