package money

import (
	"math"
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
