package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/report"
)

// The case list: the filter, the summary of what it selects, the worst
// cases first, paged by the store's keyset cursor.

// staleAfter is how old the last run may be before the freshness line
// turns red: a nightly run plus two hours' slack.
const staleAfter = 26 * time.Hour

// listFuncs are the template functions of the list and case pages.
var listFuncs = template.FuncMap{
	"label": func(k reconcile.Kind) string { return k.Label() },
	"info":  func(k reconcile.Kind) reconcile.KindInfo { return k.Info() },
	"dayOrDash": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"amountOf": money.Format,
}

// filter is the list's query string, parsed.
type filter struct {
	Status, Kind, Q, From, To, Min, Cur, Sort, Dir, Cursor string
	Problems                                               []string
}

func parseFilter(v url.Values) filter {
	return filter{Status: cmp.Or(v.Get("status"), "unresolved"), Kind: v.Get("kind"), Q: strings.TrimSpace(v.Get("q")),
		From: v.Get("from"), To: v.Get("to"), Min: strings.TrimSpace(v.Get("min")), Cur: strings.ToLower(v.Get("cur")),
		Sort: cmp.Or(v.Get("sort"), string(reconcile.SortWorst)), Dir: v.Get("dir"), Cursor: v.Get("cursor")}
}

// values is the filter as a query string, without the cursor.
func (f filter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "kind": f.Kind, "q": f.Q, "from": f.From, "to": f.To,
		"min": f.Min, "cur": f.Cur, "sort": f.Sort, "dir": f.Dir} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Sort == string(reconcile.SortWorst) {
		v.Del("sort")
		v.Del("dir")
	}
	if f.Status == "unresolved" {
		v.Del("status")
	}
	return v
}

// caseFilter turns the filter into the store's; what cannot be read is
// named in f.Problems and ignored.
func (h *Handler) caseFilter(f *filter) reconcile.CaseFilter {
	var q reconcile.CaseFilter
	switch f.Status {
	case "unresolved":
		q.Statuses = []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}
	case "open", "acknowledged", "resolved":
		q.Statuses = []reconcile.Status{reconcile.Status(f.Status)}
	case "all":
	default:
		f.Problems = append(f.Problems, "unknown status "+strconv.Quote(f.Status))
		f.Status = "unresolved"
		q.Statuses = []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}
	}
	if f.Kind != "" {
		if k := reconcile.Kind(f.Kind); k.Valid() {
			q.Kinds = []reconcile.Kind{k}
		} else {
			f.Problems = append(f.Problems, "unknown kind "+strconv.Quote(f.Kind))
			f.Kind = ""
		}
	}
	q.Query = f.Q
	for _, d := range []struct {
		v   *string
		t   *time.Time
		end bool
	}{{&f.From, &q.Since, false}, {&f.To, &q.Until, true}} {
		if *d.v == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", *d.v)
		if err != nil {
			f.Problems = append(f.Problems, "dates are YYYY-MM-DD, not "+strconv.Quote(*d.v))
			*d.v = ""
			continue
		}
		if d.end {
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		*d.t = t
	}
	if f.Min != "" {
		switch min, ok := money.ParseMajor(f.Min, f.Cur); {
		case f.Cur == "" || !money.Valid(f.Cur):
			f.Problems = append(f.Problems, "choose the currency of the minimum amount")
			f.Min = ""
		case !ok:
			f.Problems = append(f.Problems, fmt.Sprintf("the minimum amount is a number such as 50 or 12.%s in %s",
				strings.Repeat("5", money.Digits(f.Cur)), strings.ToUpper(f.Cur)))
			f.Min = ""
		default:
			q.MinAtRisk = map[string]int64{f.Cur: min}
		}
	}
	if s := reconcile.CaseSort(f.Sort); s.Valid() {
		q.Sort = s
	} else {
		f.Problems = append(f.Problems, "unknown order "+strconv.Quote(f.Sort))
		f.Sort, q.Sort = string(reconcile.SortWorst), reconcile.SortWorst
	}
	if f.Dir != "desc" {
		f.Dir = "asc"
	}
	q.Desc = f.Dir == "desc"
	q.Cursor = f.Cursor
	q.Limit = h.cfg.PageSize
	return q
}

