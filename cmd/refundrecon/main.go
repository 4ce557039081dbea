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
	"strings"
	"syscall"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Exit statuses of the contract.
const (
	exitOK            = 0
	exitRunFailed     = 1
	exitUsage         = 2
	exitDiscrepancies = 3
	exitNotFound      = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	setMemoryLimit(os.Getenv, cgroupMemoryMax) // memlimit.go
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is bad usage: an unknown command or flag, a bad value. cmd
// names the command whose help the message points to (set by run).
type usageError struct{ msg, cmd string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

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
	case errors.Is(err, errNothingFound):
		return exitNotFound // what was searched has been said
	case errors.As(err, &usage):
		// Short: the error and where to read more, never the whole usage.
		fmt.Fprintf(stderr, "refundrecon: %s\nsee 'refundrecon help%s'\n", err, strings.TrimRight(" "+usage.cmd, " "))
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

// run is the whole program: tests call it directly. It finds the command
// in the table (commands.go) and runs it; --help and bad flags are answered
// the same way for every command.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		writeOverview(stderr)
		return usagef("no command given")
	}
	switch args[0] {
	case "-h", "--help", "-help":
		args = append([]string{"help"}, args[1:]...)
	case "--version", "-version":
		args = append([]string{"version"}, args[1:]...)
	}
	c, rest, group, ok := findCommand(args)
	if !ok {
		if len(group) > 0 && len(args) == 2 && (args[1] == "--help" || args[1] == "-h" || args[1] == "-help") {
			return cmdHelp(ctx, args[:1], getenv, stdout, stderr)
		}
		if len(group) > 0 {
			return usageError{msg: fmt.Sprintf("%s takes a subcommand: %s", args[0], names(group)), cmd: args[0]}
		}
		return usagef("unknown command %q", args[0])
	}
	err := c.Run(ctx, rest, getenv, stdout, stderr)
	var h helpRequest
	var u usageError
	switch {
	case errors.As(err, &h):
		return writeCommandHelp(stdout, c, &h)
	case errors.Is(err, flag.ErrHelp):
		return writeCommandHelp(stdout, c, nil)
	case errors.As(err, &u) && u.cmd == "":
		u.cmd = c.Name
		return u
	}
	return err
}
