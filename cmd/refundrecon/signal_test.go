package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// The binary killed in the middle of a run (SIGKILL), then stopped in the
// middle of one (SIGTERM): nothing is half written, and the next run
// completes with every case and every alert delivered exactly once.
func TestSignalsMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	w := newWorld(t)
	want := seedScenario(w)

	var mu sync.Mutex
	deliveries := map[string]int{} // type + discrepancy id -> deliveries
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Type        string `json:"type"`
			Discrepancy struct {
				ID string `json:"id"`
			} `json:"discrepancy"`
		}
		if err := json.Unmarshal(body, &msg); err == nil {
			mu.Lock()
			deliveries[msg.Type+" "+msg.Discrepancy.ID]++
			mu.Unlock()
		}
		rw.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	bin := filepath.Join(t.TempDir(), "refundrecon")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := os.Environ()
	for k, v := range w.env {
		env = append(env, k+"="+v)
	}
	env = append(env, "ALERT_WEBHOOK_URL="+receiver.URL+"/hook", "ALERT_WEBHOOK_SECRET=whsec_signal_test_secret", "ALERT_DRAIN=0")

	// midRun starts `run`, waits until it is stuck in a slow Stripe listing,
	// and sends sig.
	midRun := func(sig syscall.Signal) (int, string) {
		w.stripe.ClearFaults()
		// Stuck for an hour: only the signal ends the listing, however long
		// a loaded machine takes to deliver it.
		w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 8, Delay: time.Hour})
		w.stripe.ResetRequests()
		cmd := exec.Command(bin, "run")
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 20*time.Second, "the run's first Stripe request", func() bool { return len(w.stripe.Requests()) > 0 })
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		w.stripe.ClearFaults()
		return cmd.ProcessState.ExitCode(), out.String()
	}

	if code, out := midRun(syscall.SIGKILL); code != -1 {
		t.Fatalf("SIGKILL: exit %d\n%s", code, out)
	}
	code, out := midRun(syscall.SIGTERM)
	if code != exitRunFailed || !strings.Contains(out, "interrupted") && !strings.Contains(out, "canceled") {
		t.Fatalf("SIGTERM mid-run: exit %d, want 1 saying it was interrupted\n%s", code, out)
	}
	if ds, _ := w.db.Discrepancies(t.Context(), reconcile.CaseFilter{}); len(ds) != 0 {
		t.Fatalf("interrupted runs left %d cases", len(ds))
	}

	// The next run completes; every case alerts once.
	cmd := exec.Command(bin, "run", "--format", "json")
	cmd.Env = env
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("the run after the signals: %v", err)
	}
	if got := triples(decodeReport(t, string(stdout))); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the run after the signals found:\n%s", strings.Join(got, "\n"))
	}
	cmd = exec.Command(bin, "run") // and once more: nothing new to send
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("another run: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	var keys []string
	for k, n := range deliveries {
		keys = append(keys, k)
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	sort.Strings(keys)
	if len(keys) != len(want) {
		t.Errorf("%d alerts delivered, want one per case (%d): %v", len(keys), len(want), keys)
	}

	// No run is left looking as if it were still going.
	var running int
	if err := w.db.SQLX().Get(&running, "SELECT count(*) FROM runs WHERE status = $1", string(reconcile.RunRunning)); err != nil {
		t.Fatal(err)
	}
	if running != 0 {
		t.Errorf("%d runs still marked running after the killed one", running)
	}
}