// column is one sortable column header.
type column struct {
	Label, Sort, Href, AriaSort string
	Num                         bool
}

// row is one case of the list.
type row struct {
	reconcile.Discrepancy
	Label       string
	AtRisk      string
	RefundDay   string
	Age         string
	Since       string
	StripeLinks []link
}

type link struct{ Text, Href string }

// currencyTotal is the money at risk of one currency.
type currencyTotal struct {
	Currency, Amount string
	Cases            int
}

type countOf struct {
	Label, Value string
	Kind         string
	Cases        int
}

type freshness struct {
	Line  string
	Stale bool
}

type listData struct {
	Who, CSRF string
	// CanReview: the session's role may acknowledge (bulk acknowledge).
	CanReview    bool
	Filter       filter
	Kinds        []reconcile.KindInfo
	Statuses     []string
	Currencies   []string
	Columns      []column
	Rows         []row
	Total        int
	Totals       []currencyTotal
	Invalid      int // cases whose currency is no ISO 4217 code: no total
	ByKind       []countOf
	Ageing       []countOf
	Fresh        freshness
	Trend        trendChart
	First, Next  string
	Export, Back string
	Flash        string
	GeneratedAt  time.Time
	// Held are the runs whose alerts wait (held.go); CanRelease: the
	// session's role may release or discard them.
	Held       []heldBanner
	CanRelease bool
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, s Session) {
	f := parseFilter(r.URL.Query())
	q := h.caseFilter(&f)
	ctx := r.Context()
	page, err := h.cfg.Store.Cases(ctx, q)
	if errors.Is(err, reconcile.ErrInvalid) {
		f.Problems = append(f.Problems, "the page link is out of date; showing the first page")
		f.Cursor, q.Cursor = "", ""
		page, err = h.cfg.Store.Cases(ctx, q)
	}
	if err != nil {
		h.fail(w, "read cases", err)
		return
	}
	now := h.now()
	d := listData{Who: s.Name, CSRF: s.CSRF, CanReview: s.Role.Allows(reconcile.ActionReview), Filter: f, Kinds: reconcile.KindsWorstFirst(),
		CanRelease: s.Role.Allows(reconcile.ActionRelease),
		Statuses:   []string{"unresolved", "open", "acknowledged", "resolved", "all"}, GeneratedAt: now}
	if err := h.summarise(ctx, q, now, &d); err != nil {
		h.fail(w, "summarise cases", err)
		return
	}
	if d.Trend, err = h.trend(ctx, now); err != nil {
		h.fail(w, "read trend", err)
		return
	}
	for _, c := range page.Cases {
		d.Rows = append(d.Rows, h.rowOf(c, now))
	}
	base := f.values()
	d.Columns = columns(f, base)
	if f.Cursor != "" {
		d.First = "/?" + base.Encode()
	}
	if page.NextCursor != "" {
		v := f.values()
		v.Set("cursor", page.NextCursor)
		d.Next = "/?" + v.Encode()
	}
	d.Export = "/export.csv?" + base.Encode()
	d.Back = r.URL.RequestURI()
	if n := r.URL.Query().Get("acked"); n != "" {
		d.Flash = n
	}
	h.render(w, http.StatusOK, "list.html", d)
}

