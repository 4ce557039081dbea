package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// verdictReport is a customer check with one refund of each situation a
// support agent meets.
func verdictReport() reconcile.Report {
	day := 24 * time.Hour
	at := func(d int) time.Time { return goldenNow.Add(-time.Duration(d) * day) }
	complete := func(id, charge string, amount int64, currency string, d int) reconcile.LedgerRefund {
		return reconcile.LedgerRefund{ID: id, CustomerID: "cus_1", ChargeID: charge, Amount: amount, Currency: currency,
			Status: reconcile.LedgerComplete, CreatedAt: at(d), CompletedAt: at(d)}
	}
	gw := func(id, charge string, amount int64, currency string, status reconcile.GatewayStatus, d int) reconcile.GatewayRefund {
		return reconcile.GatewayRefund{ID: id, ChargeID: charge, Amount: amount, Currency: currency, Status: status, Created: at(d)}
	}
	failed := gw("re_1", "ch_1", 4500, "usd", reconcile.RefundFailed, 60)
	failed.FailureReason, failed.FailedAt = "expired_or_canceled_card", at(30)
	try1 := gw("re_try1", "ch_5", 2600, "usd", reconcile.RefundFailed, 12)
	try1.FailureReason = "declined"
	return reconcile.Report{
		Run: reconcile.Run{ID: "run_v", Scope: reconcile.Scope{Until: goldenNow, CustomerID: "cus_1"}, StartedAt: goldenNow,
			FinishedAt: goldenNow.Add(time.Second), Status: reconcile.RunSucceeded,
			Counts: reconcile.Counts{LedgerRefunds: 5, GatewayRefunds: 7, Matched: 4, Discrepancies: 4}},
		Discrepancies: []reconcile.Discrepancy{
			{ID: "dsc_f", Kind: reconcile.GatewayFailed, Status: reconcile.StatusOpen, New: true, CustomerID: "cus_1", LedgerRefundID: "lr_1",
				GatewayRefundIDs: []string{"re_1"}, Currency: "usd", LedgerAmount: minorUnits(4500), GatewayAmount: minorUnits(4500)},
			{ID: "dsc_m", Kind: reconcile.MissingAtGateway, Status: reconcile.StatusAcknowledged, CustomerID: "cus_1", LedgerRefundID: "lr_2",
				GatewayRefundIDs: []string{}, Currency: "jpy", LedgerAmount: minorUnits(3000)},
			{ID: "dsc_a", Kind: reconcile.AmountMismatch, Status: reconcile.StatusOpen, CustomerID: "cus_1", LedgerRefundID: "lr_3",
				GatewayRefundIDs: []string{"re_3"}, Currency: "usd", GatewayCurrency: "usd", LedgerAmount: minorUnits(5000), GatewayAmount: minorUnits(4500)},
			{ID: "dsc_o", Kind: reconcile.MissingInLedger, Status: reconcile.StatusOpen, CustomerID: "cus_1",
				GatewayRefundIDs: []string{"re_6"}, Currency: "usd", GatewayCurrency: "usd", GatewayAmount: minorUnits(1100)},
		},
		Refunds: []reconcile.RefundOutcome{
			{Ledger: complete("lr_5", "ch_5", 2600, "usd", 11), HasLedger: true,
				Gateway: []reconcile.GatewayRefund{withARN(gw("re_try2", "ch_5", 2600, "usd", reconcile.RefundSucceeded, 11), "74512346123456789012345"), try1}},
			{Ledger: complete("lr_3", "ch_3", 5000, "usd", 20), HasLedger: true,
				Gateway: []reconcile.GatewayRefund{gw("re_3", "ch_3", 4500, "usd", reconcile.RefundSucceeded, 20)}, DiscrepancyID: "dsc_a"},
			{Ledger: complete("lr_1", "ch_1", 4500, "usd", 60), HasLedger: true, Gateway: []reconcile.GatewayRefund{failed}, DiscrepancyID: "dsc_f"},
			{Ledger: complete("lr_2", "ch_2", 3000, "JPY", 5), HasLedger: true, DiscrepancyID: "dsc_m"},
			{Ledger: reconcile.LedgerRefund{ID: "lr_\x1b[31mred", CustomerID: "cus_1", ChargeID: "ch_7", Amount: 700, Currency: "usd",
				Status: reconcile.LedgerPending, CreatedAt: at(1)}, HasLedger: true,
				Gateway: []reconcile.GatewayRefund{gw("re_7", "ch_7", 700, "usd", reconcile.RefundPending, 1)}},
			{Gateway: []reconcile.GatewayRefund{gw("re_6", "ch_6", 1100, "usd", reconcile.RefundSucceeded, 8)}, DiscrepancyID: "dsc_o"},
			{Gateway: []reconcile.GatewayRefund{gw("re_8", "ch_8", 900, "usd", reconcile.RefundCanceled, 9)}},
		},
	}
}

func TestVerdictGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVerdict(&buf, verdictReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "verdict.txt", buf.Bytes())
	out := buf.String()
	for _, want := range []string{
		"Verdict: 4 problems found; 2 refunds the ledger calls complete did NOT reach the customer (JPY 3,000 and USD 45.00 not refunded).",
		"The ledger says complete on 26 September 2026; Stripe failed refund re_1 on 26 October 2026 (created 26 September 2026).",
		"Stripe's reason: expired_or_canceled_card — the card was expired or canceled",
		"Stripe has no refund for it",
		"Stripe sent them USD 45.00, USD 5.00 LESS than the ledger records",
		// A sent refund: when, when it should appear, and the ARN.
		"Stripe sent it to the card network on 14 November 2026; a card refund usually appears on the customer's statement 5–10 business days after (by about 27 November 2026). The card network's reference (ARN) is 74512346123456789012345",
		"Stripe has no card network reference (ARN) for it yet.",
		"Stripe refund re_try2 succeeded (created 14 November 2026) (other attempts: re_try1 failed)",
		"REFUNDED WITHOUT A LEDGER RECORD",
		"IN PROGRESS",
		"NOTHING REFUNDED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verdict lacks %q", want)
		}
	}
	// Every refund, OK ones too, newest first.
	if i, j, k := strings.Index(out, "2. Refund lr_2"), strings.Index(out, "5. Refund lr_5"), strings.Index(out, "7. Refund lr_1"); i < 0 || j < i || k < j {
		t.Errorf("refunds not newest first:\n%s", out)
	}
	// A sent card refund takes days to appear: never "received".
	if strings.Contains(out, "received this money") {
		t.Errorf("a sent refund is described as received:\n%s", out)
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Error("a control character reached the terminal")
	}
}

func TestVerdictNoProblem(t *testing.T) {
	rep := verdictReport()
	rep.Discrepancies = nil
	for i := range rep.Refunds {
		rep.Refunds[i].DiscrepancyID = ""
	}
	var buf bytes.Buffer
	if err := WriteVerdict(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Verdict: no problem found.") || strings.Contains(buf.String(), "NOT REFUNDED") {
		t.Fatalf("%s", buf.String())
	}
}

// A report built without outcomes still reads each case.
func TestVerdictWithoutOutcomes(t *testing.T) {
	rep := verdictReport()
	rep.Refunds = nil
	rep.Discrepancies[0].Detail = "The ledger marked refund lr_1 complete; Stripe failed it."
	var buf bytes.Buffer
	if err := WriteVerdict(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "1. "+reconcile.GatewayFailed.Info().Meaning+" [gateway_failed, case dsc_f, open]") {
		t.Fatalf("%s", buf.String())
	}
}

func withARN(g reconcile.GatewayRefund, arn string) reconcile.GatewayRefund {
	g.ARN = arn
	return g
}
