package reconcile

// Phases of a run, as Progress reports them.
const (
	PhaseLedger  = "ledger"  // reading the ledger
	PhaseGateway = "gateway" // listing the gateway's refunds
	PhaseCheck   = "check"   // matching, look-ups of what looks missing, judging
)

// Progress is how far a run has come, for a display on a terminal: the
// phase, and the refunds read so far on each side. Runner.Progress receives
// it at each phase and for each gateway refund read: it must be cheap.
type Progress struct {
	Phase          string
	LedgerRefunds  int
	GatewayRefunds int
}

// progress reports p when someone listens.
func (r *Runner) progress(p Progress) {
	if r.Progress != nil {
		r.Progress(p)
	}
}
