package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// newSQLiteWorld is newWorld on an SQLite state database and ledger.
func newSQLiteWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, dbURL: storetest.SQLiteURL(t), stripe: fakestripe.New(testKey), now: time.Now().UTC()}
	srv := httptest.NewServer(w.stripe)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	w.env = map[string]string{"DATABASE_URL": w.dbURL, "STRIPE_API_KEY": testKey, "STRIPE_API_URL": w.url, "LOG_FORMAT": "json"}
	if _, _, err := w.run("migrate", "--with-ledger"); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	w.db = storetest.Open(t, w.dbURL)
	return w
}

func (w *world) runJSON(args ...string) jsonReport {
	w.t.Helper()
	out, stderr, err := w.run(append(args, "--format", "json")...)
	if err != nil {
		w.t.Fatalf("%v: %v\n%s", args, err, stderr)
	}
	return decodeReport(w.t, out)
}

// TestPaymentIntentOnlyLedgerRows: a ledger row that names only a payment
// intent (charge_id null) is found by the keyed look-ups of the nightly
// run: its refund's late failure is reported, and a succeeded refund of the
// intent is not missing_in_ledger when the row lies beyond the margin.
func TestPaymentIntentOnlyLedgerRows(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	intentRow := func(id, pi string, amount int64, at time.Time) reconcile.LedgerRefund {
		return reconcile.LedgerRefund{ID: id, CustomerID: "cus_pi", PaymentIntentID: pi, Amount: amount,
			Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: at.Add(-time.Minute), CompletedAt: at}
	}
	// Late failure: refunded 200 days ago (before the window and its
	// margin), failed 5 days ago.
	w.charge("ch_pilate", "cus_pi", 4000, "usd", w.ago(210*day))
	w.refund(fakestripe.Refund{ID: "re_pilate", Charge: "ch_pilate", Amount: 4000, Created: w.ago(200 * day)})
	if err := w.stripe.FailRefund("re_pilate", "expired_or_canceled_card", w.ago(5*day)); err != nil {
		t.Fatal(err)
	}
	w.ledger(intentRow("lr_pilate", "pi_pilate", 4000, w.ago(200*day)))
	// A refund inside the window whose ledger row was completed 150 days
	// ago, beyond the margin.
	w.charge("ch_piold", "cus_pi", 2500, "usd", w.ago(160*day))
	w.refund(fakestripe.Refund{ID: "re_piold", Charge: "ch_piold", Amount: 2500, Created: w.ago(3 * day)})
	w.ledger(intentRow("lr_piold", "pi_piold", 2500, w.ago(150*day)))

	rep := w.runJSON("run")
	got := triples(rep)
	want := []string{"gateway_failed lr_pilate [re_pilate]"}
	if !slices.Equal(got, want) {
		t.Fatalf("discrepancies %v, want %v", got, want)
	}
}

