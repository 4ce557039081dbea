package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// compose's demo profile: fake-stripe writes the ledger and serves the
// simulated account; a plain run against it finds every kind.
func TestFakeStripeServesTheDemoAccount(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"fake-stripe", "--listen", "127.0.0.1:0", "--refunds", "300", "--customers", "40"}, noEnv, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("fake-stripe said nothing: %v (%v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr := strings.Fields(strings.TrimPrefix(line, "simulated Stripe on "))[0]
	env := func(k string) string {
		return map[string]string{"STRIPE_API_KEY": demoKey, "STRIPE_API_URL": addr}[k]
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"run"}, env, &out, &errs); err != nil {
		t.Fatalf("run against fake-stripe: %v\n%s", err, errs.String())
	}
	for _, k := range reconcile.Kinds {
		if !strings.Contains(out.String(), string(k)) {
			t.Errorf("run against fake-stripe found no %s", k)
		}
	}
	cancel()
	deadline, stop := nearDeadline(t, 10*time.Second)
	defer stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("fake-stripe stopped with %v", err)
		}
	case <-deadline:
		t.Fatal("fake-stripe did not stop on cancel")
	}
}
