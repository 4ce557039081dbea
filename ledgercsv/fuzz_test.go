package ledgercsv

import (
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// FuzzRead: whatever the file holds, Read never panics, every row it keeps
// obeys the column rules, and every line it rejects is named by number.
func FuzzRead(f *testing.F) {
	f.Add(header + "lr_1,cus_1,ch_1,,re_1,4500,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n")
	f.Add(header + "lr_2,cus_1,ch_2,,,-100,usd,complete,2026-10-01T10:00:00Z,2026-10-01T09:59:00Z\n\"unterminated\n")
	f.Add(header + "lr_3,cus_2,ch_3,,,1e9,ZZZ,done,yesterday,\n,,,\n")
	f.Add("\ufeffid,customer_id\n\"a\"\"b\",c\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Count(in, "\n") + 1
		bad, err := Read(strings.NewReader(in), money.Valid, func(line int, l reconcile.LedgerRefund) error {
			if line < 2 || line > lines {
				t.Fatalf("good row on line %d of %d", line, lines)
			}
			if p := l.Problems(money.Valid); len(p) > 0 {
				t.Fatalf("kept a row that breaks the rules: %v", p)
			}
			return nil
		})
		if err != nil {
			return // a file-level error (no header, missing columns) is an answer
		}
		for _, b := range bad {
			if b.Line < 1 || b.Line > lines || b.Reason == "" {
				t.Fatalf("bad line %+v of %d", b, lines)
			}
		}
	})
}
