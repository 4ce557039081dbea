package alert_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/alert"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// backends are the stores the dispatcher is tested on.
var backends = []struct {
	name string
	open func(testing.TB) *store.DB
}{
	{"postgres", storetest.Postgres},
	{"sqlite", storetest.SQLite},
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// enqueue records a run at now that opens n gateway_failed cases, with
// channels enabled: the outbox rows a real run writes.
func enqueue(t *testing.T, db *store.DB, channels []store.AlertChannel, runID string, n int) []reconcile.Discrepancy {
	t.Helper()
	db.SetAlertChannels(channels)
	ctx := context.Background()
	var found []reconcile.Discrepancy
	for i := range n {
		d := failed()
		d.ID = ""
		d.LedgerRefundID = fmt.Sprintf("lr_%s_%d", runID, i)
		d.GatewayRefundIDs = []string{fmt.Sprintf("re_%s_%d", runID, i)}
		found = append(found, d)
	}
	run := reconcile.Run{ID: runID, StartedAt: now.Add(-time.Second), FinishedAt: now, Status: reconcile.RunSucceeded}
	if err := db.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	out, err := db.FinishRun(ctx, run, found, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out.Cases
}

func forEachBackend(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.open(t))
		})
	}
}

func pending(t *testing.T, db *store.DB) []store.OutboxEntry {
	t.Helper()
	e, err := db.Outbox(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func deliver(t *testing.T, d *alert.Dispatcher) alert.Stats {
	t.Helper()
	st, err := d.Deliver(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A receiver that answers 500 twice, then 200, gets the alert three times
// and accepts it once; the retries follow the backoff.
func TestDispatcherRetriesWithBackoff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t, 200, 500, 500)
		enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 1)
		clk := &fakeClock{t: now}
		d := &alert.Dispatcher{Outbox: db, Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s", Now: clk.Now}},
			Backoff: time.Second, Now: clk.Now}

		if st := deliver(t, d); st != (alert.Stats{Failed: 1}) {
			t.Fatalf("first pass %+v", st)
		}
		p := pending(t, db)
		if len(p) != 1 || p[0].Attempts != 1 || !p[0].NextAttemptAt.Equal(now.Add(time.Second)) || !strings.Contains(p[0].LastError, "500") {
			t.Fatalf("after the first failure: %+v", p)
		}
		if st := deliver(t, d); st != (alert.Stats{}) {
			t.Fatalf("retried before the backoff: %+v", st)
		}
		clk.Set(now.Add(time.Second))
		if st := deliver(t, d); st != (alert.Stats{Failed: 1}) {
			t.Fatalf("second pass %+v", st)
		}
		if p := pending(t, db); !p[0].NextAttemptAt.Equal(now.Add(3 * time.Second)) {
			t.Fatalf("the backoff did not double: next at %v", p[0].NextAttemptAt)
		}
		clk.Set(now.Add(3 * time.Second))
		if st := deliver(t, d); st != (alert.Stats{Delivered: 1}) {
			t.Fatalf("third pass %+v", st)
		}
		clk.Set(now.Add(24 * time.Hour))
		if st := deliver(t, d); st != (alert.Stats{}) {
			t.Fatalf("sent again after delivery: %+v", st)
		}
		got := r.requests()
		if len(got) != 3 {
			t.Fatalf("%d requests, want 3", len(got))
		}
		for _, req := range got {
			if req.header.Get("Refundrecon-Delivery") != got[0].header.Get("Refundrecon-Delivery") {
				t.Error("the delivery id changed between retries")
			}
		}
		if p := pending(t, db); len(p) != 0 {
			t.Fatalf("still pending: %+v", p)
		}
	})
}

func TestDispatcherHonoursRetryAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t, 202, 429)
		r.header.Set("Retry-After", "120")
		enqueue(t, db, []store.AlertChannel{{Name: alert.PagerDutyName}}, "run_1", 1)
		clk := &fakeClock{t: now}
		d := &alert.Dispatcher{Outbox: db, Channels: []alert.Channel{&alert.PagerDuty{URL: r.srv.URL, RoutingKey: "k", Rules: alert.Rules{}}},
			Backoff: time.Second, Now: clk.Now}
		deliver(t, d)
		if p := pending(t, db); len(p) != 1 || !p[0].NextAttemptAt.Equal(now.Add(120*time.Second)) {
			t.Fatalf("Retry-After not honoured: %+v", p)
		}
		clk.Set(now.Add(119 * time.Second))
		if st := deliver(t, d); st != (alert.Stats{}) {
			t.Fatalf("sent before Retry-After: %+v", st)
		}
		clk.Set(now.Add(120 * time.Second))
		if st := deliver(t, d); st != (alert.Stats{Delivered: 1}) {
			t.Fatalf("after Retry-After: %+v", st)
		}
		if n := len(r.requests()); n != 2 {
			t.Fatalf("%d requests, want 2", n)
		}
	})
}

