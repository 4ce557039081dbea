package reconcile

import (
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// CaseSort names an order of the case list. Every order ends on the case
// id, so that a keyset cursor can resume it.
type CaseSort string

// The orders of the case list.
const (
	// SortWorst is the default: kind rank (money not returned to the
	// customer first), then money at risk (largest first), then the age of
	// the problem (oldest first).
	SortWorst     CaseSort = "worst"
	SortID        CaseSort = "id"
	SortKind      CaseSort = "kind"
	SortStatus    CaseSort = "status"
	SortCustomer  CaseSort = "customer"
	SortRefundAt  CaseSort = "refund_at"
	SortSince     CaseSort = "since"
	SortAtRisk    CaseSort = "at_risk"
	SortFirstSeen CaseSort = "first_seen"
)

// CaseSorts lists every order.
var CaseSorts = []CaseSort{SortWorst, SortID, SortKind, SortStatus, SortCustomer, SortRefundAt, SortSince, SortAtRisk, SortFirstSeen}

// Valid reports whether s is one of CaseSorts.
func (s CaseSort) Valid() bool {
	for _, x := range CaseSorts {
		if x == s {
			return true
		}
	}
	return false
}

// Limits of a page of cases.
const (
	DefaultCaseLimit = 100
	MaxCaseLimit     = 1000
)

// CaseFilter selects cases: the one filter the store, the API and the page
// share. A zero field selects everything.
type CaseFilter struct {
	Statuses   []Status
	Kinds      []Kind
	CustomerID string
	// Query finds a case by any of its ids, by prefix: the case id, the
	// ledger refund, a re_ refund, the ch_ charge, the pi_ payment intent or
	// the customer.
	Query string
	// MinAtRisk keeps cases whose money at risk (AtRisk) is in one of these
	// currencies (lower case) and at least this many minor units of it.
	MinAtRisk map[string]int64
	// Since and Until bound when the problem began (ProblemSince).
	Since, Until time.Time
	Sort         CaseSort
	// Desc reverses Sort (SortWorst is always worst first).
	Desc bool
	// Limit is the page size: DefaultCaseLimit when zero, at most
	// MaxCaseLimit.
	Limit int
	// Cursor is the opaque NextCursor of the previous page; empty for the
	// first.
	Cursor string
}

// PageLimit is f.Limit within its bounds.
func (f CaseFilter) PageLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultCaseLimit
	case f.Limit > MaxCaseLimit:
		return MaxCaseLimit
	}
	return f.Limit
}

// CasePage is one page of cases and the cursor of the next ("" at the end).
type CasePage struct {
	Cases      []Discrepancy
	NextCursor string
}

// MarshalJSON encodes the page as the contract's list answer:
// {"discrepancies": […], "next_cursor": "…" or null}.
func (p CasePage) MarshalJSON() ([]byte, error) {
	cases := p.Cases
	if cases == nil {
		cases = []Discrepancy{}
	}
	var next *string
	if p.NextCursor != "" {
		next = &p.NextCursor
	}
	return json.Marshal(struct {
		Discrepancies []Discrepancy `json:"discrepancies"`
		NextCursor    *string       `json:"next_cursor"`
	}{cases, next})
}

// Ageing buckets of a problem, by the days since it began.
const (
	AgeWeek    = "0–7 days"
	AgeMonth   = "8–30 days"
	AgeQuarter = "31–90 days"
	AgeOlder   = "over 90 days"
)

// AgeBuckets lists the ageing buckets, youngest first.
var AgeBuckets = []string{AgeWeek, AgeMonth, AgeQuarter, AgeOlder}

// AgeBucket is the ageing bucket of a problem that began at since, at now.
func AgeBucket(since, now time.Time) string {
	days := now.Sub(since).Hours() / 24
	switch {
	case days <= 7:
		return AgeWeek
	case days <= 30:
		return AgeMonth
	case days <= 90:
		return AgeQuarter
	}
	return AgeOlder
}

// CaseTally counts the cases of a filter that share kind, currency at risk
// and ageing bucket, with their money at risk (AtRisk).
type CaseTally struct {
	Kind     Kind
	Currency string
	Bucket   string
	Cases    int
	AtRisk   int64
}

// CaseEvent is one entry of a case's history, as the API shows it.
type CaseEvent struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action string    `json:"action"`
	From   *Status   `json:"from"`
	To     Status    `json:"to"`
	Note   string    `json:"note"`
	RunID  *string   `json:"run_id"`
}

// CaseWithHistory is one case and its history, as GET
// /api/discrepancies/{id} answers: the report's fields plus "history".
type CaseWithHistory struct {
	Case    Discrepancy
	History []CaseEvent
}

// MarshalJSON encodes the case's report fields and "history".
func (c CaseWithHistory) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.Case)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	hist := c.History
	if hist == nil {
		hist = []CaseEvent{}
	}
	if fields["history"], err = json.Marshal(hist); err != nil {
		return nil, err
	}
	return json.Marshal(fields)
}

