// Package money formats amounts held in minor units and validates currency
// codes against the ISO 4217 list it owns (iso4217.go, with the amendment it
// follows), so that the codes in force and their minor units are decided by
// data a test checks, not by a library's table cut years ago. It imports no
// other refundrecon package.
package money

import (
	"strconv"
	"strings"
)

// minorUnits returns the list's minor units of code in any letter case, -1
// for N.A., and whether code is on the list. It does not allocate.
func minorUnits(code string) (int8, bool) {
	if len(code) != 3 {
		return 0, false
	}
	var up [3]byte
	for i := range 3 {
		c := code[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	n, ok := iso4217[string(up[:])]
	return n, ok
}

// Valid reports whether code (any letter case) is on the ISO 4217 list in
// force (see iso4217).
func Valid(code string) bool {
	_, ok := minorUnits(code)
	return ok
}

// Digits returns the number of minor-unit digits of a currency as the ISO
// 4217 list gives them: 2 for USD, 0 for JPY, 3 for KWD, 4 for CLF and UYW.
// A code off the list has 2, and one whose list entry says N.A. (XAU, XXX)
// has 0.
func Digits(code string) int {
	n, ok := minorUnits(code)
	switch {
	case !ok:
		return 2
	case n < 0:
		return 0
	}
	return int(n)
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
