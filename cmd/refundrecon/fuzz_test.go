package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// FuzzConfiguration: any environment value and flag value is either
// accepted or refused as a usage or configuration error naming what is
// wrong; parsing never panics and never echoes a secret.
func FuzzConfiguration(f *testing.F) {
	f.Add("20", "15m", "2160h", "text", "sk_test_abc")
	f.Add("-1", "forever", "2026-13-01", "xml", "pk_live_zzz")
	f.Add("NaN", "-5m", "90d", "json", "")
	f.Fuzz(func(t *testing.T, rps, grace, since, format, key string) {
		env := map[string]string{"STRIPE_MAX_RPS": rps, "GRACE": grace, "STRIPE_API_KEY": key,
			"STRIPE_API_URL": "http://127.0.0.1:1", "DATABASE_URL": "sqlite::memory:"}
		var s settings
		var stderr bytes.Buffer
		fs, e := newFlagSet("run", func(k string) string { return env[k] }, &stderr, &s, true)
		fs.String("since", "2160h", "")
		_, err := e.parse([]string{"--format=" + format})
		if err == nil {
			err = s.check(true)
		}
		if err == nil {
			_, err = parseWhen("since", since, time.Now())
		}
		if err != nil {
			var u usageError
			if !errors.Is(err, reconcile.ErrConfig) && !errors.As(err, &u) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("%T %v: neither a usage nor a configuration error", err, err)
			}
			if len(key) > 12 && strings.Contains(err.Error()+stderr.String(), key) {
				t.Fatalf("the key %q is echoed: %v", key, err)
			}
		}
	})
}

// FuzzParseWhen: a window bound parses to a time or a usage error, never a
// panic, and a duration always lies before now.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2160h", "90d", "2026-01-31", "2026-01-31T10:00:00Z", "-5h", "9999999999999d", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseWhen("since", v, now)
		if err != nil {
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("%v is not a usage error", err)
			}
			return
		}
		if _, derr := time.ParseDuration(strings.TrimSpace(v)); derr == nil && got.After(now) {
			t.Fatalf("duration %q lies after now: %s", v, got)
		}
	})
}
