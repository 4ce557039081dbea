package alert

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Severity is PagerDuty's severity of an event; Slack shows it too.
type Severity string

// The severities used: a case that pages is critical, one that only
// notifies is a warning. A PagerDuty service that derives urgency from
// severity pages on the first and not on the second.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
)

// DefaultPageKinds are the kinds that page by default: the customer did not
// get the money, or got it twice (reconcile's KindInfo.Pages).
var DefaultPageKinds = reconcile.DefaultPageKinds()

// Rules decide a case's severity by kind and amount. They are
// reconcile.Paging, the one rule the reports and the page mark cases by;
// the zero value pages DefaultPageKinds whatever the amount.
type Rules = reconcile.Paging

// SeverityOf returns the severity of d under r: critical when it pages.
func SeverityOf(r Rules, d reconcile.Discrepancy) Severity {
	if r.Pages(d) {
		return Critical
	}
	return Warning
}

// ParsePageKinds reads ALERT_PAGE_KINDS: kinds separated by commas, or
// "none" for no kind at all.
func ParsePageKinds(s string) ([]reconcile.Kind, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return []reconcile.Kind{}, nil
	}
	var out []reconcile.Kind
	for _, f := range strings.Split(s, ",") {
		k := reconcile.Kind(strings.TrimSpace(f))
		if k == "" {
			continue
		}
		if !k.Valid() {
			return nil, fmt.Errorf("%q is not a discrepancy kind", k)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no kind given (write none to page on no kind)")
	}
	return out, nil
}

// ParseMinAmounts reads ALERT_PAGE_MIN_AMOUNT: minor units for every
// currency ("5000"), by currency ("usd:5000,jpy:500000"), or both
// ("5000,jpy:500000").
func ParseMinAmounts(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		currency, amount, ok := strings.Cut(f, ":")
		if !ok {
			currency, amount = "", f
		}
		currency = strings.ToLower(strings.TrimSpace(currency))
		if ok && len(currency) != 3 {
			return nil, fmt.Errorf("%q: %q is not a currency code", f, currency)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(amount), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: the amount is not a whole number of minor units", f)
		}
		if _, dup := out[currency]; dup {
			return nil, fmt.Errorf("%q: given twice", f)
		}
		out[currency] = n
	}
	return out, nil
}
