package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/refundrecon/refundrecon/reconcile"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var goldenNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// goldenCases hold JPY (no minor digits), KWD (three), USD and EUR, a
// customer with two cases, every status and hostile values.
func goldenCases() []reconcile.Discrepancy {
	day := 24 * time.Hour
	at := func(d int) time.Time { return goldenNow.Add(-time.Duration(d) * day) }
	return []reconcile.Discrepancy{
		{ID: "dsc_a", Kind: reconcile.GatewayFailed, Status: reconcile.StatusOpen, CustomerID: "cus_1", LedgerRefundID: "lr_1",
			GatewayRefundIDs: []string{"re_1"}, ChargeID: "ch_1", Currency: "jpy", GatewayCurrency: "jpy",
			LedgerAmount: minorUnits(1234567), GatewayAmount: minorUnits(1234567), GatewayStatus: reconcile.RefundFailed,
			FailureReason: "expired_or_canceled_card", Detail: "Stripe failed it.", FirstSeenAt: at(3), LastSeenAt: at(0)},
		{ID: "dsc_b", Kind: reconcile.AmountMismatch, Status: reconcile.StatusAcknowledged, CustomerID: "cus_1", LedgerRefundID: "lr_2",
			GatewayRefundIDs: []string{"re_2"}, Currency: "kwd", GatewayCurrency: "kwd", LedgerAmount: minorUnits(10500),
			GatewayAmount: minorUnits(10000), GatewayStatus: reconcile.RefundSucceeded, Detail: "Differs by KWD 0.500.",
			FirstSeenAt: at(20), LastSeenAt: at(0)},
		{ID: "dsc_c", Kind: reconcile.MissingInLedger, Status: reconcile.StatusOpen, CustomerID: "cus_<script>alert(1)</script>",
			GatewayRefundIDs: []string{"re_3"}, Currency: "usd", GatewayCurrency: "usd", GatewayAmount: minorUnits(250000),
			GatewayStatus: reconcile.RefundSucceeded, Detail: "=HYPERLINK(\"http://evil\") <img src=x onerror=alert(2)>",
			FirstSeenAt: at(45), LastSeenAt: at(0)},
		{ID: "dsc_d", Kind: reconcile.CurrencyMismatch, Status: reconcile.StatusResolved, CustomerID: "cus_2", LedgerRefundID: "lr_4",
			GatewayRefundIDs: []string{"re_4"}, Currency: "usd", GatewayCurrency: "eur", LedgerAmount: minorUnits(999),
			GatewayAmount: minorUnits(999), GatewayStatus: reconcile.RefundSucceeded, Detail: "USD against EUR.",
			FirstSeenAt: at(120), LastSeenAt: at(100)},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./report -update rewrites it):\n%s", name, got)
	}
}

func TestFinanceGolden(t *testing.T) {
	f := NewFinance("every", goldenCases(), goldenNow)
	for _, format := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"finance.txt", func(b *bytes.Buffer) error { return WriteFinanceText(b, f) }},
		{"finance.csv", func(b *bytes.Buffer) error { return WriteCSV(b, f.Discrepancies) }},
		{"finance.json", func(b *bytes.Buffer) error { return WriteFinanceJSON(b, f) }},
		{"finance.html", func(b *bytes.Buffer) error { return WriteFinanceHTML(b, f) }},
	} {
		t.Run(format.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := format.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, format.name, b.Bytes())
		})
	}
}

func TestFinanceSummary(t *testing.T) {
	f := NewFinance("every", goldenCases(), goldenNow)
	s := f.Summary
	want := map[string]int64{"jpy": 1234567, "kwd": 500, "usd": 250000 + 999}
	if len(s.ByCurrency) != len(want) {
		t.Fatalf("by currency %v", s.ByCurrency)
	}
	for _, m := range s.ByCurrency {
		if want[m.Currency] != m.Amount {
			t.Errorf("%s at risk %d, want %d", m.Currency, m.Amount, want[m.Currency])
		}
	}
	if s.Ageing != [4]int{1, 1, 1, 1} {
		t.Errorf("ageing %v", s.Ageing)
	}
	if len(s.RepeatCustomers) != 1 || s.RepeatCustomers[0].CustomerID != "cus_1" {
		t.Errorf("repeat customers %v", s.RepeatCustomers)
	}
	// The customer with two cases comes first.
	if f.Discrepancies[0].CustomerID != "cus_1" || f.Discrepancies[1].CustomerID != "cus_1" {
		t.Errorf("order %s, %s", f.Discrepancies[0].ID, f.Discrepancies[1].ID)
	}
}

// The HTML report parses, holds no script or external asset, and shows
// hostile values as text.
func TestFinanceHTMLIsSafeAndSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFinanceHTML(&b, NewFinance("every", goldenCases(), goldenNow)); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "img", "link", "iframe":
				t.Errorf("report holds a <%s> element", n.Data)
			}
			for _, a := range n.Attr {
				if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("report holds attribute %s=%q", a.Key, a.Val)
				}
			}
		}
		if n.Type == html.TextNode {
			texts = append(texts, n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	all := strings.Join(texts, "")
	for _, s := range []string{"cus_<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "JPY", "1,234,567", "KWD 10.500"} {
		if !strings.Contains(all, s) {
			t.Errorf("the page's text lacks %q", s)
		}
	}
}

// The HTML report marks the cases that page by the alerts' rule: the
// configured kinds and amount floor, not a list of its own.
func TestFinanceHTMLMarksCasesByThePagingRule(t *testing.T) {
	marked := func(p reconcile.Paging) (kinds, rows int) {
		t.Helper()
		f := NewFinance("every", goldenCases(), goldenNow)
		f.Paging = p
		var b bytes.Buffer
		if err := WriteFinanceHTML(&b, f); err != nil {
			t.Fatal(err)
		}
		return strings.Count(b.String(), `<tr><td class="kind page">`), strings.Count(b.String(), "\n    <td class=\"kind page\">")
	}
	// By default only GatewayFailed (dsc_a) of the golden cases pages.
	defKinds, defRows := marked(reconcile.Paging{})
	if defKinds == 0 || defRows != 1 {
		t.Fatalf("default paging marks %d kinds, %d rows; want some kinds and 1 row", defKinds, defRows)
	}
	if k, r := marked(reconcile.Paging{PageKinds: []reconcile.Kind{}}); k != 0 || r != 0 {
		t.Errorf("ALERT_PAGE_KINDS=none still marks %d kinds, %d rows", k, r)
	}
	// AmountMismatch (dsc_b, KWD 0.500 at risk) and MissingInLedger (dsc_c,
	// USD 2,500.00) page; a KWD floor of 1.000 keeps dsc_b from paging.
	p := reconcile.Paging{PageKinds: []reconcile.Kind{reconcile.AmountMismatch, reconcile.MissingInLedger},
		PageMinAmount: map[string]int64{"kwd": 1000}}
	if _, r := marked(p); r != 1 {
		t.Errorf("kinds AmountMismatch,MissingInLedger with a KWD 1.000 floor mark %d rows, want 1 (dsc_c)", r)
	}
	p.PageMinAmount = nil
	if _, r := marked(p); r != 2 {
		t.Errorf("kinds AmountMismatch,MissingInLedger mark %d rows, want 2", r)
	}
}
