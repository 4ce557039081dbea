package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// runCLI calls run as main does and returns stdout, stderr and the exit
// status exitCode gives.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	code := exitCode(err, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, code := runCLI(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "refundrecon ") || !strings.Contains(out, "go version: go1.") ||
			!strings.Contains(out, "commit:") || !strings.Contains(out, "built:") {
			t.Errorf("%v: exit %d, output\n%s", args, code, out)
		}
	}
	// -ldflags -X values win over the build information.
	version, commit, date = "v9.8.7", "abc1234", "2026-12-04T00:00:00Z"
	t.Cleanup(func() { version, commit, date = "", "", "" })
	out, _, _ := runCLI(t, nil, "version")
	for _, want := range []string{"refundrecon v9.8.7", "abc1234", "2026-12-04T00:00:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("version with link-time values: %q missing from\n%s", want, out)
		}
	}
}

// TestHelpEveryCommand: `help NAME` and `NAME --help` print the same help,
// with the summary, the usage line, every argument, every flag with its
// variable and default, and two examples.
func TestHelpEveryCommand(t *testing.T) {
	for _, c := range commands() {
		t.Run(strings.ReplaceAll(c.Name, " ", "_"), func(t *testing.T) {
			help, _, code := runCLI(t, nil, append([]string{"help"}, strings.Fields(c.Name)...)...)
			if code != 0 {
				t.Fatalf("help %s: exit %d", c.Name, code)
			}
			self, _, code := runCLI(t, nil, append(strings.Fields(c.Name), "--help")...)
			if code != 0 || self != help {
				t.Errorf("%s --help (exit %d) differs from help %s:\n%s\n---\n%s", c.Name, code, c.Name, self, help)
			}
			for _, want := range []string{c.Summary, "Usage:\n  refundrecon " + c.Name, "Examples:"} {
				if !strings.Contains(help, want) {
					t.Errorf("help %s lacks %q:\n%s", c.Name, want, help)
				}
			}
			if len(c.Examples) < 2 {
				t.Errorf("%s has %d examples, want 2", c.Name, len(c.Examples))
			}
			for _, a := range c.ArgsHelp {
				name, _, _ := strings.Cut(a, " ")
				if !strings.Contains(help, "Arguments:") || !strings.Contains(help, "  "+name+" ") {
					t.Errorf("help %s lacks the argument %s", c.Name, name)
				}
			}
			if h := flagsOf(c); h != nil {
				h.fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(help, "  --"+f.Name) {
						t.Errorf("help %s lacks --%s", c.Name, f.Name)
					}
					if env := h.env[f.Name]; env != "" && !strings.Contains(help, "env "+env) {
						t.Errorf("help %s lacks the variable %s of --%s", c.Name, env, f.Name)
					}
					if def := h.defaults[f.Name]; def != "" && !strings.Contains(help, "default "+def) {
						t.Errorf("help %s lacks the default %s of --%s", c.Name, def, f.Name)
					}
				})
			}
		})
	}
	out, _, code := runCLI(t, nil, "help")
	if code != 0 || !strings.Contains(out, "completion bash|zsh|fish") || !strings.Contains(out, "ledger import FILE.csv") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{"help", "ledger"}, {"ledger", "--help"}} {
		if out, _, code := runCLI(t, nil, args...); code != 0 || !strings.Contains(out, "ledger import") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	if _, stderr, code := runCLI(t, nil, "ledger"); code != 2 || !strings.Contains(stderr, "ledger takes a subcommand: ledger import, ledger check\nsee 'refundrecon help ledger'") {
		t.Errorf("ledger: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, "help", "nosuch"); code != 2 || !strings.Contains(stderr, `unknown command "nosuch"`) {
		t.Errorf("help nosuch: exit %d, %s", code, stderr)
	}
}

// TestBadFlagIsShort: an unknown flag gets the error and a pointer to the
// command's help, exit 2, never the whole usage.
func TestBadFlagIsShort(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"run", "--bogus"}},
		{[]string{"demo", "--nope=1"}},
		{[]string{"ledger", "import", "--x"}},
		{[]string{"run", "--since"}},
	} {
		out, stderr, code := runCLI(t, nil, tc.args...)
		name := strings.Join(tc.args[:len(tc.args)-1], " ")
		if code != 2 || out != "" || strings.Count(stderr, "\n") > 2 || !strings.HasSuffix(stderr, "see 'refundrecon help "+name+"'\n") {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tc.args, code, out, stderr)
		}
	}
	_, stderr, _ := runCLI(t, nil, "run", "--bogus")
	if !strings.HasPrefix(stderr, "refundrecon: unknown flag --bogus\n") {
		t.Errorf("run --bogus: %q", stderr)
	}
	_, stderr, code := runCLI(t, nil, "nosuch")
	if code != 2 || stderr != "refundrecon: unknown command \"nosuch\"\nsee 'refundrecon help'\n" {
		t.Errorf("nosuch: exit %d, %q", code, stderr)
	}
}

// TestCommandsRejectUnusedFlags: a command refuses a shared flag it would
// ignore.
func TestCommandsRejectUnusedFlags(t *testing.T) {
	for _, args := range [][]string{
		{"report", "--ledger-database-url", "sqlite:x.db"},
		{"report", "--stripe-api-key", "sk_test_x"},
		{"migrate", "--stripe-api-url", "http://x"},
		{"ack", "dsc_1", "--by", "a", "--ledger-query", "SELECT 1"},
		{"ledger", "import", "x.csv", "--log-level", "debug"},
	} {
		_, stderr, code := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "unknown flag --") {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
}

// TestFormatAnyCase: --format and --status take any letter case.
func TestFormatAnyCase(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "r.db")}
	out, stderr, code := runCLI(t, env, "report", "--format", "JSON", "--status", "All")
	if code != 0 {
		t.Fatalf("report --format JSON: exit %d, %s", code, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("report --format JSON is not JSON: %v\n%s", err, out)
	}
	if _, stderr, code := runCLI(t, env, "report", "--format", "yaml"); code != 2 || !strings.Contains(stderr, `"yaml"`) {
		t.Errorf("--format yaml: exit %d, %s", code, stderr)
	}
}

