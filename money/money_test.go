package money

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		amount int64
		code   string
		want   string
	}{
		{4500, "usd", "USD 45.00"},
		{5, "USD", "USD 0.05"},
		{0, "eur", "EUR 0.00"},
		{4500, "jpy", "JPY 4,500"},
		{123456789, "usd", "USD 1,234,567.89"},
		{-123456789, "jpy", "JPY -123,456,789"},
		{1500, "kwd", "KWD 1.500"},
		{-1500, "kwd", "KWD -1.500"},
		{-7, "usd", "USD -0.07"},
		{math.MinInt64, "usd", "USD -92,233,720,368,547,758.08"},
		{4500, "us$", "US$ 4500 (minor units)"},
		{-4500, "xyz", "XYZ -4500 (minor units)"},
		{4500, "", "4500 (minor units, no currency)"},
		{4500, "u\x1b[", "U?[ 4500 (minor units)"},
	}
	for _, tt := range tests {
		if got := Format(tt.amount, tt.code); got != tt.want {
			t.Errorf("Format(%d, %q) = %q, want %q", tt.amount, tt.code, got, tt.want)
		}
	}
}

func TestValid(t *testing.T) {
	for _, c := range []string{"USD", "usd", "Eur", "JPY", "KWD", "CHF"} {
		if !Valid(c) {
			t.Errorf("Valid(%q) = false", c)
		}
	}
	for _, c := range []string{"", "XYZ", "US", "USDD", "$", "123", "usd "} {
		if Valid(c) {
			t.Errorf("Valid(%q) = true", c)
		}
	}
}

// TestISO4217ListInForce checks the table Valid and Digits judge by against
// the published list one (testdata/list_one.csv, the amendment named there
// and in iso4217.go): the same codes, the same minor units.
func TestISO4217ListInForce(t *testing.T) {
	f, err := os.Open("testdata/list_one.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	published := map[string]int8{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || line == "code,minor_units" {
			continue
		}
		code, minor, ok := strings.Cut(line, ",")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n := int8(-1)
		if minor != "N.A." {
			v, err := strconv.Atoi(minor)
			if err != nil {
				t.Fatalf("bad minor units in %q", line)
			}
			n = int8(v)
		}
		if _, dup := published[code]; dup {
			t.Errorf("%s listed twice", code)
		}
		published[code] = n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(published) < 170 {
		t.Fatalf("published list has %d codes: testdata truncated?", len(published))
	}
	for code, n := range published {
		if got, ok := iso4217[code]; !ok || got != n {
			t.Errorf("iso4217[%s] = %d, %v; the published list says %d", code, got, ok, n)
		}
	}
	for code := range iso4217 {
		if _, ok := published[code]; !ok {
			t.Errorf("iso4217 holds %s, which the published list does not", code)
		}
	}
}

// TestCurrenciesInForceAndWithdrawn names the codes the contract pins: in
// force today and valid in any case, withdrawn and invalid.
func TestCurrenciesInForceAndWithdrawn(t *testing.T) {
	for _, c := range []string{"VES", "ves", "MRU", "SLE", "VED", "ZWG", "UYW", "XCG", "STN", "BYN", "CLF", "EUR", "Usd"} {
		if !Valid(c) {
			t.Errorf("Valid(%q) = false: in force today", c)
		}
	}
	for _, c := range []string{"DEM", "FRF", "HRK", "VEF", "MRO", "LTL", "LVL", "EEK", "ZWL", "SLL", "STD", "BYR", "ANG", "BGN", "ZMK", "VEB"} {
		if Valid(c) {
			t.Errorf("Valid(%q) = true: withdrawn", c)
		}
	}
	for code, want := range map[string]int{"UYW": 4, "CLF": 4, "VES": 2, "VED": 2, "MRU": 2, "ZWG": 2, "SLE": 2,
		"ISK": 0, "UGX": 0, "JPY": 0, "KWD": 3, "TND": 3, "XAU": 0, "hrk": 2} {
		if got := Digits(code); got != want {
			t.Errorf("Digits(%s) = %d, want %d", code, got, want)
		}
	}
}

// TestFormatUsesTheListsMinorUnits: Format renders with the same minor
// units Valid judges by.
func TestFormatUsesTheListsMinorUnits(t *testing.T) {
	for _, tt := range []struct {
		amount int64
		code   string
		want   string
	}{
		{12345, "uyw", "UYW 1.2345"},
		{12345, "CLF", "CLF 1.2345"},
		{12345, "ves", "VES 123.45"},
		{12345, "zwg", "ZWG 123.45"},
		{12345, "isk", "ISK 12,345"},
	} {
		if got := Format(tt.amount, tt.code); got != tt.want {
			t.Errorf("Format(%d, %q) = %q, want %q", tt.amount, tt.code, got, tt.want)
		}
	}
}

func TestGroupedOffTheListIsBareMinorUnits(t *testing.T) {
	if got := Grouped(123456, "usd"); got != "1,234.56" {
		t.Errorf("Grouped(123456, usd) = %q", got)
	}
	if got := Grouped(123456, "us$"); got != "123456" {
		t.Errorf("Grouped(123456, us$) = %q, want the bare minor units", got)
	}
}

func TestCompareMajor(t *testing.T) {
	for _, tt := range []struct {
		a     int64
		codeA string
		b     int64
		codeB string
		want  int
	}{
		{150, "usd", 2, "jpy", -1},   // 1.50 < 2
		{200, "usd", 2, "jpy", 0},    // 2.00 = 2
		{201, "usd", 2, "jpy", 1},    // 2.01 > 2
		{1001, "kwd", 100, "usd", 1}, // 1.001 > 1.00
		{10000, "clf", 100, "usd", 0},
		{12345, "uyw", 123, "usd", 1}, // 1.2345 > 1.23
		{-150, "usd", -1, "jpy", -1},  // -1.50 < -1
		{-50, "usd", 30, "usd", -1},
		{math.MaxInt64, "jpy", math.MaxInt64, "usd", 1},
		{math.MinInt64, "usd", math.MinInt64, "jpy", 1},
	} {
		if got := CompareMajor(tt.a, tt.codeA, tt.b, tt.codeB); got != tt.want {
			t.Errorf("CompareMajor(%d %s, %d %s) = %d, want %d", tt.a, tt.codeA, tt.b, tt.codeB, got, tt.want)
		}
		if got := CompareMajor(tt.b, tt.codeB, tt.a, tt.codeA); got != -tt.want {
			t.Errorf("CompareMajor(%d %s, %d %s) = %d, want %d", tt.b, tt.codeB, tt.a, tt.codeA, got, -tt.want)
		}
	}
}

func TestParseMajor(t *testing.T) {
	for _, c := range []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"50", "usd", 5000, true}, {"12.5", "usd", 1250, true}, {"12.50", "eur", 1250, true}, {"1,234.56", "usd", 123456, true},
		{"200", "jpy", 200, true}, {"200.5", "jpy", 0, false}, {"1.234", "kwd", 1234, true}, {"1.2345", "kwd", 0, false},
		{"-5", "usd", 0, false}, {"1e3", "usd", 0, false}, {"", "usd", 0, false}, {".", "usd", 0, false},
		{"9999999999999999", "usd", 0, false},
	} {
		got, ok := ParseMajor(c.in, c.cur)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseMajor(%q, %s) = %d %v, want %d %v", c.in, c.cur, got, ok, c.want, c.ok)
		}
	}
}
