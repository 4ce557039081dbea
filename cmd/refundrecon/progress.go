package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/reconcile"
)

// progressInterval is how often the progress line is redrawn.
const progressInterval = 250 * time.Millisecond

// progressLine draws one line on a terminal's stderr while a run works:
// the phase, the pages and refunds fetched, the rate, and how long the rest
// of the listing takes at the STRIPE_MAX_RPS limit. It writes nothing
// anywhere else (a pipe, a file, a container's log). It uses no colour, so
// NO_COLOR has nothing to turn off.
type progressLine struct {
	w      io.Writer
	now    func() time.Time
	stats  func() gateway.Stats
	maxRPS float64
	start  time.Time

	mu    sync.Mutex
	p     reconcile.Progress
	drawn bool

	stop, done chan struct{}
}

// newProgressLine returns a progress line for stderr, or nil when stderr is
// not a terminal.
func newProgressLine(stderr io.Writer, stats func() gateway.Stats, maxRPS float64) *progressLine {
	if !isTerminal(stderr) {
		return nil
	}
	return &progressLine{w: stderr, now: time.Now, stats: stats, maxRPS: maxRPS}
}

// Start begins redrawing every progressInterval until Finish.
func (l *progressLine) Start() {
	if l == nil {
		return
	}
	l.start = l.now()
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
				l.draw()
			}
		}
	}()
}

// Update records how far the run has come (Runner.Progress).
func (l *progressLine) Update(p reconcile.Progress) {
	l.mu.Lock()
	l.p = p
	l.mu.Unlock()
}

// Finish stops redrawing and clears the line.
func (l *progressLine) Finish() {
	if l == nil {
		return
	}
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn {
		fmt.Fprint(l.w, "\r\033[K")
	}
}

func (l *progressLine) draw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var st gateway.Stats
	if l.stats != nil {
		st = l.stats()
	}
	fmt.Fprint(l.w, "\r\033[K"+renderProgress(l.p, st, l.now().Sub(l.start), l.maxRPS))
	l.drawn = true
}

// refundsPerPage is what one listing request of Stripe returns at most.
const refundsPerPage = 100

// renderProgress is the progress line's text.
func renderProgress(p reconcile.Progress, st gateway.Stats, elapsed time.Duration, maxRPS float64) string {
	phase := p.Phase
	if phase == "" {
		phase = "starting"
	}
	parts := []string{"refundrecon: " + phase}
	if p.LedgerRefunds > 0 || p.Phase != reconcile.PhaseLedger {
		parts = append(parts, fmt.Sprintf("ledger %d", p.LedgerRefunds))
	}
	pages := st.ListRefundsRequests
	if pages > 0 || p.GatewayRefunds > 0 {
		rate := ""
		if s := elapsed.Seconds(); s >= 1 {
			rate = fmt.Sprintf(" (%.0f/s)", float64(p.GatewayRefunds)/s)
		}
		parts = append(parts, fmt.Sprintf("%d pages, %d refunds fetched%s", pages, p.GatewayRefunds, rate))
	}
	// The ledger's count guesses the gateway's: the rest of the listing
	// takes that many pages at the rate limit.
	if p.Phase == reconcile.PhaseGateway && maxRPS > 0 && p.LedgerRefunds > p.GatewayRefunds {
		left := math.Ceil(float64(p.LedgerRefunds-p.GatewayRefunds)/refundsPerPage) / maxRPS
		parts = append(parts, fmt.Sprintf("ETA ~%s at %g req/s", (time.Duration(left*float64(time.Second))).Round(time.Second), maxRPS))
	}
	parts = append(parts, elapsed.Round(time.Second).String())
	return strings.Join(parts, " · ")
}
