package gateway

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
)

// String names the endpoint as the metrics label it.
func (e endpoint) String() string {
	switch e {
	case endpointListRefunds:
		return "list_refunds"
	case endpointRetrieveRefund:
		return "retrieve_refund"
	case endpointListCharges:
		return "list_charges"
	case endpointListBalanceTransactions:
		return "list_balance_transactions"
	}
	return "other"
}

// ResponseCount is how many requests of one endpoint ended with one status:
// the final answer's HTTP code ("200", "404", "429" after the last retry),
// "error" when no answer came, "canceled" when the caller gave up.
type ResponseCount struct {
	Endpoint, Status string
	Requests         int64
}

type responseKey struct {
	endpoint endpoint
	status   string
}

// responseCounts counts requests by endpoint and final status.
type responseCounts struct {
	mu sync.Mutex
	n  map[responseKey]int64
}

func (c *responseCounts) count(e endpoint, resp *http.Response, err error) {
	status := "error"
	switch {
	case resp != nil:
		status = strconv.Itoa(resp.StatusCode)
	case errors.Is(err, context.Canceled):
		status = "canceled"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[responseKey]int64{}
	}
	c.n[responseKey{e, status}]++
}

// ResponseCounts returns the requests since New by endpoint and final
// status, sorted.
func (s *Stripe) ResponseCounts() []ResponseCount {
	c := &s.stats.responses
	c.mu.Lock()
	out := make([]ResponseCount, 0, len(c.n))
	for k, n := range c.n {
		out = append(out, ResponseCount{Endpoint: k.endpoint.String(), Status: k.status, Requests: n})
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Endpoint != out[j].Endpoint {
			return out[i].Endpoint < out[j].Endpoint
		}
		return out[i].Status < out[j].Status
	})
	return out
}
