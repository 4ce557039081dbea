package ledgercsv

import (
	"errors"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

const header = "id,customer_id,charge_id,payment_intent_id,gateway_refund_id,amount,currency,status,completed_at,created_at\n"

func TestReadReportsBadLinesAndKeepsTheRest(t *testing.T) {
	in := header +
		"lr_1,cus_1,ch_1,,re_1,4500,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" + // line 2: good
		"lr_2,cus_1,ch_2,,,-100,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" + // 3: negative
		"lr_3,cus_2,ch_3,,,100,XYZ,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" + // 4: currency
		"lr_4,cus_2,ch_4,,,100,EUR,complete,yesterday,2026-10-01T09:59:00Z\n" + // 5: bad date
		"lr_5,cus_2,ch_5,,,100,EUR,complete\n" + // 6: missing columns
		"lr_6,cus_3,,pi_6,,1500,JPY,pending,,2026-10-02 08:00:00\n" + // 7: good, no zone
		"lr_1,cus_1,ch_1,,re_1,4500,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" + // 8: repeat
		"lr_9,cus_9,ch_9,,,12.50,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" // 9: decimal amount
	var good []int
	var rows []reconcile.LedgerRefund
	bad, err := Read(strings.NewReader(in), money.Valid, func(line int, l reconcile.LedgerRefund) error {
		good = append(good, line)
		rows = append(rows, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 2 || good[0] != 2 || good[1] != 7 {
		t.Fatalf("good lines %v, want [2 7]", good)
	}
	want := map[int]string{
		3: "amount is not positive", 4: `currency "XYZ" is not an ISO 4217 code`, 5: `completed_at "yesterday" is not a date`,
		6: "has 8 fields, the header has 10", 8: "repeats line 2", 9: `amount "12.50" is not a whole number`,
	}
	if len(bad) != len(want) {
		t.Fatalf("bad lines %v, want %d", bad, len(want))
	}
	for _, b := range bad {
		if !strings.Contains(b.Reason, want[b.Line]) || want[b.Line] == "" {
			t.Errorf("line %d: %q, want it to say %q", b.Line, b.Reason, want[b.Line])
		}
	}
	if rows[1].PaymentIntentID != "pi_6" || rows[1].CreatedAt.Hour() != 8 || !rows[1].CompletedAt.IsZero() || rows[1].Amount != 1500 {
		t.Errorf("row 7 read as %+v", rows[1])
	}
}

func TestReadHeaderErrors(t *testing.T) {
	_, err := Read(strings.NewReader("id,customer_id,amount\nlr_1,cus_1,5\n"), money.Valid, func(int, reconcile.LedgerRefund) error { return nil })
	if !errors.Is(err, reconcile.ErrConfig) || !strings.Contains(err.Error(), "currency") {
		t.Fatalf("err = %v, want a configuration error naming currency", err)
	}
	_, err = Read(strings.NewReader(""), money.Valid, func(int, reconcile.LedgerRefund) error { return nil })
	if !errors.Is(err, reconcile.ErrConfig) {
		t.Fatalf("empty file: %v", err)
	}
	// A spreadsheet's byte-order mark and other column orders are fine.
	in := "\ufeffcreated_at,completed_at,status,currency,amount,gateway_refund_id,payment_intent_id,charge_id,customer_id,id,note\n" +
		"2026-10-01,2026-10-01T10:00:00Z,complete,usd,10,,,ch_1,cus_1,lr_1,hello\n"
	n := 0
	bad, err := Read(strings.NewReader(in), money.Valid, func(int, reconcile.LedgerRefund) error { n++; return nil })
	if err != nil || len(bad) != 0 || n != 1 {
		t.Fatalf("reordered header: n=%d bad=%v err=%v", n, bad, err)
	}
}
