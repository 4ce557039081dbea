package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// settings are the contract's variables that the commands share. Each one
// is a flag whose default comes from the environment, so a flag wins.
type settings struct {
	DatabaseURL       string
	LedgerDatabaseURL string
	LedgerQuery       string
	LedgerQueryFile   string
	StripeAPIKey      string
	StripeAPIURL      string
	StripeMetadataKey string
	StripeMaxRPS      float64
	LogLevel          string
	LogFormat         string
	Grace             time.Duration
	PendingAfter      time.Duration
	Margin            time.Duration
	// FullSyncEvery is FULL_SYNC_EVERY; FullSync is run --full (sync.go).
	FullSyncEvery time.Duration
	FullSync      bool

	// Alert channels; each is enabled by its variable.
	SlackWebhookURL     string
	PagerDutyRoutingKey string
	PagerDutyEventsURL  string
	AlertWebhookURL     string
	AlertWebhookSecret  string
	// Alert grades, groups and retries alerts (alerts.go).
	Alert alertOptions
	// HoldNew is ALERT_HOLD_NEW (cmd_held.go).
	HoldNew float64
	// DryRun is run --dry-run: judge, record nothing, send nothing.
	DryRun bool
}

// envFlags defines flags that fall back on environment variables. A bad
// environment value is a configuration error naming the variable.
type envFlags struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []string
	// env and defaults are, by flag name, the variable each flag falls back
	// on and its built-in default (before the environment), for help,
	// completion and docs/reference.md.
	env      map[string]string
	defaults map[string]string
}

// note records a flag's variable and built-in default.
func (e *envFlags) note(name, env, def string) {
	if e.env == nil {
		e.env, e.defaults = map[string]string{}, map[string]string{}
	}
	e.env[name], e.defaults[name] = env, def
}

func (e *envFlags) str(p *string, name, env, def, help string) {
	e.note(name, env, def)
	if v := e.getenv(env); v != "" {
		def = v
	}
	e.fs.StringVar(p, name, def, help)
}

// url is str for a URL that may hold a password: the usage text shows its
// default with the password masked.
func (e *envFlags) url(p *string, name, env, def, help string) {
	e.str(p, name, env, def, help)
	if f := e.fs.Lookup(name); f != nil {
		f.DefValue = store.Redact(f.DefValue)
	}
}

// secret is a string flag whose value is never shown in usage text.
func (e *envFlags) secret(p *string, name, env, help string) {
	e.note(name, env, "")
	*p = e.getenv(env)
	e.fs.Func(name, help+" (prefer the variable: a flag shows in ps)", func(v string) error {
		*p = v
		return nil
	})
}

func (e *envFlags) float(p *float64, name, env string, def float64, help string) {
	e.note(name, env, strconv.FormatFloat(def, 'g', -1, 64))
	if v := e.getenv(env); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a positive number", env, v))
		} else {
			def = f
		}
	}
	e.fs.Float64Var(p, name, def, help)
}

func (e *envFlags) duration(p *time.Duration, name, env string, def time.Duration, help string) {
	e.note(name, env, def.String())
	if v := e.getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a duration such as 15m or 120h", env, v))
		} else {
			def = d
		}
	}
	e.fs.DurationVar(p, name, def, help)
}

// Flag groups: which shared settings a command defines. A command defines
// only the settings it uses, so that a flag it would ignore is refused.
type flagGroup int

const (
	// useDB: --database-url, the reconciler's own state.
	useDB flagGroup = 1 << iota
	// useLedgerDB: --ledger-database-url.
	useLedgerDB
	// useLog: --log-level, --log-format.
	useLog
	// useRun: the ledger query, Stripe, the classifier's durations and the
	// alert channels: what a reconciliation run needs.
	useRun
	// useAlerts: the alert channels alone (ack, resolve).
	useAlerts
	// useSync: FULL_SYNC_EVERY, for the window runs of run and serve.
	useSync
)

