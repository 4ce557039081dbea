package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// Set at link time: go build -ldflags "-X main.version=v1.2.3 -X
// main.commit=abc123 -X main.date=2026-12-04T17:00:00Z" (make build does).
// Empty, they come from the module's build information.
var (
	version string
	commit  string
	date    string
)

// buildInfo describes this binary.
type buildInfo struct {
	Version, Commit, Date, GoVersion string
}

// currentBuild reads the link-time values, else debug.ReadBuildInfo: the
// module version (go install …@v1.2.3) and the VCS stamp of a build in a
// checkout.
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date}
	if info, ok := debug.ReadBuildInfo(); ok {
		b.GoVersion = info.GoVersion
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

func cmdVersion(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version takes no arguments, got %q", fs.Arg(0))
	}
	b := currentBuild()
	fmt.Fprintf(stdout, "refundrecon %s\ncommit:     %s\nbuilt:      %s\ngo version: %s\n", b.Version, b.Commit, b.Date, b.GoVersion)
	return nil
}