// A channel that fails is left alone for the rest of the pass; the others
// go on.
func TestDispatcherPausesAFailingChannel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		down := newReceiver(t, 503)
		up := newReceiver(t, 202)
		enqueue(t, db, []store.AlertChannel{{Name: alert.SlackName}, {Name: alert.PagerDutyName}}, "run_1", 3)
		d := &alert.Dispatcher{Outbox: db, Now: clock, Channels: []alert.Channel{
			&alert.Slack{URL: down.srv.URL, Rules: alert.Rules{}, Now: clock},
			&alert.PagerDuty{URL: up.srv.URL, RoutingKey: "k", Rules: alert.Rules{}},
		}}
		if st := deliver(t, d); st != (alert.Stats{Delivered: 3, Failed: 1}) {
			t.Fatalf("pass %+v", st)
		}
		if len(down.requests()) != 1 || len(up.requests()) != 3 {
			t.Fatalf("slack got %d, pagerduty %d", len(down.requests()), len(up.requests()))
		}
		if p := pending(t, db); len(p) != 3 {
			t.Fatalf("pending %d, want the 3 slack alerts", len(p))
		}
	})
}

// A process that claimed an alert and died holds it only for the lease;
// then the alert goes out, once.
func TestDispatcherAfterACrashMidSend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t, 200)
		enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 1)
		// The crashed process: claimed, never marked.
		if _, ok, err := db.ClaimAlert(context.Background(), []string{alert.WebhookName}, now, time.Minute); !ok || err != nil {
			t.Fatal(ok, err)
		}
		clk := &fakeClock{t: now.Add(30 * time.Second)}
		d := &alert.Dispatcher{Outbox: db, Now: clk.Now, Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s", Now: clk.Now}}}
		if st := deliver(t, d); st != (alert.Stats{}) {
			t.Fatalf("sent during another process's lease: %+v", st)
		}
		clk.Set(now.Add(time.Minute))
		if st := deliver(t, d); st != (alert.Stats{Delivered: 1}) {
			t.Fatalf("after the lease: %+v", st)
		}
		if n := len(r.requests()); n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
}

// Drain retries within its wait, on the real clock.
func TestDrainRetries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		r := newReceiver(t, 200, 500, 500)
		enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 2)
		d := &alert.Dispatcher{Outbox: db, Backoff: 20 * time.Millisecond,
			Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s"}}}
		st, err := d.Drain(context.Background(), 10*time.Second)
		if err != nil || st.Delivered != 2 || st.Failed != 2 {
			t.Fatalf("Drain = %+v, %v", st, err)
		}
		ok := map[string]int{}
		for _, req := range r.requests()[2:] {
			ok[req.header.Get("Refundrecon-Delivery")]++
		}
		if len(ok) != 2 {
			t.Fatalf("accepted deliveries %v, want one of each alert", ok)
		}
	})
}

// slowNextDue is an outbox whose NextAlertDue takes a while: the clock
// moves by step during each call, as a loaded machine's would.
type slowNextDue struct {
	alert.Outbox
	clk  *fakeClock
	step time.Duration
}

func (o slowNextDue) NextAlertDue(ctx context.Context, channels []string) (time.Time, bool, error) {
	next, ok, err := o.Outbox.NextAlertDue(ctx, channels)
	o.clk.Set(o.clk.Now().Add(o.step))
	return next, ok, err
}

