package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// Age buckets of the finance summary, by how long a case has been open.
var AgeBuckets = []string{"0-7 days", "8-30 days", "31-90 days", "over 90 days"}

func ageBucket(age time.Duration) int {
	days := int(age / (24 * time.Hour))
	switch {
	case days <= 7:
		return 0
	case days <= 30:
		return 1
	case days <= 90:
		return 2
	}
	return 3
}

// Money is an amount in minor units of a currency.
type Money struct {
	Currency string
	Amount   int64
}

// KindTotal is one row of the summary: cases and money at risk of a kind in
// a currency.
type KindTotal struct {
	Kind     reconcile.Kind
	Currency string
	Cases    int
	AtRisk   int64
}

// Summary is what finance reads first.
type Summary struct {
	GeneratedAt time.Time
	Cases       int
	// ByCurrency totals money at risk per currency; never summed across
	// currencies.
	ByCurrency []Money
	// ByKind holds a row per kind and currency, in precedence order.
	ByKind   []KindTotal
	ByStatus map[reconcile.Status]int
	// Ageing counts cases per AgeBuckets entry.
	Ageing [4]int
	// RepeatCustomers are customers with more than one case, most first.
	RepeatCustomers []CustomerCases
}

// CustomerCases counts a customer's cases.
type CustomerCases struct {
	CustomerID string
	Cases      int
}

// Summarize computes the summary of ds at now.
func Summarize(ds []reconcile.Discrepancy, now time.Time) Summary {
	s := Summary{GeneratedAt: now.UTC(), Cases: len(ds), ByStatus: map[reconcile.Status]int{}}
	byCurrency := map[string]int64{}
	type kc struct {
		k reconcile.Kind
		c string
	}
	byKind := map[kc]*KindTotal{}
	perCustomer := map[string]int{}
	for _, d := range ds {
		amount, cur := reconcile.AtRisk(d)
		byCurrency[cur] += amount
		t := byKind[kc{d.Kind, cur}]
		if t == nil {
			t = &KindTotal{Kind: d.Kind, Currency: cur}
			byKind[kc{d.Kind, cur}] = t
		}
		t.Cases++
		t.AtRisk += amount
		s.ByStatus[d.Status]++
		s.Ageing[ageBucket(now.Sub(d.FirstSeenAt))]++
		if d.CustomerID != "" {
			perCustomer[d.CustomerID]++
		}
	}
	for c, a := range byCurrency {
		s.ByCurrency = append(s.ByCurrency, Money{Currency: c, Amount: a})
	}
	slices.SortFunc(s.ByCurrency, func(a, b Money) int { return cmp.Compare(a.Currency, b.Currency) })
	rank := map[reconcile.Kind]int{}
	for i, k := range reconcile.Kinds {
		rank[k] = i
	}
	for _, t := range byKind {
		s.ByKind = append(s.ByKind, *t)
	}
	slices.SortFunc(s.ByKind, func(a, b KindTotal) int {
		return cmp.Or(cmp.Compare(rank[a.Kind], rank[b.Kind]), cmp.Compare(a.Currency, b.Currency))
	})
	for c, n := range perCustomer {
		if n > 1 {
			s.RepeatCustomers = append(s.RepeatCustomers, CustomerCases{c, n})
		}
	}
	slices.SortFunc(s.RepeatCustomers, func(a, b CustomerCases) int {
		return cmp.Or(cmp.Compare(b.Cases, a.Cases), cmp.Compare(a.CustomerID, b.CustomerID))
	})
	return s
}

// WorstFirst orders cases for finance: customers with more than one case
// first, then by money at risk, largest first, oldest first. Amounts of
// different currencies are compared in major units (no exchange rates are
// known here), which is only a rough order across currencies.
func WorstFirst(ds []reconcile.Discrepancy) {
	perCustomer := map[string]int{}
	for _, d := range ds {
		if d.CustomerID != "" {
			perCustomer[d.CustomerID]++
		}
	}
	slices.SortStableFunc(ds, func(a, b reconcile.Discrepancy) int {
		ra, rb := perCustomer[a.CustomerID] > 1, perCustomer[b.CustomerID] > 1
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		if ra && a.CustomerID != b.CustomerID {
			return cmp.Compare(a.CustomerID, b.CustomerID)
		}
		return cmp.Or(compareAtRisk(b, a), a.FirstSeenAt.Compare(b.FirstSeenAt), cmp.Compare(a.ID, b.ID))
	})
}

// compareAtRisk compares the money a and b put at risk in major units
// (dollars, yen), exactly.
func compareAtRisk(a, b reconcile.Discrepancy) int {
	amountA, curA := reconcile.AtRisk(a)
	amountB, curB := reconcile.AtRisk(b)
	return money.CompareMajor(amountA, curA, amountB, curB)
}