// newFlagSet makes a subcommand's flag set with the shared settings: all of
// them when stripe is set (a reconciliation), else the databases and logs.
// Commands that use fewer call newFlags.
func newFlagSet(name string, getenv func(string) string, stderr io.Writer, s *settings, stripe bool) (*flag.FlagSet, *envFlags) {
	if stripe {
		return newFlags(name, getenv, s, useDB|useLedgerDB|useLog|useRun)
	}
	return newFlags(name, getenv, s, useDB|useLedgerDB|useLog)
}

// newFlags makes a subcommand's flag set with the shared settings of the
// groups given. The flag package prints nothing: a bad flag is a short
// usage error (exitCode), --help the command's help (help.go).
func newFlags(name string, getenv func(string) string, s *settings, groups flagGroup) (*flag.FlagSet, *envFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	e := &envFlags{fs: fs, getenv: getenv}
	if groups&useDB != 0 {
		e.url(&s.DatabaseURL, "database-url", "DATABASE_URL", "sqlite:refundrecon.db", "the reconciler's own state: postgres://… or sqlite:PATH")
	} else {
		// Not a flag of this command, but the ledger falls back on it.
		s.DatabaseURL = getenv("DATABASE_URL")
		if s.DatabaseURL == "" {
			s.DatabaseURL = "sqlite:refundrecon.db"
		}
	}
	if groups&useLedgerDB != 0 {
		e.url(&s.LedgerDatabaseURL, "ledger-database-url", "LEDGER_DATABASE_URL", "", "where the ledger lives (default: the database URL)")
	}
	if groups&useLog != 0 {
		e.str(&s.LogLevel, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
		e.str(&s.LogFormat, "log-format", "LOG_FORMAT", "auto", "text, json, or auto (json when stderr is not a terminal)")
	} else {
		s.LogLevel, s.LogFormat = "info", "auto"
	}
	if groups&useRun != 0 {
		e.str(&s.LedgerQuery, "ledger-query", "LEDGER_QUERY", "", "SQL returning the ledger columns; may use :since, :until, :customer_id (default: the table ledger_refunds)")
		e.str(&s.LedgerQueryFile, "ledger-query-file", "LEDGER_QUERY_FILE", "", "a file holding the ledger query, for SQL too long for a variable (not with LEDGER_QUERY)")
		e.secret(&s.StripeAPIKey, "stripe-api-key", "STRIPE_API_KEY", "Stripe secret or restricted key (sk_…, rk_…)")
		e.str(&s.StripeAPIURL, "stripe-api-url", "STRIPE_API_URL", "https://api.stripe.com", "base URL of the Stripe API")
		e.str(&s.StripeMetadataKey, "stripe-metadata-key", "STRIPE_METADATA_KEY", "ledger_refund_id", "refund metadata key that may hold the ledger refund id")
		e.float(&s.StripeMaxRPS, "stripe-max-rps", "STRIPE_MAX_RPS", 20, "ceiling on Stripe requests per second, all workers together")
		e.duration(&s.Grace, "grace", "GRACE", reconcile.DefaultGrace, "in-flight records younger than this are not flagged")
		e.duration(&s.PendingAfter, "pending-after", "PENDING_AFTER", reconcile.DefaultPendingAfter, "a gateway refund pending longer than this is flagged")
		e.duration(&s.Margin, "margin", "MARGIN", reconcile.DefaultMargin, "read both sides this much around the window")
		e.share(&s.HoldNew, "alert-hold-new", "ALERT_HOLD_NEW", reconcile.DefaultHoldShare,
			"hold a run's alerts when it opens more new cases than this share of its refunds (and at least 20): 0 to 1")
	}
	if groups&useSync != 0 {
		e.duration(&s.FullSyncEvery, "full-sync-every", "FULL_SYNC_EVERY", reconcile.DefaultFullSyncEvery, "list the whole window from Stripe this often; in between, fetch only what changed")
	} else {
		s.FullSyncEvery = reconcile.DefaultFullSyncEvery
	}
	if groups&(useRun|useAlerts) != 0 {
		e.alertFlags(s) // alerts.go
	}
	return fs, e
}

// parse parses args, allowing positional arguments between flags
// (customer ID --format json), and checks the environment's values.
func (e *envFlags) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := e.fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, helpRequest{fs: e.fs, env: e.env, defaults: e.defaults}
			}
			return nil, flagError(err)
		}
		args = e.fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	lowerEnums(e.fs)
	if len(e.errs) > 0 {
		return nil, fmt.Errorf("%w: %s", reconcile.ErrConfig, strings.Join(e.errs, "; "))
	}
	return positional, nil
}