// summarise fills the totals of the filter's cases, and the freshness line.
func (h *Handler) summarise(ctx context.Context, q reconcile.CaseFilter, now time.Time, d *listData) error {
	tally, err := h.cfg.Store.Tally(ctx, q, now)
	if err != nil {
		return err
	}
	perCurrency := map[string]*currencyTotal{}
	perKind := map[reconcile.Kind]int{}
	perAge := map[string]int{}
	var risk = map[string]int64{}
	for _, t := range tally {
		d.Total += t.Cases
		perKind[t.Kind] += t.Cases
		perAge[t.Bucket] += t.Cases
		if !money.Valid(t.Currency) {
			d.Invalid += t.Cases
			continue
		}
		c := perCurrency[t.Currency]
		if c == nil {
			c = &currencyTotal{Currency: strings.ToUpper(t.Currency)}
			perCurrency[t.Currency] = c
		}
		c.Cases += t.Cases
		risk[t.Currency] += t.AtRisk
	}
	for _, cur := range slices.Sorted(maps.Keys(perCurrency)) {
		c := perCurrency[cur]
		c.Amount = money.Grouped(risk[cur], cur)
		d.Totals = append(d.Totals, *c)
	}
	for _, info := range reconcile.KindsWorstFirst() {
		if n := perKind[info.Kind]; n > 0 {
			d.ByKind = append(d.ByKind, countOf{Label: info.Label, Kind: string(info.Kind), Cases: n})
		}
	}
	for _, b := range reconcile.AgeBuckets {
		d.Ageing = append(d.Ageing, countOf{Label: b, Cases: perAge[b]})
	}
	curs, err := h.cfg.Store.Currencies(ctx)
	if err != nil {
		return err
	}
	for _, c := range curs {
		if money.Valid(c) {
			d.Currencies = append(d.Currencies, strings.ToLower(c))
		}
	}
	runs, err := h.cfg.Store.Runs(ctx, 50)
	if err != nil {
		return err
	}
	d.Held = heldBanners(runs)
	// Freshness is the last run over every customer (the nightly one), not a
	// support agent's check of one customer.
	if i := slices.IndexFunc(runs, func(r reconcile.Run) bool { return r.Scope.CustomerID == "" }); i > 0 {
		runs = runs[i:]
	}
	d.Fresh = h.freshness(runs, now)
	return nil
}

