package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
)

// runFunc is a command: its arguments after the command's name, the
// environment, and where to write. It parses its flags before any I/O, so
// that `--help` (helpRequest) answers without touching anything.
type runFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// command is one entry of the command table. Dispatch, `help`, the
// per-command help, shell completion and the docs/reference.md test all
// read the table: a new command is one entry in commands() and nothing else.
//
// To add a command: write cmdX in a file of its own, parse its flags with
// newFlags (or newFlagSet) and e.parse, or with parseFlags for a FlagSet of
// its own, so that --help and bad flags behave like everywhere else; then
// add {Name, Summary, Args, Examples, Run} below, and list it in
// docs/reference.md (TestReferenceListsEveryCommand says what is missing).
// A subcommand is an entry whose Name has two words ("ledger import").
type command struct {
	// Name is how it is called: "run", or "ledger import".
	Name string
	// Summary is one line, lower case, no final period.
	Summary string
	// Args are the positional arguments, as the usage line shows them
	// ("ID", "[COMMAND]"), and ArgsHelp says what each one is.
	Args     string
	ArgsHelp []string
	// Examples are full command lines, at least two.
	Examples []string
	// Run runs the command.
	Run runFunc
	// Hidden commands are dispatched but left out of help and completion
	// (aliases).
	Hidden bool
}

// commands is the command table, in the order help lists them.
func commands() []command {
	return []command{
		{Name: "migrate", Summary: "create or upgrade refundrecon's tables (idempotent)", Run: cmdMigrate,
			Examples: []string{
				"refundrecon migrate",
				"DATABASE_URL=postgres://refundrecon@db/refundrecon refundrecon migrate --with-ledger",
			}},
		{Name: "run", Summary: "one reconciliation run over a window (default the last 90 days)", Run: cmdRun,
			Examples: []string{
				"refundrecon run --exit-code",
				"refundrecon run --since 2026-01-01 --until 2026-02-01 --format json > january.json",
			}},
		{Name: "customer", Summary: "check one customer's whole history and print a verdict support can read out", Run: cmdCustomer,
			Args: "ID", ArgsHelp: []string{"ID  the gateway customer id (cus_…)"},
			Examples: []string{
				"refundrecon customer cus_PZ4x8Lq2",
				"refundrecon customer cus_PZ4x8Lq2 --format json",
			}},
		{Name: "lookup", Summary: "for support: find the customer(s) behind whatever the customer gave and check each", Run: cmdLookup,
			Args: "QUERY", ArgsHelp: []string{"QUERY  a cus_… id, an e-mail address, a ch_…, pi_… or re_… id, or a ledger refund id"},
			Examples: []string{
				"refundrecon lookup ann@example.com",
				"refundrecon lookup re_3PZ4x8Lq2 --format json",
			}},
		{Name: "report", Summary: "the mismatch report for finance", Run: cmdReport,
			Examples: []string{
				"refundrecon report",
				"refundrecon report --status all --format csv --out cases.csv",
			}},
		{Name: "ack", Summary: "acknowledge a case: someone is on it (kept in the audit trail)",
			Run: reviewCommand("ack"), Args: "ID", ArgsHelp: []string{"ID  the discrepancy id (dsc_…)"},
			Examples: []string{
				"refundrecon ack dsc_01J2ZK --by alice",
				"refundrecon ack dsc_01J2ZK --by alice --note 'asked Stripe support, ticket 4411'",
			}},
		{Name: "resolve", Summary: "close a case (a later run reopens it if the problem comes back)",
			Run: reviewCommand("resolve"), Args: "ID", ArgsHelp: []string{"ID  the discrepancy id (dsc_…)"},
			Examples: []string{
				"refundrecon resolve dsc_01J2ZK --by alice --note 'refunded again by bank transfer'",
				"refundrecon resolve dsc_01J2ZK --by bob --note 'ledger corrected'",
			}},
		{Name: "runs", Summary: "recent runs: id, scope, status (held ones too), counts, timings", Run: cmdRuns,
			Examples: []string{
				"refundrecon runs",
				"refundrecon runs --limit 5 --format json",
			}},
		{Name: "release", Summary: "send the alerts a held run held (each once), kept in the audit trail",
			Run: cmdHold("release"), Args: "RUN_ID", ArgsHelp: []string{"RUN_ID  the held run's id (run_…; see 'refundrecon runs')"},
			Examples: []string{
				"refundrecon release run_20260301T020000Z_3fa1 --by alice",
				"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/… refundrecon release run_20260301T020000Z_3fa1 --by bob",
			}},
		{Name: "discard", Summary: "resolve the cases a held run alone opened, without their alerts, kept in the audit trail",
			Run: cmdHold("discard"), Args: "RUN_ID", ArgsHelp: []string{"RUN_ID  the held run's id (run_…; see 'refundrecon runs')"},
			Examples: []string{
				"refundrecon discard run_20260301T020000Z_3fa1 --by alice --note 'LEDGER_QUERY read amounts in dollars'",
				"refundrecon discard run_20260301T020000Z_3fa1 --by bob --note 'wrong ledger database'",
			}},
		{Name: "serve", Summary: "the nightly schedule, the HTTP API, the finance page, /metrics and Stripe webhooks", Run: cmdServe,
			Examples: []string{
				"API_TOKENS=alice:$(openssl rand -hex 16) refundrecon serve",
				"SCHEDULE=off LISTEN_ADDR=:9090 refundrecon serve",
			}},
		{Name: "demo", Summary: "the whole job end to end on an embedded database and a simulated gateway", Run: cmdDemo,
			Examples: []string{
				"refundrecon demo",
				"refundrecon demo --refunds 20000 --seed 7 --out /tmp/report.csv",
			}},
		{Name: "ledger import", Summary: "load a CSV ledger export into the table ledger_refunds", Run: cmdLedgerImport,
			Args: "FILE.csv", ArgsHelp: []string{"FILE.csv  a CSV file with the ledger columns as header"},
			Examples: []string{
				"refundrecon ledger import refunds.csv",
				"LEDGER_DATABASE_URL=sqlite:ledger.db refundrecon ledger import refunds.csv",
			}},
		{Name: "ledger check", Summary: "read the ledger query over the default window and say whether it looks right", Run: cmdLedgerCheck,
			Examples: []string{
				"refundrecon ledger check",
				"LEDGER_QUERY_FILE=ledger.sql refundrecon ledger check --since 30d --format json",
			}},
		{Name: "fake-stripe", Summary: "serve the demo's simulated Stripe account (compose's demo profile)", Run: cmdFakeStripe,
			Examples: []string{
				"refundrecon fake-stripe",
				"refundrecon fake-stripe --listen :12111 --seed 1",
			}},
		{Name: "version", Summary: "print the version, commit, build date and Go version", Run: cmdVersion,
			Examples: []string{"refundrecon version", "refundrecon --version"}},
		{Name: "help", Summary: "general help, or a command's own help", Run: cmdHelp,
			Args: "[COMMAND]", ArgsHelp: []string{"COMMAND  a command, such as run or 'ledger import'"},
			Examples: []string{"refundrecon help", "refundrecon help run"}},
		{Name: "completion", Summary: "print a shell completion script", Run: cmdCompletion,
			Args: "bash|zsh|fish", ArgsHelp: []string{"SHELL  bash, zsh or fish"},
			Examples: []string{
				"source <(refundrecon completion bash)",
				"refundrecon completion fish > ~/.config/fish/completions/refundrecon.fish",
			}},
	}
}

