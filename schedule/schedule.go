// Package schedule runs the nightly reconciliation on a cron schedule with
// robfig/cron v3: it parses and checks SCHEDULE, gives each run a context
// of its own, keeps a run that panics from stopping the schedule, skips a
// firing while the previous run is still going, bridges cron's logger to
// slog, and stops gracefully.
//
// It knows nothing of reconciliation: the job is a function of a context and
// the slot it was scheduled for. It imports robfig/cron and the standard
// library only.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSpec is the contract's default SCHEDULE: 02:00 UTC every day.
const DefaultSpec = "CRON_TZ=UTC 0 2 * * *"

// Parse checks a SCHEDULE spec: the standard five fields (minute, hour, day
// of month, month, day of week) or a descriptor (@daily, @every 6h), with an
// optional CRON_TZ= (or TZ=) time zone prefix; without one, the process's
// local zone. The error says what is wrong.
func Parse(spec string) (s cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("schedule is empty")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// cron's parser slices past the end of a zone not followed by a spec.
		if zone, rest, ok := strings.Cut(spec, " "); !ok || strings.TrimSpace(rest) == "" {
			return nil, fmt.Errorf("schedule %q: %s must be followed by a cron spec such as \"0 2 * * *\"", spec, zone)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("schedule %q: %v", spec, p)
		}
	}()
	s, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w (want five fields \"minute hour day-of-month month day-of-week\", optionally after CRON_TZ=Zone, or a descriptor such as @daily)", spec, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", spec)
	}
	return s, nil
}

// Slot returns the activation of s that a firing at now belongs to: the
// latest one at or before now, looking back a minute; now cut to the second
// when there is none. Processes sharing a wall-clock aligned schedule
// (the five-field form) agree on it, so it names the run of that firing.
func Slot(s cron.Schedule, now time.Time) time.Time {
	t := s.Next(now.Add(-time.Minute))
	if t.IsZero() || t.After(now) {
		return now.Truncate(time.Second)
	}
	for range 100000 {
		next := s.Next(t)
		if next.IsZero() || next.After(now) {
			break
		}
		t = next
	}
	return t
}

// Job is one scheduled run. ctx is the run's own context: it is not
// cancelled when the process is asked to stop, only when Stop's grace
// period is over. slot is the activation the run was scheduled for.
type Job func(ctx context.Context, slot time.Time) error

// Config configures a Scheduler.
type Config struct {
	// Schedule says when to fire (see Parse).
	Schedule cron.Schedule
	// Job is the run.
	Job Job
	// Logger receives the scheduler's and cron's lines; nil discards them.
	Logger *slog.Logger
	// Now is the clock the slot is read from; nil means time.Now.
	Now func() time.Time
	// OnSkip is called when a firing is skipped because the previous run is
	// still going; OnPanic when a run panicked. Both may be nil (metrics).
	OnSkip  func()
	OnPanic func()
}

// Scheduler fires Job on Schedule. Build it with New, then Start and Stop
// it once.
type Scheduler struct {
	cfg  Config
	cron *cron.Cron
	log  *slog.Logger
	job  cron.Job // the wrapped job, as cron runs it

	mu      sync.Mutex
	base    context.Context
	running map[*runCtx]struct{}
	stopped bool
	wg      sync.WaitGroup
}

type runCtx struct{ cancel context.CancelFunc }

// New builds a Scheduler. The job is wrapped, outermost first, in cron's
// Recover, cron's SkipIfStillRunning, and a recover of its own: robfig's
// SkipIfStillRunning does not give its token back when the job panics, so a
// single panic would skip every later firing. The inner recover logs the
// panic with its stack and keeps the schedule alive; Recover stays outside
// as the last line of defence.
func New(cfg Config) *Scheduler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Scheduler{cfg: cfg, log: log, running: map[*runCtx]struct{}{}, base: context.Background()}
	bridge := cronLogger{log: log.With("component", "cron"), onSkip: cfg.OnSkip, onPanic: cfg.OnPanic}
	chain := cron.NewChain(cron.Recover(bridge), cron.SkipIfStillRunning(bridge))
	s.job = chain.Then(cron.FuncJob(s.fire))
	s.cron = cron.New(cron.WithLogger(bridge))
	return s
}

// Start starts firing. Runs get contexts derived from ctx without its
// cancellation: a run that has begun finishes or is cancelled by Stop, not
// by the signal that asked the process to stop.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	s.base = context.WithoutCancel(ctx)
	s.mu.Unlock()
	s.cron.Schedule(s.cfg.Schedule, s.job)
	s.cron.Start()
	if e := s.cron.Entries(); len(e) > 0 {
		s.log.Info("schedule started", "next_run", e[0].Next)
	}
}

// Trigger fires the job now, through the same chain as a scheduled firing,
// and returns when it is done (or skipped).
func (s *Scheduler) Trigger() { s.job.Run() }

// Next returns the next scheduled firing; zero before Start.
func (s *Scheduler) Next() time.Time {
	if e := s.cron.Entries(); len(e) > 0 {
		return e[0].Next
	}
	return time.Time{}
}

// Stop stops firing and waits for the run in progress to finish, for at most
// grace; then it cancels the run's context, so that the run records itself
// as failed (the reconciler does so on a fresh context), and waits for that
// too, for at most another grace. It reports whether the run had to be
// cancelled or was still going at the end.
func (s *Scheduler) Stop(grace time.Duration) error {
	s.cron.Stop()
	s.mu.Lock()
	s.stopped = true // no firing starts from now on, so wg only falls
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	s.mu.Lock()
	n := len(s.running)
	for r := range s.running {
		r.cancel()
	}
	s.mu.Unlock()
	s.log.Warn("scheduled run cancelled: it did not finish within the shutdown grace period", "runs", n, "grace", grace.String())
	select {
	case <-done:
		return fmt.Errorf("scheduled run cancelled after %s", grace)
	case <-time.After(grace):
		return fmt.Errorf("scheduled run still going %s after it was cancelled", grace)
	}
}

// fire is one firing: a context of its own, the slot, the job, and a
// recover that keeps SkipIfStillRunning's token in circulation.
func (s *Scheduler) fire() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(s.base)
	r := &runCtx{cancel: cancel}
	s.running[r] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, r)
		s.mu.Unlock()
		cancel()
		s.wg.Done()
	}()
	slot := Slot(s.cfg.Schedule, s.cfg.Now())
	defer func() {
		if p := recover(); p != nil {
			if s.cfg.OnPanic != nil {
				s.cfg.OnPanic()
			}
			s.log.Error("scheduled run panicked", "slot", slot, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	if err := s.cfg.Job(ctx, slot); err != nil {
		s.log.Debug("scheduled run ended with an error", "slot", slot, "error", err)
	}
}

// cronLogger bridges cron's logger to slog. cron's Info lines are per-wake
// chatter and go to Debug, except a skipped firing, which someone should
// see; its errors (a panic Recover caught) go to Error.
type cronLogger struct {
	log             *slog.Logger
	onSkip, onPanic func()
}

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		if l.onSkip != nil {
			l.onSkip()
		}
		l.log.Warn("scheduled run skipped: the previous one is still running")
		return
	}
	l.log.Debug("cron "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	if msg == "panic" && l.onPanic != nil {
		l.onPanic()
	}
	l.log.Error("cron "+msg, append([]any{"error", err}, kv...)...)
}
