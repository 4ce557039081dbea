package report

import (
	"cmp"
	"embed"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

//go:embed templates/*.html
var templates embed.FS

var financeTemplate = template.Must(template.ParseFS(templates, "templates/finance.html"))

type htmlNamed struct {
	Name  string
	Count int
}

type htmlMoney struct{ Currency, Amount string }

type htmlKind struct {
	Kind, Currency, AtRisk string
	Cases                  int
	Page                   bool
}

type htmlRow struct {
	ID, Kind, Status, CustomerID, LedgerRefundID, LedgerAmount    string
	GatewayRefundIDs, GatewayAmount, GatewayStatus, FailureReason string
	AtRisk, FirstSeen, Detail                                     string
	Page                                                          bool
}

type htmlFinance struct {
	Scope, GeneratedAt string
	Cases              int
	AtRisk             []htmlMoney
	ByKind             []htmlKind
	Statuses, Ageing   []htmlNamed
	RepeatCustomers    []CustomerCases
	Rows               []htmlRow
}

// WriteFinanceHTML writes the report as one self-contained HTML file: no
// external assets, readable offline and printable. Every value is escaped by
// html/template (metadata and ledger values can hold markup).
func WriteFinanceHTML(w io.Writer, f Finance) error {
	s := f.Summary
	v := htmlFinance{Scope: f.Scope, GeneratedAt: s.GeneratedAt.Format(time.RFC3339), Cases: s.Cases,
		RepeatCustomers: s.RepeatCustomers}
	for _, m := range s.ByCurrency {
		v.AtRisk = append(v.AtRisk, htmlMoney{strings.ToUpper(m.Currency), money.Grouped(m.Amount, m.Currency)})
	}
	for _, t := range s.ByKind {
		v.ByKind = append(v.ByKind, htmlKind{Kind: string(t.Kind), Currency: strings.ToUpper(t.Currency),
			AtRisk: money.Grouped(t.AtRisk, t.Currency), Cases: t.Cases, Page: f.Paging.PagesKind(t.Kind)})
	}
	for _, st := range []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged, reconcile.StatusResolved} {
		v.Statuses = append(v.Statuses, htmlNamed{string(st), s.ByStatus[st]})
	}
	for i, name := range AgeBuckets {
		v.Ageing = append(v.Ageing, htmlNamed{name, s.Ageing[i]})
	}
	for _, d := range f.Discrepancies {
		v.Rows = append(v.Rows, rowOf(d, f.Paging))
	}
	return financeTemplate.Execute(w, v)
}

// rowOf presents one case's two sides for a page, marked when it pages.
func rowOf(d reconcile.Discrepancy, paging reconcile.Paging) htmlRow {
	atRisk, cur := reconcile.AtRisk(d)
	return htmlRow{
		ID: d.ID, Kind: string(d.Kind), Status: string(d.Status), CustomerID: dash(d.CustomerID),
		LedgerRefundID: dash(d.LedgerRefundID), LedgerAmount: withCode(d.LedgerAmount, d.Currency),
		GatewayRefundIDs: dash(strings.Join(d.GatewayRefundIDs, " ")),
		GatewayAmount:    withCode(d.GatewayAmount, cmp.Or(d.GatewayCurrency, d.Currency)),
		GatewayStatus:    string(d.GatewayStatus), FailureReason: d.FailureReason,
		AtRisk: money.Format(atRisk, cur), FirstSeen: d.FirstSeenAt.UTC().Format("2006-01-02"),
		Detail: d.Detail, Page: paging.Pages(d),
	}
}

func withCode(v *int64, currency string) string {
	if v == nil {
		return "—"
	}
	return money.Format(*v, currency)
}