// TrendEvent is a case opening (Opened true) or being resolved at At, with
// the money it puts at risk: what Trend replays.
type TrendEvent struct {
	CaseID   string
	At       time.Time
	Opened   bool
	Currency string
	AtRisk   int64
}

// TrendDay is one day of the trend: cases opened and resolved that day, and
// the money at risk of the cases open at its end, per currency.
type TrendDay struct {
	Day      time.Time
	Opened   int
	Resolved int
	AtRisk   map[string]int64
}

// Trend replays events (any order) into one TrendDay per UTC day from the
// day of from to the day of to. A case opened before from counts as open
// from the start; events must cover each case's history up to to.
func Trend(events []TrendEvent, from, to time.Time) []TrendDay {
	first := from.UTC().Truncate(24 * time.Hour)
	last := to.UTC().Truncate(24 * time.Hour)
	if last.Before(first) {
		return nil
	}
	n := int(last.Sub(first)/(24*time.Hour)) + 1
	days := make([]TrendDay, n)
	for i := range days {
		days[i] = TrendDay{Day: first.Add(time.Duration(i) * 24 * time.Hour), AtRisk: map[string]int64{}}
	}
	sorted := append([]TrendEvent(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	type state struct {
		open     bool
		currency string
		amount   int64
	}
	cases := map[string]*state{}
	at := 0
	apply := func(e TrendEvent) {
		s := cases[e.CaseID]
		if s == nil {
			s = &state{}
			cases[e.CaseID] = s
		}
		s.open, s.currency, s.amount = e.Opened, strings.ToLower(e.Currency), e.AtRisk
	}
	for at < len(sorted) && sorted[at].At.Before(first) {
		apply(sorted[at])
		at++
	}
	for i := range days {
		end := days[i].Day.Add(24 * time.Hour)
		for at < len(sorted) && sorted[at].At.Before(end) {
			e := sorted[at]
			if e.Opened {
				days[i].Opened++
			} else {
				days[i].Resolved++
			}
			apply(e)
			at++
		}
		for _, s := range cases {
			if s.open && s.currency != "" {
				days[i].AtRisk[s.currency] += s.amount
			}
		}
	}
	return days
}

// RunList is recent runs, newest first, as `runs --format json` and GET
// /api/runs print them: {"runs": [{"id", "scope", "status", "started_at",
// "finished_at", "duration_ms", "counts", "error", "held"}]}, absent values
// null; "held" is {"state", "new_discrepancies", "refunds_in_scope", "by",
// "at", "note"} for a run that was ever held (hold.go).
type RunList []Run

// jsonHold is a run's hold in the runs listing.
type jsonHold struct {
	State            HoldState `json:"state"`
	NewDiscrepancies int       `json:"new_discrepancies"`
	RefundsInScope   int       `json:"refunds_in_scope"`
	By               *string   `json:"by"`
	At               *string   `json:"at"`
	Note             *string   `json:"note"`
}

// MarshalJSON encodes the list.
func (l RunList) MarshalJSON() ([]byte, error) {
	type jsonRun struct {
		ID         string     `json:"id"`
		Scope      jsonScope  `json:"scope"`
		Status     RunStatus  `json:"status"`
		StartedAt  string     `json:"started_at"`
		FinishedAt *string    `json:"finished_at"`
		DurationMS *int64     `json:"duration_ms"`
		Counts     jsonCounts `json:"counts"`
		Error      *string    `json:"error"`
		Held       *jsonHold  `json:"held"`
	}
	out := make([]jsonRun, len(l))
	for i, r := range l {
		since := r.Scope.Since
		if since.IsZero() {
			since = time.Unix(0, 0) // the whole history
		}
		j := jsonRun{ID: r.ID, Status: r.Status, StartedAt: rfc3339(r.StartedAt), FinishedAt: nullableTime(r.FinishedAt),
			Scope: jsonScope{Since: rfc3339(since), Until: rfc3339(r.Scope.Until), CustomerID: nullable(r.Scope.CustomerID)},
			Counts: jsonCounts{LedgerRefunds: r.Counts.LedgerRefunds, GatewayRefunds: r.Counts.GatewayRefunds,
				Matched: r.Counts.Matched, Discrepancies: r.Counts.Discrepancies},
			Error: nullable(r.Error)}
		if !r.FinishedAt.IsZero() {
			ms := r.FinishedAt.Sub(r.StartedAt).Milliseconds()
			j.DurationMS = &ms
		}
		if h := r.Held; h != nil {
			j.Held = &jsonHold{State: h.State, NewDiscrepancies: h.NewDiscrepancies, RefundsInScope: h.RefundsInScope,
				By: nullable(h.By), At: nullableTime(h.At), Note: nullable(h.Note)}
		}
		out[i] = j
	}
	return json.Marshal(struct {
		Runs []jsonRun `json:"runs"`
	}{out})
}