// TestRowsWithoutTimestampsAreReadByEveryRun: a ledger row without
// completed_at and created_at belongs to every window: a nightly run and a
// customer check report it as invalid_ledger_row, and its refund is not
// missing_in_ledger.
func TestRowsWithoutTimestampsAreReadByEveryRun(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	w.charge("ch_nots", "cus_nots", 1800, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_nots", Charge: "ch_nots", Amount: 1800, Created: w.ago(4 * day)})
	w.ledger(reconcile.LedgerRefund{ID: "lr_nots", CustomerID: "cus_nots", ChargeID: "ch_nots", GatewayRefundID: "re_nots",
		Amount: 1800, Currency: "usd", Status: reconcile.LedgerComplete})
	// A refund of an intent-only row without timestamps, found by the
	// keyed look-up of a window that does not hold it (a later window).
	w.charge("ch_nots2", "cus_nots", 900, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_nots2", Charge: "ch_nots2", Amount: 900, Created: w.ago(2 * day)})
	w.ledger(reconcile.LedgerRefund{ID: "lr_nots2", CustomerID: "cus_nots", PaymentIntentID: "pi_nots2",
		Amount: 900, Currency: "usd", Status: reconcile.LedgerPending})

	want := []string{"invalid_ledger_row lr_nots [re_nots]", "invalid_ledger_row lr_nots2 [re_nots2]"}
	for _, args := range [][]string{{"run"}, {"run", "--since", "720h"}, {"customer", "cus_nots"}} {
		rep := w.runJSON(args...)
		if got := triples(rep); !slices.Equal(got, want) {
			t.Errorf("%v: discrepancies %v, want %v", args, got, want)
		}
		for _, d := range rep.Discrepancies {
			if detail, _ := d["detail"].(string); !strings.Contains(detail, "created_at is null") {
				t.Errorf("%v: detail %q does not say created_at is null", args, detail)
			}
		}
	}
}

// TestHugeAndStrangeLedgerValues: rows of any size are read by a real run
// on PostgreSQL and SQLite: a 2 MiB value, a 3 KB customer id (over
// PostgreSQL's btree row limit), an amount with a fraction from a numeric
// column, a status in capitals. The oversized rows are invalid, naming the
// column; what the cases store is bounded; the run succeeds, twice.
func TestHugeAndStrangeLedgerValues(t *testing.T) {
	for _, backend := range []string{"postgres", "sqlite"} {
		t.Run(backend, func(t *testing.T) {
			var w *world
			if backend == "postgres" {
				w = newWorld(t)
				// A ledger may well have no index on customer_id; PostgreSQL
				// could not index this row's 3 KB of random text.
				if _, err := w.db.SQLX().Exec("DROP INDEX ledger_refunds_customer_id_idx"); err != nil {
					t.Fatal(err)
				}
			} else {
				w = newSQLiteWorld(t)
			}
			day := 24 * time.Hour
			var raw [2300]byte
			_, _ = rand.Read(raw[:])
			bigCustomer := "cus_" + base64.StdEncoding.EncodeToString(raw[:]) // ~3 KB, incompressible
			hugeCurrency := strings.Repeat("€uro", 2<<20/6+1)                 // over 2 MiB

			row := func(id, customer, currency string, status reconcile.LedgerStatus, amount int64) reconcile.LedgerRefund {
				return reconcile.LedgerRefund{ID: id, CustomerID: customer, ChargeID: "ch_" + id, GatewayRefundID: "re_" + id,
					Amount: amount, Currency: currency, Status: status, CreatedAt: w.ago(6*day + time.Minute), CompletedAt: w.ago(6 * day)}
			}
			for _, id := range []string{"cus3k", "cur2m", "frac", "upper"} {
				w.charge("ch_"+id, "cus_x", 6000, "usd", w.ago(20*day))
				w.refund(fakestripe.Refund{ID: "re_" + id, Charge: "ch_" + id, Amount: 6000, Created: w.ago(6 * day)})
			}
			w.ledger(
				row("cus3k", bigCustomer, "usd", reconcile.LedgerComplete, 6000),
				row("cur2m", "cus_x", hugeCurrency, reconcile.LedgerComplete, 6000),
				row("frac", "cus_x", "usd", reconcile.LedgerComplete, 6000),
				row("upper", "cus_x", "USD", "COMPLETE", 6000),
			)
			// The amount as a numeric column: 60.5 for lr frac, whole
			// numbers ("6000.00") otherwise.
			w.env["LEDGER_QUERY"] = `SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
	CASE WHEN id = 'frac' THEN CAST(60.5 AS numeric) ELSE CAST(amount AS numeric) END AS amount,
	currency, status, completed_at, created_at
FROM ledger_refunds
WHERE ((completed_at >= :since AND completed_at <= :until)
	OR (created_at >= :since AND created_at <= :until)
	OR (completed_at IS NULL AND created_at IS NULL))
	AND (CAST(:customer_id AS text) IS NULL OR customer_id = :customer_id)`

			want := []string{"invalid_ledger_row cur2m [re_cur2m]", "invalid_ledger_row cus3k [re_cus3k]", "invalid_ledger_row frac [re_frac]"}
			for n := range 2 {
				rep := w.runJSON("run")
				if got := triples(rep); !slices.Equal(got, want) {
					t.Fatalf("run %d: discrepancies %v, want %v", n+1, got, want)
				}
				for _, d := range rep.Discrepancies {
					id, _ := d["ledger_refund_id"].(string)
					detail, _ := d["detail"].(string)
					wantSays := map[string]string{
						"cur2m": "currency is longer than 255 bytes",
						"cus3k": "customer_id is longer than 255 bytes",
						"frac":  "amount 60.5 is not a whole number of minor units",
					}[id]
					if !strings.Contains(detail, wantSays) {
						t.Errorf("%s: detail %.200q does not say %q", id, detail, wantSays)
					}
					if len(detail) > reconcile.MaxDetailBytes || !utf8.ValidString(detail) {
						t.Errorf("%s: detail of %d bytes", id, len(detail))
					}
					for _, field := range []string{"customer_id", "currency", "charge_id"} {
						if v, _ := d[field].(string); len(v) > reconcile.MaxTextBytes {
							t.Errorf("%s: %s of %d bytes", id, field, len(v))
						}
					}
					if d["new"] != (n == 0) {
						t.Errorf("run %d: %s new = %v", n+1, id, d["new"])
					}
				}
			}
			// The finance report over what the runs stored reads back.
			out, stderr, err := w.run("report", "--format", "json")
			if err != nil {
				t.Fatalf("report: %v\n%s", err, stderr)
			}
			if len(out) > 64<<10 {
				t.Errorf("report of three cases is %d bytes", len(out))
			}
		})
	}
}
