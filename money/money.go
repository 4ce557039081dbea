// Package money formats amounts held in minor units (Format, Grouped,
// Decimal), reads amounts typed in major units (ParseMajor), orders amounts
// across currencies (CompareMajor), never through a float, and validates currency
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
// "KWD -1.500". It is the one way refundrecon writes money for a person
// (reports, alerts, the page, the support verdict, detail sentences).
//
// A code off the list (a misspelt ledger value) does not say where the
// decimal point goes, so the bare minor units follow the code as written,
// marked: Format(4500, "us$") is "US$ 4500 (minor units)", and
// Format(4500, "") is "4500 (minor units, no currency)". Control
// characters in such a code become "?".
func Format(amount int64, code string) string {
	if !Valid(code) {
		minor := strconv.FormatInt(amount, 10)
		if code == "" {
			return minor + " (minor units, no currency)"
		}
		return printable(strings.ToUpper(code)) + " " + minor + " (minor units)"
	}
	return strings.ToUpper(code) + " " + Grouped(amount, code)
}

// printable replaces control characters (C0, DEL, C1) by "?".
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// Grouped is Format without the code, for tables that show the code in a
// column of its own: Grouped(123456789, "usd") is "1,234,567.89". A code
// off the list gives the bare minor units: Grouped(4500, "us$") is "4500".
func Grouped(amount int64, code string) string {
	if !Valid(code) {
		return strconv.FormatInt(amount, 10)
	}
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

// CompareMajor compares two amounts in minor units of their own currencies
// by their value in major units (dollars, yen, dinars), exactly and without
// a float: CompareMajor(150, "usd", 2, "jpy") is -1 (1.50 < 2). It orders
// cases by size across currencies (no exchange rate is known, so the order
// is only rough) and returns -1, 0 or +1.
func CompareMajor(a int64, codeA string, b int64, codeB string) int {
	wa, fa := splitMajor(a, codeA)
	wb, fb := splitMajor(b, codeB)
	switch {
	case wa < wb:
		return -1
	case wa > wb:
		return 1
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

// maxDigits is the most minor-unit digits a currency on the list has (CLF,
// UYW).
const maxDigits = 4

// splitMajor splits an amount into whole major units and the fraction in
// ten-thousandths, both with the amount's sign (Go's / and % truncate
// toward zero), so that (whole, fraction) order as the amounts do.
func splitMajor(amount int64, code string) (whole, frac int64) {
	scale := int64(1)
	for range Digits(code) {
		scale *= 10
	}
	whole, frac = amount/scale, amount%scale
	for range maxDigits - Digits(code) {
		frac *= 10
	}
	return whole, frac
}

// ParseMajor reads an amount a person typed in major units ("50", "12.50",
// "1,234.56") as minor units of code, with its own digits, exactly: no
// float. More fraction digits than the currency has, a sign or anything
// but digits, commas and one point is refused.
func ParseMajor(s, code string) (int64, bool) {
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", ""), ".")
	digits := Digits(code)
	if whole == "" && frac == "" || len(frac) > digits || len(whole) > 15 {
		return 0, false
	}
	n := int64(0)
	for _, part := range []string{whole, frac + strings.Repeat("0", digits-len(frac))} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, false
			}
			n = n*10 + int64(r-'0')
		}
	}
	return n, true
}
