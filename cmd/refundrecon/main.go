// Command refundrecon reconciles the refunds a ledger calls complete with
// the payment gateway's own records. This package is the wiring: it is the
// only one that imports every adapter. main only calls run and maps its
// error to the contract's exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Exit statuses of the contract.
const (
	exitOK            = 0
	exitRunFailed     = 1
	exitUsage         = 2
	exitDiscrepancies = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	setMemoryLimit(os.Getenv, cgroupMemoryMax) // memlimit.go
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is bad usage: an unknown command or flag, a bad value.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errOpenDiscrepancies asks for exit status 3 (run --exit-code).
var errOpenDiscrepancies = errors.New("open discrepancies remain in scope")

// errReported is an error already written to the user (a failed run's
// report); only its exit status is left to give.
type errReported struct{ err error }

func (e errReported) Error() string { return e.err.Error() }
func (e errReported) Unwrap() error { return e.err }

// exitCode is the one place that maps errors to exit statuses; it writes the
// error for the user.
func exitCode(err error, stderr io.Writer) int {
	var usage usageError
	var reported errReported
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errOpenDiscrepancies):
		return exitDiscrepancies
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "refundrecon: %s\nRun 'refundrecon help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, reconcile.ErrConfig):
		fmt.Fprintf(stderr, "refundrecon: %s\n", err)
		return exitUsage
	case errors.As(err, &reported):
		return exitRunFailed
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "refundrecon: interrupted")
		return exitRunFailed
	}
	fmt.Fprintf(stderr, "refundrecon: %s\n", err)
	return exitRunFailed
}

const usage = `refundrecon compares the refunds your ledger calls complete with Stripe's own
refund records, and reports every mismatch.

Usage:
  refundrecon migrate [--with-ledger]       create or upgrade its tables
  refundrecon run [--since D] [--until D] [--customer ID] [--format text|json] [--exit-code]
  refundrecon customer ID [--format text|json]
  refundrecon ack ID --by NAME [--note TEXT]   acknowledge a case
  refundrecon resolve ID --by NAME --note TEXT close a case (a run reopens it if it comes back)
  refundrecon serve                         nightly schedule, HTTP API, metrics and Stripe webhooks
  refundrecon demo [--db PATH] [--customers N] [--refunds N] [--seed S]
  refundrecon ledger import FILE.csv        load a ledger export into ledger_refunds
  refundrecon report [--status open|all] [--format text|csv|json|html] [--out FILE]
  refundrecon fake-stripe [--listen ADDR]  the demo's simulated Stripe account, for compose's demo profile
  refundrecon help

Every setting is a flag and an environment variable; the flag wins.
Run 'refundrecon COMMAND --help' for a command's flags.
`

// run is the whole program: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, getenv, stdout, stderr)
	case "customer":
		return cmdCustomer(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, getenv, stdout, stderr)
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "ack", "resolve":
		return cmdReview(ctx, cmd, rest, getenv, stdout, stderr)
	case "ledger":
		return cmdLedger(ctx, rest, getenv, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, getenv, stdout, stderr)
	case "fake-stripe":
		return cmdFakeStripe(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}
