package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The units ExecStart this path: install the binary there.
const installedBinary = "/usr/local/bin/refundrecon"

// unit is a systemd unit file: section, then key, then every value given.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	u := unit{}
	section := ""
	for i, l := range strings.Split(readFile(t, path), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			u[section] = map[string][]string{}
		case section == "":
			t.Fatalf("%s:%d: a setting before any section", path, i+1)
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || strings.HasSuffix(l, "\\") {
				t.Fatalf("%s:%d: not KEY=VALUE on one line: %q", path, i+1, l)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func unitFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.service", "*.timer"} {
		m, err := filepath.Glob(deployPath(t, "systemd", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

// hardening is what every refundrecon service sets, and to what.
var hardening = map[string]string{
	"DynamicUser":             "yes",
	"User":                    "refundrecon",
	"StateDirectory":          "refundrecon",
	"WorkingDirectory":        "%S/refundrecon",
	"EnvironmentFile":         "/etc/refundrecon/env",
	"NoNewPrivileges":         "yes",
	"CapabilityBoundingSet":   "",
	"AmbientCapabilities":     "",
	"ProtectSystem":           "strict",
	"ProtectHome":             "yes",
	"PrivateTmp":              "yes",
	"PrivateDevices":          "yes",
	"ProtectKernelTunables":   "yes",
	"ProtectKernelModules":    "yes",
	"ProtectControlGroups":    "yes",
	"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	"RestrictNamespaces":      "yes",
	"RestrictSUIDSGID":        "yes",
	"LockPersonality":         "yes",
	"MemoryDenyWriteExecute":  "yes",
	"SystemCallArchitectures": "native",
	"UMask":                   "0077",
}

func TestSystemdUnits(t *testing.T) {
	units := map[string]unit{}
	for _, f := range unitFiles(t) {
		units[filepath.Base(f)] = parseUnit(t, f)
	}
	for _, name := range []string{"refundrecon.service", "refundrecon-run.service", "refundrecon-run.timer", "refundrecon-migrate.service"} {
		if units[name] == nil {
			t.Fatalf("deploy/systemd/%s is missing", name)
		}
	}
	wantExec := map[string]string{
		"refundrecon.service":         installedBinary + " serve",
		"refundrecon-run.service":     installedBinary + " run --exit-code",
		"refundrecon-migrate.service": installedBinary + " migrate",
	}
	for name, u := range units {
		if !strings.HasSuffix(name, ".service") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if got := u["Service"]["ExecStart"]; !slices.Equal(got, []string{wantExec[name]}) {
				t.Errorf("ExecStart %q, want %q", got, wantExec[name])
			}
			for k, want := range hardening {
				if v, ok := u["Service"][k]; !ok || v[len(v)-1] != want {
					t.Errorf("%s=%q, want %q", k, v, want)
				}
			}
			filters := u["Service"]["SystemCallFilter"]
			if !slices.Contains(filters, "@system-service") {
				t.Errorf("SystemCallFilter %q does not allow @system-service only", filters)
			}
		})
	}

	serve := units["refundrecon.service"]
	if serve.get("Service", "Restart") != "on-failure" || !slices.Contains(strings.Fields(serve.get("Service", "RestartPreventExitStatus")), "2") {
		t.Error("serve: restarts on failure, except on exit 2 (bad configuration), expected")
	}
	var schedule string
	for _, e := range serve["Service"]["Environment"] {
		if s, ok := strings.CutPrefix(strings.Trim(e, `"`), "SCHEDULE="); ok {
			schedule = s
		}
	}
	if schedule != serveSchedule {
		t.Errorf("serve's SCHEDULE = %q, want %q (the Kubernetes ConfigMap's too)", schedule, serveSchedule)
	}

	run := units["refundrecon-run.service"]
	if run.get("Service", "Type") != "oneshot" {
		t.Errorf("refundrecon-run.service Type=%s, want oneshot", run.get("Service", "Type"))
	}
	// Exit 3 is a run that worked and found open cases: the alert channels
	// tell finance; the unit fails only when an engineer is needed.
	if !slices.Contains(strings.Fields(run.get("Service", "SuccessExitStatus")), "3") {
		t.Error("refundrecon-run.service: exit 3 (open discrepancies) is not a success")
	}
	if !slices.Contains(strings.Fields(run.get("Service", "RestartPreventExitStatus")), "2") {
		t.Error("refundrecon-run.service: exit 2 (bad configuration) would be retried")
	}

	timer := units["refundrecon-run.timer"]
	if timer.get("Timer", "Unit") != "refundrecon-run.service" {
		t.Errorf("the timer starts %q", timer.get("Timer", "Unit"))
	}
	if timer.get("Timer", "Persistent") != "true" || timer.get("Timer", "RandomizedDelaySec") == "" {
		t.Error("the timer is not Persistent=true with a RandomizedDelaySec")
	}
	cal := regexp.MustCompile(`^\*-\*-\* (\d\d):00:00 UTC$`).FindStringSubmatch(timer.get("Timer", "OnCalendar"))
	if cal == nil {
		t.Fatalf("OnCalendar=%q is not daily at a whole hour UTC", timer.get("Timer", "OnCalendar"))
	}
	if h, _ := strconv.Atoi(cal[1]); h != externalRunHour || h == cronHour(schedule) {
		t.Errorf("the timer runs at %s:00 UTC, want %02d:00, the CronJob's hour, apart from serve's own schedule", cal[1], externalRunHour)
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on the units, as
// installed: the binary they start is put at the path they name (any
// executable will do; verify checks that it exists). Any output counts as a
// failure, since verify exits 0 on unknown keys and bad values.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (Debian package systemd): the units are not verified")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for _, f := range unitFiles(t) {
		src := strings.ReplaceAll(readFile(t, f), installedBinary, self)
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, dst)
	}
	c := exec.Command(analyze, append([]string{"verify", "--man=no"}, files...)...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// systemd-analyze security rates each service's sandbox offline (since
	// systemd 250); 0 is locked down, 10 is none. The units score 1.2 ("OK")
	// with systemd 252; above 2 some hardening went missing.
	for _, f := range files {
		if !strings.HasSuffix(f, ".service") {
			continue
		}
		out, err := exec.Command(analyze, "security", "--offline=yes", f).CombinedOutput()
		if err != nil && strings.Contains(string(out), "--offline") {
			t.Logf("systemd-analyze security --offline is not supported here: %s", strings.TrimSpace(string(out)))
			return
		}
		m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", filepath.Base(f), err, out)
			continue
		}
		if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 2 {
			t.Errorf("%s: exposure %s, want 2.0 or less", filepath.Base(f), m[1])
		}
	}
}
