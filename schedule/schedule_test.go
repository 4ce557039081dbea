package schedule

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"log/slog"
)

// every fires at every multiple of d, aligned on the wall clock like a cron
// spec, so that tests need not wait for a minute.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := time.Duration(e)
	return t.Truncate(d).Add(d)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func testLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// waitFor polls cond until it holds; it fails the test shortly before go
// test's deadline, never after a fixed time a loaded machine may need.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	var deadline <-chan time.Time
	if d, ok := t.Deadline(); ok {
		timer := time.NewTimer(time.Until(d) - 10*time.Second)
		defer timer.Stop()
		deadline = timer.C
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
		says string
	}{
		{DefaultSpec, true, ""},
		{"CRON_TZ=Europe/Berlin 30 1 * * 1-5", true, ""},
		{"TZ=America/New_York 0 */6 * * *", true, ""},
		{"@daily", true, ""},
		{"@every 6h", true, ""},
		{"  0 2 * * *  ", true, ""},
		{"", false, "empty"},
		{"CRON_TZ=UTC", false, "must be followed"},
		{"CRON_TZ=UTC   ", false, "must be followed"},
		{"CRON_TZ=Mars/Olympus 0 2 * * *", false, "Mars/Olympus"},
		{"0 2 * *", false, "five fields"},
		{"0 0 2 * * *", false, "five fields"},
		{"61 * * * *", false, "61"},
		{"0 25 * * *", false, "25"},
		{"0 0 30 2 *", false, "never fires"},
		{"@fortnightly", false, "fortnightly"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := Parse(tc.spec)
			if tc.ok {
				if err != nil || s == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestDefaultSpecIsTwoUTC(t *testing.T) {
	s, err := Parse(DefaultSpec)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 29, 1, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	if got, want := s.Next(from), time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("next after %s is %s, want %s", from, got, want)
	}
}

func TestSlot(t *testing.T) {
	daily, _ := Parse(DefaultSpec)
	at := func(h, m, s, ms int) time.Time { return time.Date(2026, 5, 4, h, m, s, ms*1e6, time.UTC) }
	tests := []struct {
		s         interface{ Next(time.Time) time.Time }
		now, want time.Time
	}{
		{daily, at(2, 0, 0, 0), at(2, 0, 0, 0)},
		{daily, at(2, 0, 0, 350), at(2, 0, 0, 0)},
		{daily, at(2, 0, 59, 0), at(2, 0, 0, 0)},
		{daily, at(2, 5, 0, 700), at(2, 5, 0, 0)}, // no firing within a minute: a manual trigger
		{every(100 * time.Millisecond), at(3, 0, 0, 250), at(3, 0, 0, 200)},
	}
	for _, tc := range tests {
		if got := Slot(tc.s, tc.now); !got.Equal(tc.want) {
			t.Errorf("Slot(%s) = %s, want %s", tc.now.Format(time.StampMilli), got.Format(time.StampMilli), tc.want.Format(time.StampMilli))
		}
	}
}

func TestFiresOnSchedule(t *testing.T) {
	var mu sync.Mutex
	var slots []time.Time
	log, _ := testLogger()
	s := New(Config{Schedule: every(100 * time.Millisecond), Logger: log, Job: func(ctx context.Context, slot time.Time) error {
		mu.Lock()
		slots = append(slots, slot)
		mu.Unlock()
		return nil
	}})
	s.Start(context.Background())
	waitFor(t, "three runs", func() bool { mu.Lock(); defer mu.Unlock(); return len(slots) >= 3 })
	if err := s.Stop(time.Minute); err != nil { // returns when the run ends: a bound on a hang, not a wait
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, slot := range slots {
		if !slot.Equal(slot.Truncate(100 * time.Millisecond)) {
			t.Errorf("slot %s is not an activation", slot)
		}
		if i > 0 && !slot.After(slots[i-1]) {
			t.Errorf("slots not increasing: %v", slots)
		}
	}
}

func TestOverlappingFiringsSkip(t *testing.T) {
	var running, maxRunning, runs, skips atomic.Int32
	release := make(chan struct{})
	log, logs := testLogger()
	s := New(Config{Schedule: every(50 * time.Millisecond), Logger: log, OnSkip: func() { skips.Add(1) },
		Job: func(ctx context.Context, slot time.Time) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			if runs.Add(1) == 1 {
				<-release // the first run is slow
			}
			return nil
		}})
	s.Start(context.Background())
	waitFor(t, "two skipped firings", func() bool { return skips.Load() >= 2 })
	if runs.Load() != 1 {
		t.Fatalf("%d runs started while the first was going", runs.Load())
	}
	close(release)
	waitFor(t, "a run after the slow one", func() bool { return runs.Load() >= 2 })
	if err := s.Stop(time.Minute); err != nil { // returns when the run ends: a bound on a hang, not a wait
		t.Fatal(err)
	}
	if maxRunning.Load() != 1 {
		t.Fatalf("%d runs at once", maxRunning.Load())
	}
	if !strings.Contains(logs.String(), "skipped: the previous one is still running") {
		t.Fatalf("skip not logged:\n%s", logs)
	}
}

// A panic is recovered and logged with its stack, and, unlike with robfig's
// SkipIfStillRunning alone, later firings still run.
func TestPanicRecoveredAndScheduleContinues(t *testing.T) {
	var runs, panics atomic.Int32
	log, logs := testLogger()
	s := New(Config{Schedule: every(50 * time.Millisecond), Logger: log, OnPanic: func() { panics.Add(1) },
		Job: func(ctx context.Context, slot time.Time) error {
			if runs.Add(1) == 1 {
				panic("boom in the run")
			}
			return nil
		}})
	s.Start(context.Background())
	waitFor(t, "runs after the panic", func() bool { return runs.Load() >= 3 })
	if err := s.Stop(time.Minute); err != nil { // returns when the run ends: a bound on a hang, not a wait
		t.Fatal(err)
	}
	if panics.Load() != 1 {
		t.Fatalf("%d panics counted, want 1", panics.Load())
	}
	out := logs.String()
	if !strings.Contains(out, "scheduled run panicked") || !strings.Contains(out, "boom in the run") || !strings.Contains(out, "schedule_test.go") {
		t.Fatalf("panic not logged with its stack:\n%s", out)
	}
}

// A run's context survives the process's (a signal asking to stop); Stop
// lets the run finish within the grace period, and cancels it after.
func TestStopGraceThenCancel(t *testing.T) {
	started := make(chan struct{})
	var sawCancel atomic.Bool
	var finishWithin atomic.Int64
	finishWithin.Store(int64(time.Hour))
	log, _ := testLogger()
	s := New(Config{Schedule: every(time.Hour), Logger: log, Job: func(ctx context.Context, slot time.Time) error {
		close(started)
		select {
		case <-time.After(time.Duration(finishWithin.Load())):
			return nil
		case <-ctx.Done():
			sawCancel.Store(true)
			return ctx.Err()
		}
	}})
	procCtx, stop := context.WithCancel(context.Background())
	s.Start(procCtx)
	go s.Trigger()
	<-started
	stop() // SIGTERM
	time.Sleep(50 * time.Millisecond)
	if sawCancel.Load() {
		t.Fatal("the process's cancellation reached the run")
	}
	if err := s.Stop(100 * time.Millisecond); err == nil || !sawCancel.Load() {
		t.Fatalf("Stop = %v, run cancelled = %v; want the run cancelled after the grace period", err, sawCancel.Load())
	}

	// A run that ends within the grace period is waited for, not cancelled.
	var done atomic.Bool
	started2 := make(chan struct{})
	// The run ends when the test lets it (not after a pause that a loaded
	// machine could stretch past a short grace period); the grace period is
	// an hour, so only a Stop that does not wait, or cancels early, fails.
	finish := make(chan struct{})
	s2 := New(Config{Schedule: every(time.Hour), Logger: log, Job: func(ctx context.Context, slot time.Time) error {
		close(started2)
		<-finish
		done.Store(ctx.Err() == nil)
		return nil
	}})
	s2.Start(context.Background())
	go s2.Trigger()
	<-started2
	stopped := make(chan error, 1)
	go func() { stopped <- s2.Stop(time.Hour) }()
	close(finish)
	if err := <-stopped; err != nil || !done.Load() {
		t.Fatalf("Stop = %v, finished uncancelled = %v", err, done.Load())
	}
}
