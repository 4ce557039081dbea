package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// The harness runs the fake Stripe and the measured reconciliation each in
// a process of its own, so that the reconciler's peak memory is its own.
// The command re-executes itself with one of these subcommands, whose flags
// only this file reads and writes.
const (
	CmdFakeStripe = "fake-stripe"
	CmdReconcile  = "reconcile"
)

// apiKey is the key the fake accepts.
const apiKey = "sk_test_refundrecon_bench"

// FakeMain is the fake-stripe subcommand: it generates the data set's
// gateway side, serves it on 127.0.0.1 at a free port, writes the base URL
// as the first line of stdout, and serves until ctx is done or stdin is
// closed (the parent went away).
func FakeMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet(CmdFakeStripe, flag.ContinueOnError)
	fl.SetOutput(stderr)
	n := fl.Int("n", 1000, "slots")
	seed := fl.Uint64("seed", 1, "seed")
	now := fl.Int64("now", 0, "the data set's clock, Unix seconds")
	if err := fl.Parse(args); err != nil {
		return err
	}
	d := Dataset{N: *n, Seed: *seed, Now: time.Unix(*now, 0).UTC()}
	fs := fakestripe.New(apiKey)
	if err := d.LoadFake(fs); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The fake logs every request for tests; a million look-ups would
	// grow that log without bound, so it is emptied as it goes.
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == changePath { // sync.go
			serveChange(d, fs, w)
			return
		}
		fs.ServeHTTP(w, r)
		if served.Add(1)%10_000 == 0 {
			fs.ResetRequests()
		}
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin) // returns when the parent closes it
		cancel()
	}()
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ReconcileMain is the reconcile subcommand: one measured run, its
// RunResult written to stdout as JSON.
func ReconcileMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet(CmdReconcile, flag.ContinueOnError)
	fl.SetOutput(stderr)
	var cfg RunConfig
	fl.StringVar(&cfg.DatabaseURL, "database-url", "", "the state and ledger database")
	fl.StringVar(&cfg.StripeURL, "stripe-url", "", "the fake Stripe")
	fl.Float64Var(&cfg.MaxRPS, "max-rps", Unlimited, "STRIPE_MAX_RPS")
	fl.IntVar(&cfg.Concurrency, "concurrency", 0, "listing slices (0: the adapter's default)")
	since := fl.Int64("since", 0, "window start, Unix seconds")
	until := fl.Int64("until", 0, "window end, Unix seconds")
	fl.BoolVar(&cfg.Sync, "sync", false, "read the window through the incremental sync's mirror")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fl.String("memprofile", "", "write a heap profile at the end of the run to this file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	cfg.APIKey = apiKey
	cfg.Scope = reconcile.Scope{Since: time.Unix(*since, 0).UTC(), Until: time.Unix(*until, 0).UTC()}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := Reconcile(ctx, cfg)
	if err != nil {
		return err
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return json.NewEncoder(stdout).Encode(res)
}

// fakeProcess is a running fake-stripe child.
type fakeProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	URL   string
}

// startFake starts the fake for d and waits for its address.
func startFake(ctx context.Context, self string, d Dataset, stderr io.Writer) (*fakeProcess, error) {
	cmd := exec.Command(self, CmdFakeStripe, "-n", strconv.Itoa(d.N),
		"-seed", strconv.FormatUint(d.Seed, 10), "-now", strconv.FormatInt(d.Now.Unix(), 10))
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fake stripe: %w", err)
	}
	f := &fakeProcess{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case u, ok := <-line:
		if !ok {
			f.stop()
			return nil, errors.New("fake stripe exited before it listened")
		}
		f.URL = u
		return f, nil
	case <-ctx.Done():
		f.stop()
		return nil, ctx.Err()
	case <-time.After(10 * time.Minute):
		f.stop()
		return nil, errors.New("fake stripe did not listen within 10 minutes")
	}
}

// stop closes the child's stdin, which ends it, and kills it if it has not
// exited within 10 seconds.
func (f *fakeProcess) stop() {
	f.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = f.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

// childRun is a reconcile child's result and its operating-system view.
type childRun struct {
	RunResult
	// MaxRSS is the child's peak resident set as the kernel accounted it
	// (rusage ru_maxrss), bytes.
	MaxRSS int64
}

// runChild runs one reconciliation in a child process.
// memLimit, when not empty, is the child's GOMEMLIMIT.
func runChild(ctx context.Context, self string, cfg RunConfig, profileDir, memLimit string, stderr io.Writer) (childRun, error) {
	args := []string{CmdReconcile, "-database-url", cfg.DatabaseURL, "-stripe-url", cfg.StripeURL,
		"-max-rps", strconv.FormatFloat(cfg.MaxRPS, 'g', -1, 64), "-concurrency", strconv.Itoa(cfg.Concurrency),
		"-since", strconv.FormatInt(cfg.Scope.Since.Unix(), 10), "-until", strconv.FormatInt(cfg.Scope.Until.Unix(), 10),
		"-sync=" + strconv.FormatBool(cfg.Sync)}
	if profileDir != "" {
		args = append(args, "-cpuprofile", profileDir+"/cpu.pprof", "-memprofile", profileDir+"/allocs.pprof")
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = stderr
	cmd.Env = os.Environ()
	if memLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+memLimit)
	}
	out, err := cmd.Output()
	var res childRun
	if err != nil {
		return res, fmt.Errorf("reconcile child: %w", err)
	}
	if err := json.Unmarshal(out, &res.RunResult); err != nil {
		return res, fmt.Errorf("reconcile child answered %q: %w", out, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	return res, nil
}
