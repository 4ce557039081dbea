package storetest

import (
	"fmt"
	"runtime"
	"testing"
)

// recorder stands in for a test, recording how a helper ends it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// outcome runs fn as a test would, and returns how it ended.
func outcome(t *testing.T, fn func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestPostgresUnavailable(t *testing.T) {
	for _, tc := range []struct{ url, ci string }{
		{"", ""},
		{"", "true"},
		{"postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", ""},
		{"postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", "true"},
	} {
		t.Setenv(EnvURL, tc.url)
		t.Setenv("CI", tc.ci)
		r := outcome(t, func(tb testing.TB) { Postgres(tb) })
		if tc.ci == "true" && (r.failed == "" || r.skipped != "") {
			t.Errorf("url %q, CI=true: skipped %q, failed %q; want a failure", tc.url, r.skipped, r.failed)
		}
		if tc.ci != "true" && (r.skipped == "" || r.failed != "") {
			t.Errorf("url %q, CI unset: skipped %q, failed %q; want a skip", tc.url, r.skipped, r.failed)
		}
	}
}
