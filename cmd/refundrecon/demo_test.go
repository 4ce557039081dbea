package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
)

func noEnv(string) string { return "" }

// The README's first command: in an empty directory, with nothing set, the
// demo runs the whole job and its report names every kind; the same seed
// prints the same report.
func TestDemoFromEmptyDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	var out1, out2, errs bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, noEnv, &out1, &errs); err != nil {
		t.Fatalf("demo: %v\n%s", err, errs.String())
	}
	for _, k := range reconcile.Kinds {
		if !strings.Contains(out1.String(), string(k)) {
			t.Errorf("demo report does not name %s", k)
		}
	}
	for _, s := range []string{"Verdict:", "did NOT reach the customer", "Stripe failed refund", "refundrecon-demo-report.csv",
		"Support runs: refundrecon lookup customer", "@example.com\": 1 customer", "(ARN) is 7453"} {
		if !strings.Contains(out1.String(), s) {
			t.Errorf("demo output lacks %q", s)
		}
	}
	if err := run(context.Background(), []string{"demo"}, noEnv, &out2, &errs); err != nil {
		t.Fatalf("second demo: %v", err)
	}
	if out1.String() != out2.String() {
		t.Fatalf("same seed, different reports:\n%s\n---\n%s", out1.String(), out2.String())
	}
	var out3 bytes.Buffer
	if err := run(context.Background(), []string{"demo", "--seed", "2"}, noEnv, &out3, &errs); err != nil {
		t.Fatal(err)
	}
	if out3.String() == out1.String() {
		t.Error("another seed printed the same report")
	}
	f, err := os.Open("refundrecon-demo-report.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 1+len(reconcile.Kinds) {
		t.Fatalf("CSV report: %d records, %v", len(recs), err)
	}
	if _, err := os.Stat("refundrecon-demo.db"); err != nil {
		t.Errorf("the demo database is not where it says: %v", err)
	}
}

// A ledger export with bad lines on the embedded default: each bad line is
// named, the rest is loaded, and importing again changes nothing.
func TestLedgerImport(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	file := filepath.Join(dir, "ledger.csv")
	csvText := "id,customer_id,charge_id,payment_intent_id,gateway_refund_id,amount,currency,status,completed_at,created_at\n" +
		"lr_1,cus_1,ch_1,,re_1,4500,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" +
		"lr_2,cus_1,ch_2,,,-100,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" +
		"lr_3,cus_2,ch_3,,,100,ABC,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n" +
		"lr_4,cus_2,ch_4,,,100,eur,complete,2026-13-45,2026-10-01T09:59:00Z\n" +
		"lr_5,cus_2,ch_5,,,100,eur\n" +
		"lr_6,cus_3,,pi_6,,1500,JPY,pending,,2026-10-02T08:00:00Z\n"
	if err := os.WriteFile(file, []byte(csvText), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"ledger", "import", file}, noEnv, &stdout, &stderr)
	if code := exitCode(err, &bytes.Buffer{}); code != exitRunFailed {
		t.Fatalf("exit %d (%v), want 1 for rejected lines", code, err)
	}
	for _, s := range []string{":3: amount is not positive", `:4: currency "ABC"`, `:5: completed_at "2026-13-45"`, ":6: has 7 fields, the header has 10"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr does not say %q:\n%s", s, stderr.String())
		}
	}
	if !strings.Contains(stdout.String(), "2 lines imported (2 new, 0 updated, 0 unchanged), 4 rejected") {
		t.Errorf("summary: %s", stdout.String())
	}
	stdout.Reset()
	_ = run(context.Background(), []string{"ledger", "import", file}, noEnv, &stdout, &bytes.Buffer{})
	if !strings.Contains(stdout.String(), "(0 new, 0 updated, 2 unchanged)") {
		t.Errorf("re-import changed something: %s", stdout.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "refundrecon.db")); err != nil {
		t.Errorf("the embedded default database was not used: %v", err)
	}
}
