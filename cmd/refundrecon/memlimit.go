package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryMax is the container's memory limit (cgroup v2).
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's when GOMEMLIMIT is not set, so that the collector works
// harder near the limit instead of the process being killed. It returns the
// limit set, 0 when none.
func setMemoryLimit(getenv func(string) string, path string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0 // the runtime read it
	}
	limit := containerMemoryLimit(path)
	if limit <= 0 {
		return 0
	}
	limit = limit / 10 * 9
	debug.SetMemoryLimit(limit)
	return limit
}

// containerMemoryLimit reads a cgroup v2 memory.max file: bytes, or 0 for
// "max", no file or anything else.
func containerMemoryLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