// A channel's pause that ends while Drain asks the outbox what is due next
// still counts: Drain retries it instead of stopping with the alert
// pending. (cmd's TestAlertsRetryUntilAccepted failed now and then on this:
// "webhook got 2 requests, 0 accepted".)
func TestDrainRetriesWhenThePauseEndsDuringItsQuery(t *testing.T) {
	db := storetest.SQLite(t)
	r := newReceiver(t, 200, 500, 500)
	enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 1)
	clk := &fakeClock{t: now}
	d := &alert.Dispatcher{Outbox: slowNextDue{Outbox: db, clk: clk, step: time.Minute}, Backoff: time.Second, Now: clk.Now,
		Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s", Now: clk.Now}}}
	st, err := d.Drain(context.Background(), time.Hour)
	if err != nil || st != (alert.Stats{Delivered: 1, Failed: 2}) {
		t.Fatalf("Drain = %+v, %v; want 1 delivered after 2 failures", st, err)
	}
	if n := len(r.requests()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// Drain gives up at its wait and leaves the rest pending.
func TestDrainStopsAtItsWait(t *testing.T) {
	db := storetest.SQLite(t)
	r := newReceiver(t, 500)
	enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 1)
	d := &alert.Dispatcher{Outbox: db, Backoff: time.Hour, Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s"}}}
	// A Drain that waited for the hour's backoff would sleep until ctx ends
	// (near go test's deadline): no fixed bound on how fast it gives up.
	ctx, cancel := storetest.Context(t)
	defer cancel()
	if _, err := d.Drain(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Drain waited for the backoff beyond its wait")
	}
	if len(r.requests()) != 1 || len(pending(t, db)) != 1 {
		t.Fatalf("%d requests, %d pending; want 1 and 1", len(r.requests()), len(pending(t, db)))
	}
}

// A cancelled context stops the dispatcher and leaves the alerts pending.
func TestDispatcherHonoursContext(t *testing.T) {
	db := storetest.SQLite(t)
	r := newReceiver(t, 200)
	enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &alert.Dispatcher{Outbox: db, Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s"}}}
	st, err := d.Drain(ctx, time.Minute)
	if err != nil || st != (alert.Stats{}) || len(r.requests()) != 0 || len(pending(t, db)) != 3 {
		t.Fatalf("Drain on a cancelled context: %+v %v, %d requests", st, err, len(r.requests()))
	}
}

// Neither the log nor the outbox's last error holds a secret.
func TestDispatcherKeepsSecrets(t *testing.T) {
	db := storetest.SQLite(t)
	closed := newReceiver(t, 200)
	closed.srv.Close()
	echo := newReceiver(t, 400)
	enqueue(t, db, []store.AlertChannel{{Name: alert.SlackName}, {Name: alert.PagerDutyName}, {Name: alert.WebhookName}}, "run_1", 1)
	var logs bytes.Buffer
	secrets := []string{"SLACKSECRETPATH", "ROUTINGKEY_SECRET_0000", "WEBHOOK_SECRET_0000", "hunter2"}
	d := &alert.Dispatcher{Outbox: db, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Channels: []alert.Channel{
			&alert.Slack{URL: closed.srv.URL + "/services/T/B/SLACKSECRETPATH", Rules: alert.Rules{}},
			&alert.PagerDuty{URL: echo.srv.URL, RoutingKey: "ROUTINGKEY_SECRET_0000", Rules: alert.Rules{}},
			&alert.Webhook{URL: strings.Replace(closed.srv.URL, "://", "://u:hunter2@", 1), Secret: "WEBHOOK_SECRET_0000"},
		}}
	if st := deliver(t, d); st.Failed != 3 {
		t.Fatalf("%+v", st)
	}
	var lastErrors string
	for _, e := range pending(t, db) {
		lastErrors += e.LastError + "\n"
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) || strings.Contains(lastErrors, s) {
			t.Errorf("%q leaked:\n%s\n%s", s, logs.String(), lastErrors)
		}
	}
	if !strings.Contains(logs.String(), "alert not delivered") || !strings.Contains(lastErrors, "400") {
		t.Errorf("the failures are not reported:\n%s\n%s", logs.String(), lastErrors)
	}
}

// A receiver that is down gets about one request per backoff while Drain
// waits, not one per pending alert.
func TestDrainDoesNotHammerADeadChannel(t *testing.T) {
	db := storetest.SQLite(t)
	r := newReceiver(t, 503)
	enqueue(t, db, []store.AlertChannel{{Name: alert.WebhookName}}, "run_1", 20)
	d := &alert.Dispatcher{Outbox: db, Backoff: 100 * time.Millisecond, Channels: []alert.Channel{&alert.Webhook{URL: r.srv.URL, Secret: "s"}}}
	// Each request waits for the backoff after the one before: at most one
	// per 100 ms of however long the drain took (a loaded machine makes it
	// take longer, never makes more requests), and never one per alert.
	start := time.Now()
	st, err := d.Drain(context.Background(), 350*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if n := len(r.requests()); n < 1 || n > 1+int(elapsed/(100*time.Millisecond)) || st.Failed != n {
		t.Fatalf("%d requests (%+v) in %v with a 100ms backoff; want at most one per backoff", n, st, elapsed)
	}
	if len(pending(t, db)) != 20 {
		t.Fatal("alerts lost")
	}
	// Without a wait, Drain is one pass.
	r2 := newReceiver(t, 503)
	d.Channels = []alert.Channel{&alert.Webhook{URL: r2.srv.URL, Secret: "s"}}
	// An hour on, every retry is due (instead of sleeping until they are).
	d.Now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := d.Drain(context.Background(), 0); err != nil || len(r2.requests()) != 1 {
		t.Fatalf("Drain(0): %d requests, %v", len(r2.requests()), err)
	}
}

// Loop, for serve, retries until delivered and returns when ctx ends.
func TestLoop(t *testing.T) {
	db := storetest.SQLite(t)
	r := newReceiver(t, 202, 500)
	enqueue(t, db, []store.AlertChannel{{Name: alert.PagerDutyName}}, "run_1", 2)
	d := &alert.Dispatcher{Outbox: db, Backoff: 50 * time.Millisecond,
		Channels: []alert.Channel{&alert.PagerDuty{URL: r.srv.URL, RoutingKey: "k", Rules: alert.Rules{}}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Loop(ctx, 100*time.Millisecond) }()
	waitDelivered := func() {
		t.Helper()
		wctx, wcancel := storetest.Context(t)
		defer wcancel()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for len(pending(t, db)) > 0 {
			select {
			case <-wctx.Done():
				t.Fatalf("still pending: %+v", pending(t, db))
			case <-tick.C:
			}
		}
	}
	waitDelivered()
	// Enqueued later, by another process: the next poll picks it up.
	enqueue(t, db, []store.AlertChannel{{Name: alert.PagerDutyName}}, "run_2", 1)
	waitDelivered()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(r.requests()); n != 4 || len(pending(t, db)) != 0 {
		t.Fatalf("%d requests, want 4 (three alerts, one retry)", n)
	}
}
