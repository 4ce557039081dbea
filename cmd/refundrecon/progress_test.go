package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/reconcile"
)

func TestRenderProgress(t *testing.T) {
	p := reconcile.Progress{Phase: reconcile.PhaseGateway, LedgerRefunds: 5000, GatewayRefunds: 1200}
	got := renderProgress(p, gateway.Stats{ListRefundsRequests: 12}, 3*time.Second, 20)
	// 3,800 refunds left: 38 pages at 20 a second.
	want := "refundrecon: gateway · ledger 5000 · 12 pages, 1200 refunds fetched (400/s) · ETA ~2s at 20 req/s · 3s"
	if got != want {
		t.Errorf("renderProgress =\n%q, want\n%q", got, want)
	}
	if got := renderProgress(reconcile.Progress{Phase: reconcile.PhaseLedger}, gateway.Stats{}, 0, 20); got != "refundrecon: ledger · 0s" {
		t.Errorf("ledger phase: %q", got)
	}
}

// TestProgressLineOnlyOnATerminal: no progress line on a buffer or a pipe
// (a container's log, `2> file`); on a terminal it draws and clears itself.
func TestProgressLineOnlyOnATerminal(t *testing.T) {
	if l := newProgressLine(&bytes.Buffer{}, nil, 20); l != nil {
		t.Error("a progress line on a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if l := newProgressLine(w, nil, 20); l != nil {
		t.Error("a progress line on a pipe")
	}
	// The drawing itself, on a buffer standing for the terminal.
	var out bytes.Buffer
	at := time.Unix(1000, 0)
	l := &progressLine{w: &out, now: func() time.Time { return at }, maxRPS: 20, start: at.Add(-2 * time.Second),
		stats: func() gateway.Stats { return gateway.Stats{ListRefundsRequests: 3} }}
	l.Update(reconcile.Progress{Phase: reconcile.PhaseGateway, LedgerRefunds: 900, GatewayRefunds: 300})
	l.draw()
	l.Finish()
	if s := out.String(); !strings.HasPrefix(s, "\r\033[Krefundrecon: gateway · ledger 900 · 3 pages, 300 refunds fetched (150/s)") ||
		!strings.HasSuffix(s, "\r\033[K") {
		t.Errorf("drawn %q", s)
	}
}