// check validates the shared settings after parsing.
func (s *settings) check(stripe bool) error {
	var problems []string
	if s.LedgerDatabaseURL == "" {
		s.LedgerDatabaseURL = s.DatabaseURL
	}
	if _, err := parseLevel(s.LogLevel); err != nil {
		problems = append(problems, err.Error())
	}
	switch s.LogFormat {
	case "auto", "text", "json":
	default:
		problems = append(problems, fmt.Sprintf("log format %q is not text, json or auto", s.LogFormat))
	}
	if stripe {
		if err := s.readLedgerQueryFile(); err != nil {
			problems = append(problems, err.Error())
		}
		switch {
		case s.StripeAPIKey == "":
			problems = append(problems, "STRIPE_API_KEY is not set")
		case !strings.HasPrefix(s.StripeAPIKey, "sk_") && !strings.HasPrefix(s.StripeAPIKey, "rk_"):
			problems = append(problems, "STRIPE_API_KEY is not a secret (sk_…) or restricted (rk_…) key")
		}
		if !strings.HasPrefix(s.StripeAPIURL, "http://") && !strings.HasPrefix(s.StripeAPIURL, "https://") {
			problems = append(problems, fmt.Sprintf("STRIPE_API_URL %q is not an http or https URL", s.StripeAPIURL))
		}
		if s.StripeMaxRPS <= 0 {
			problems = append(problems, "STRIPE_MAX_RPS must be positive")
		}
		if strings.TrimSpace(s.StripeMetadataKey) == "" {
			problems = append(problems, "STRIPE_METADATA_KEY is empty")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", reconcile.ErrConfig, strings.Join(problems, "; "))
	}
	return nil
}

// readLedgerQueryFile reads LEDGER_QUERY_FILE into LedgerQuery. Setting
// both is a configuration error: which one wins would be a guess.
func (s *settings) readLedgerQueryFile() error {
	if s.LedgerQueryFile == "" {
		return nil
	}
	if strings.TrimSpace(s.LedgerQuery) != "" {
		return errors.New("LEDGER_QUERY and LEDGER_QUERY_FILE are both set: keep one")
	}
	b, err := os.ReadFile(s.LedgerQueryFile)
	if err != nil {
		return fmt.Errorf("LEDGER_QUERY_FILE: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return fmt.Errorf("LEDGER_QUERY_FILE %s is empty", s.LedgerQueryFile)
	}
	s.LedgerQuery = string(b)
	return nil
}

// lowerEnums: the flags holding one of a few words (--format, --status)
// take their value in any letter case (--format JSON), in every command
// that defines them.
func lowerEnums(fs *flag.FlagSet) {
	for _, name := range []string{"format", "status"} {
		if f := fs.Lookup(name); f != nil {
			_ = f.Value.Set(strings.ToLower(f.Value.String()))
		}
	}
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the one logger of the process: JSON when asked, or when
// stderr is not a terminal (a container, a timer), text on a terminal.
func newLogger(s *settings, stderr io.Writer) *slog.Logger {
	level, _ := parseLevel(s.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	asJSON := s.LogFormat == "json"
	if s.LogFormat == "auto" {
		asJSON = !isTerminal(stderr)
	}
	if asJSON {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parseWhen reads --since and --until: a duration before now ("2160h",
// "90d"), a date ("2026-01-31", the start of that day in UTC) or an RFC 3339
// time.
func parseWhen(flagName, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, usagef("--%s %q: a duration counts back from now and cannot be negative", flagName, v)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q is neither a duration (2160h, 90d) nor a date (2026-01-31 or RFC 3339)", flagName, v)
}
