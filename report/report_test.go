package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

func minorUnits(v int64) *int64 { return &v }

var sample = []reconcile.Discrepancy{
	{ID: "dsc_1", Kind: reconcile.GatewayFailed, Status: reconcile.StatusOpen, New: true, CustomerID: "cus_1",
		LedgerRefundID: "lr_1", GatewayRefundIDs: []string{"re_1", "re_2"}, ChargeID: "ch_1", Currency: "jpy",
		LedgerAmount: minorUnits(4500), GatewayAmount: minorUnits(4500), GatewayStatus: reconcile.RefundFailed,
		FailureReason: "expired_or_canceled_card", Detail: "failed, \"quoted\", with a comma",
		FirstSeenAt: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), LastSeenAt: time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)},
	{ID: "dsc_2", Kind: reconcile.InvalidLedgerRow, Status: reconcile.StatusOpen, CustomerID: "=HYPERLINK(\"http://x\")",
		LedgerRefundID: "lr_2", GatewayRefundIDs: []string{}, Currency: "kwd", LedgerAmount: minorUnits(-1500),
		Detail: "@SUM(A1)\nsecond line"},
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sample); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\r\n") {
		t.Error("RFC 4180 wants CRLF line ends")
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || len(recs[0]) != len(CSVColumns) {
		t.Fatalf("got %d records of %d columns", len(recs), len(recs[0]))
	}
	col := func(rec []string, name string) string {
		for i, c := range CSVColumns {
			if c == name {
				return rec[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	r1, r2 := recs[1], recs[2]
	for name, want := range map[string]string{
		"gateway_refund_ids": "re_1 re_2", "ledger_amount": "4500", "ledger_amount_formatted": "4500",
		"detail": "failed, \"quoted\", with a comma", "first_seen_at": "2026-11-01T02:00:00Z",
	} {
		if got := col(r1, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := col(r2, "ledger_amount_formatted"); got != "-1.500" {
		t.Errorf("KWD has three digits: %q", got)
	}
	if got := col(r2, "customer_id"); !strings.HasPrefix(got, "'=") {
		t.Errorf("formula not defused: %q", got)
	}
	if got := col(r2, "detail"); !strings.HasPrefix(got, "'@") {
		t.Errorf("formula not defused: %q", got)
	}
	if got := col(r2, "gateway_amount"); got != "" {
		t.Errorf("absent amount is %q, want empty", got)
	}
}

func TestWriteTextCleansControlCharacters(t *testing.T) {
	var buf bytes.Buffer
	ds := []reconcile.Discrepancy{{ID: "dsc_x", Kind: reconcile.MissingInLedger, CustomerID: "cus_\x1b[31mred", Detail: "a\nb"}}
	if err := WriteDiscrepanciesText(&buf, ds); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(buf.String(), 0x1b) || strings.Contains(buf.String(), "a\nb") {
		t.Fatalf("control characters reached the terminal: %q", buf.String())
	}
}