// TestCompletionBash sources the bash script and calls its function as
// bash's completion does.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, _, code := runCLI(t, nil, "completion", "bash")
	if code != 0 {
		t.Fatalf("completion bash: exit %d", code)
	}
	file := filepath.Join(t.TempDir(), "refundrecon.bash")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	complete := func(words ...string) string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := "source " + file + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "\n_refundrecon\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command(bash, "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", words, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"refundrecon", "ru"}, "run runs"}, // the contract has both
		{[]string{"refundrecon", "ledger", "im"}, "import"},
		{[]string{"refundrecon", "run", "--exit"}, "--exit-code"},
		{[]string{"refundrecon", "report", "--format", "c"}, "csv"},
		{[]string{"refundrecon", "ledger", "import", "--ledger-d"}, "--ledger-database-url"},
		{[]string{"refundrecon", "help", "cust"}, "customer"},
		{[]string{"refundrecon", "completion", "f"}, "fish"},
		{[]string{"refundrecon", "report", "--ledger"}, ""},
	} {
		if got := complete(tc.words...); got != tc.want {
			t.Errorf("complete %v = %q, want %q", tc.words, got, tc.want)
		}
	}
	for _, shell := range []string{"zsh", "fish"} {
		out, _, code := runCLI(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, "refundrecon") || !strings.Contains(out, "run") {
			t.Errorf("completion %s: exit %d\n%s", shell, code, out)
		}
	}
	if _, _, code := runCLI(t, nil, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}

// TestLedgerQueryFile: LEDGER_QUERY_FILE is read as LEDGER_QUERY; both set
// is a configuration error.
func TestLedgerQueryFile(t *testing.T) {
	w := newWorld(t)
	w.charge("ch_qf", "cus_qf", 700, "usd", w.ago(48*time.Hour))
	w.ledger(reconcile.LedgerRefund{ID: "lr_qf", CustomerID: "cus_qf", ChargeID: "ch_qf", Amount: 700, Currency: "usd",
		Status: "complete", CompletedAt: w.ago(24 * time.Hour), CreatedAt: w.ago(24 * time.Hour)})
	// The file's query keeps only another customer's rows: lr_qf is not read.
	file := filepath.Join(t.TempDir(), "ledger.sql")
	if err := os.WriteFile(file, []byte("SELECT *\nFROM ledger_refunds\nWHERE customer_id = 'cus_nobody'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env["LEDGER_QUERY_FILE"] = file
	out, stderr, err := w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("run with LEDGER_QUERY_FILE: %v\n%s", err, stderr)
	}
	if rep := decodeReport(t, out); rep.Counts.LedgerRefunds != 0 {
		t.Errorf("LEDGER_QUERY_FILE was not used: %d ledger refunds read", rep.Counts.LedgerRefunds)
	}
	delete(w.env, "LEDGER_QUERY_FILE")
	out, _, err = w.run("run", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if rep := decodeReport(t, out); rep.Counts.LedgerRefunds != 1 {
		t.Errorf("without the file: %d ledger refunds read, want 1", rep.Counts.LedgerRefunds)
	}

	w.env["LEDGER_QUERY"] = "SELECT * FROM ledger_refunds"
	w.env["LEDGER_QUERY_FILE"] = file
	var stderrBuf bytes.Buffer
	_, _, err = w.run("run")
	if code := exitCode(err, &stderrBuf); code != 2 || !strings.Contains(stderrBuf.String(), "LEDGER_QUERY and LEDGER_QUERY_FILE are both set") {
		t.Errorf("both set: exit %d, %s", code, stderrBuf.String())
	}
	delete(w.env, "LEDGER_QUERY")
	w.env["LEDGER_QUERY_FILE"] = filepath.Join(t.TempDir(), "missing.sql")
	stderrBuf.Reset()
	_, _, err = w.run("run")
	if code := exitCode(err, &stderrBuf); code != 2 || !strings.Contains(stderrBuf.String(), "LEDGER_QUERY_FILE") {
		t.Errorf("missing file: exit %d, %s", code, stderrBuf.String())
	}
}

// TestRunWithoutLedger: no ledger table and no query is a configuration
// error (exit 2) with a hint, on PostgreSQL and SQLite.
func TestRunWithoutLedger(t *testing.T) {
	for _, dbURL := range []string{storetest.PostgresURL(t), "sqlite:" + filepath.Join(t.TempDir(), "noledger.db")} {
		w := newWorld(t)
		w.env["DATABASE_URL"] = dbURL
		if _, _, err := w.run("migrate"); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"text", "json"} {
			var stderr bytes.Buffer
			_, _, err := w.run("run", "--format", format)
			code := exitCode(err, &stderr)
			msg := stderr.String()
			if code != 2 || !strings.Contains(msg, "ledger_refunds does not exist") ||
				!strings.Contains(msg, "refundrecon migrate --with-ledger") || !strings.Contains(msg, "LEDGER_QUERY") {
				t.Errorf("%s, --format %s: exit %d, %s", dbURL[:6], format, code, msg)
			}
		}
	}
}
