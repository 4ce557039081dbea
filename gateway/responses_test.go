package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestResponseCounts: the transport counts each request once, by endpoint
// and the final answer's status, retries not counted apart.
func TestResponseCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/re_missing"):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such refund"}}`)
		case strings.HasSuffix(r.URL.Path, "/re_down"):
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"type":"api_error","message":"try later"}}`)
		default:
			fmt.Fprint(w, `{"id":"re_1","object":"refund","amount":100,"currency":"usd","status":"succeeded","created":1700000000}`)
		}
	}))
	defer srv.Close()
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.MaxAttempts = 2 })
	ctx := context.Background()
	for _, id := range []string{"re_1", "re_1", "re_missing", "re_down"} {
		_, _ = s.Refund(ctx, id)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = s.Refund(cctx, "re_1")
	got := s.ResponseCounts()
	want := []ResponseCount{
		{"retrieve_refund", "200", 2},
		{"retrieve_refund", "404", 1},
		{"retrieve_refund", "503", 1},
		{"retrieve_refund", "canceled", 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ResponseCounts = %+v, want %+v", got, want)
	}
}