func reviewCommand(name string) runFunc {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		return cmdReview(ctx, name, args, getenv, stdout, stderr)
	}
}

// findCommand picks the table entry args name, the longest match first
// ("ledger import" before "ledger"), and returns the rest of args. For a
// group with no entry of its own ("ledger"), it returns the group's
// subcommands instead.
func findCommand(args []string) (c command, rest []string, group []command, ok bool) {
	best := -1
	for _, cand := range commands() {
		words := strings.Fields(cand.Name)
		if len(words) <= best || len(words) > len(args) {
			continue
		}
		match := true
		for i, w := range words {
			match = match && args[i] == w
		}
		if match {
			c, best = cand, len(words)
		}
	}
	if best > 0 {
		return c, args[best:], nil, true
	}
	if len(args) > 0 {
		for _, cand := range commands() {
			if first, _, sub := strings.Cut(cand.Name, " "); sub && first == args[0] {
				group = append(group, cand)
			}
		}
	}
	return command{}, nil, group, false
}

// helpRequest is what a command's flag parsing returns for -h or --help:
// it carries the FlagSet, so that help is printed from the flags the
// command really defines. It is flag.ErrHelp to errors.Is.
type helpRequest struct {
	fs       *flag.FlagSet
	env      map[string]string // flag name → variable
	defaults map[string]string // flag name → built-in default
}

func (helpRequest) Error() string { return flag.ErrHelp.Error() }
func (helpRequest) Unwrap() error { return flag.ErrHelp }

// parseFlags parses a FlagSet that holds no shared settings (demo's) like
// envFlags.parse does: --help is a helpRequest, a bad flag a short usage
// error, values of --format and --status in any case.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequest{fs: fs}
		}
		return flagError(err)
	}
	lowerEnums(fs)
	return nil
}

// flagError rewords the flag package's errors in the form users type.
func flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	return usageError{msg: msg}
}

// flagsOf returns a command's flags, as its --help sees them: the command
// is called with --help and an empty environment, and answers before any
// I/O. nil when the command has no flags of its own.
func flagsOf(c command) *helpRequest {
	err := c.Run(context.Background(), []string{"--help"}, func(string) string { return "" }, io.Discard, io.Discard)
	var h helpRequest
	if errors.As(err, &h) {
		return &h
	}
	return nil
}