// freshness says when the last run was, how it went and what it covered,
// and when the next is due; stale when it failed or is older than
// staleAfter.
func (h *Handler) freshness(runs reconcile.RunList, now time.Time) freshness {
	next := ""
	if h.cfg.NextRun != nil {
		if t := h.cfg.NextRun(now); !t.IsZero() {
			next = " · next run " + t.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	if len(runs) == 0 {
		return freshness{Line: "No run yet" + next, Stale: true}
	}
	run := runs[0]
	at := cmp.Or(run.FinishedAt, run.StartedAt)
	scope := "whole history"
	if !run.Scope.Since.IsZero() {
		scope = run.Scope.Since.UTC().Format("2006-01-02") + " to " + run.Scope.Until.UTC().Format("2006-01-02")
	}
	if run.Scope.CustomerID != "" {
		scope += ", customer " + run.Scope.CustomerID
	} else {
		scope += ", all customers"
	}
	line := fmt.Sprintf("Last run %s (%s ago) · %s · %s%s", at.UTC().Format("2006-01-02 15:04 UTC"), ago(now.Sub(at)), run.Status, scope, next)
	if run.Status == reconcile.RunFailed && run.Error != "" {
		line += " · " + run.Error
	}
	return freshness{Line: line, Stale: run.Status == reconcile.RunFailed || now.Sub(at) > staleAfter}
}

// ago renders a duration as a person says it.
func ago(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", max(0, int(d/time.Minute)))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}

// age is how long a problem has lasted, in days.
func age(since, now time.Time) string {
	days := int(now.Sub(since) / (24 * time.Hour))
	if days == 1 {
		return "1 day"
	}
	return strconv.Itoa(max(days, 0)) + " days"
}

func (h *Handler) rowOf(c reconcile.Discrepancy, now time.Time) row {
	since := c.ProblemSince
	if since.IsZero() {
		since = c.FirstSeenAt
	}
	a, cur := reconcile.AtRisk(c)
	r := row{Discrepancy: c, Label: c.Kind.Label(), Age: age(since, now), Since: since.UTC().Format("2006-01-02"),
		RefundDay: "—", StripeLinks: h.stripeLinks(c)}
	if !c.RefundAt.IsZero() {
		r.RefundDay = c.RefundAt.UTC().Format("2006-01-02")
	}
	r.AtRisk = money.Format(a, cur)
	return r
}

// stripeLinks are the Stripe Dashboard's pages of a case's charge and
// refunds: a refund is shown on its payment's page.
func (h *Handler) stripeLinks(c reconcile.Discrepancy) []link {
	base := "https://dashboard.stripe.com/"
	if h.cfg.StripeTestMode {
		base += "test/"
	}
	var out []link
	payment := ""
	switch {
	case strings.HasPrefix(c.ChargeID, "ch_") || strings.HasPrefix(c.ChargeID, "py_"):
		payment = c.ChargeID
	case strings.HasPrefix(c.PaymentIntentID, "pi_"):
		payment = c.PaymentIntentID
	}
	if payment != "" {
		out = append(out, link{Text: payment, Href: base + "payments/" + url.PathEscape(payment)})
	}
	for _, id := range c.GatewayRefundIDs {
		if !strings.HasPrefix(id, "re_") && !strings.HasPrefix(id, "pyr_") {
			continue
		}
		href := base + "search?query=" + url.QueryEscape(id)
		if payment != "" {
			href = base + "payments/" + url.PathEscape(payment) + "#" + url.PathEscape(id)
		}
		out = append(out, link{Text: id, Href: href})
	}
	return out
}

// columns are the list's headers: each sorts by its column, ascending
// first, then toggles.
func columns(f filter, base url.Values) []column {
	cols := []column{
		{Label: "Case", Sort: string(reconcile.SortID)},
		{Label: "Kind", Sort: string(reconcile.SortKind)},
		{Label: "Status", Sort: string(reconcile.SortStatus)},
		{Label: "Customer", Sort: string(reconcile.SortCustomer)},
		{Label: "Refund date", Sort: string(reconcile.SortRefundAt)},
		{Label: "Age", Sort: string(reconcile.SortSince)},
		{Label: "At risk", Sort: string(reconcile.SortAtRisk), Num: true},
	}
	for i := range cols {
		c := &cols[i]
		c.AriaSort = "none"
		dir := "asc"
		if c.Sort == f.Sort {
			c.AriaSort = "ascending"
			if f.Dir == "desc" {
				c.AriaSort = "descending"
			} else {
				dir = "desc"
			}
		}
		// Age counts backwards from the problem's start: oldest first is
		// the start ascending, which reads as age descending.
		if c.Sort == string(reconcile.SortSince) && c.AriaSort != "none" {
			c.AriaSort = map[string]string{"ascending": "descending", "descending": "ascending"}[c.AriaSort]
		}
		if f.Sort == string(reconcile.SortWorst) && c.Sort == string(reconcile.SortKind) {
			c.AriaSort = "ascending" // worst first: kind rank, then money at risk, then age
		}
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		v.Set("sort", c.Sort)
		v.Set("dir", dir)
		c.Href = "/?" + v.Encode()
	}
	return cols
}

// exportLimit bounds a CSV download.
const exportLimit = 100_000

func (h *Handler) export(w http.ResponseWriter, r *http.Request, _ Session) {
	f := parseFilter(r.URL.Query())
	q := h.caseFilter(&f)
	q.Limit, q.Cursor = reconcile.MaxCaseLimit, ""
	var all []reconcile.Discrepancy
	for len(all) < exportLimit {
		page, err := h.cfg.Store.Cases(r.Context(), q)
		if err != nil {
			h.fail(w, "export", err)
			return
		}
		all = append(all, page.Cases...)
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="refundrecon-%s.csv"`, h.now().UTC().Format("20060102-150405")))
	if err := report.WriteCSV(w, all); err != nil {
		h.log.Error("export", "error", err)
	}
}
