// Package money formats amounts held in minor units and validates currency
// codes against the ISO 4217 list maintained in golang.org/x/text/currency,
// never a hand-written table. It imports no other refundrecon package.
package money

import (
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// Valid reports whether code (any letter case) is on the ISO 4217 list.
func Valid(code string) bool {
	_, err := currency.ParseISO(code)
	return err == nil && len(code) == 3
}

// Digits returns the number of minor-unit digits of a currency: 2 for USD,
// 0 for JPY, 3 for KWD. An unknown code has 2.
func Digits(code string) int {
	u, err := currency.ParseISO(code)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// Format renders an amount in minor units with its currency's own digits
// and grouped thousands: Format(4500, "usd") is "USD 45.00",
// Format(123456, "jpy") is "JPY 123,456", Format(-1500, "kwd") is
// "KWD -1.500".
func Format(amount int64, code string) string {
	return strings.ToUpper(code) + " " + Grouped(amount, code)
}

// Grouped is Decimal with the thousands grouped by commas:
// Grouped(123456789, "usd") is "1,234,567.89".
func Grouped(amount int64, code string) string {
	s := Decimal(amount, code)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Decimal renders an amount in minor units as a plain decimal number with
// its currency's digits, without the code: Decimal(4500, "usd") is "45.00".
func Decimal(amount int64, code string) string {
	digits := Digits(code)
	neg := amount < 0
	var abs uint64
	if neg {
		abs = uint64(-(amount + 1)) + 1 // safe for math.MinInt64
	} else {
		abs = uint64(amount)
	}
	s := strconv.FormatUint(abs, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
