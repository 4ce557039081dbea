package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path string
		want int64
	}{
		{write("limited", "536870912\n"), 536870912},
		{write("unlimited", "max\n"), 0},
		{write("garbage", "lots"), 0},
		{filepath.Join(dir, "absent"), 0},
	} {
		if got := containerMemoryLimit(c.path); got != c.want {
			t.Errorf("%s: %d, want %d", filepath.Base(c.path), got, c.want)
		}
	}

	// 90% of the container's limit, unless GOMEMLIMIT is given.
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	env := func(v string) func(string) string { return func(string) string { return v } }
	if got := setMemoryLimit(env("300MiB"), write("l2", "1000000000")); got != 0 {
		t.Fatalf("with GOMEMLIMIT set: %d", got)
	}
	if got := setMemoryLimit(env(""), write("l3", "1000000000")); got != 900000000 || debug.SetMemoryLimit(-1) != 900000000 {
		t.Fatalf("set %d, runtime %d", got, debug.SetMemoryLimit(-1))
	}
}
