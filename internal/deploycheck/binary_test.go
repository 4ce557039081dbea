package deploycheck

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The binary as the image holds it, built once for the package's tests by
// `make docker-steps`: the Dockerfile's own build commands.
var built struct {
	once      sync.Once
	dir, path string
	log       []byte
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// imageBinary builds the image's binary with `make docker-steps` and
// returns its path, or skips under -short: the build takes a minute when
// the build cache is cold.
func imageBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the image's binary is not built")
	}
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not installed: make docker-steps cannot run")
	}
	root := repoRoot(t)
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "deploycheck-"); built.err != nil {
			return
		}
		c := exec.Command(makeBin, "-s", "docker-steps", "DOCKER_STAGE="+built.dir)
		c.Dir = root
		c.Env = append(os.Environ(), "CGO_ENABLED=1") // the recipe must turn cgo off itself
		built.log, built.err = c.CombinedOutput()
		built.path = filepath.Join(built.dir, "out", "refundrecon")
	})
	if built.err != nil {
		t.Fatalf("make docker-steps: %v\n%s", built.err, built.log)
	}
	return built.path
}

// TestImageBinaryIsStatic: no dynamic loader, no shared library, cgo off,
// no build machine paths: it runs on distroless static, or on scratch.
func TestImageBinaryIsStatic(t *testing.T) {
	bin := imageBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary names a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" || settings["GOOS"] != "linux" {
		t.Errorf("built with CGO_ENABLED=%q -trimpath=%q GOOS=%q, want 0, true, linux",
			settings["CGO_ENABLED"], settings["-trimpath"], settings["GOOS"])
	}
	if info.Path != "github.com/refundrecon/refundrecon/cmd/refundrecon" {
		t.Errorf("the binary is %s", info.Path)
	}
}

// runAsImage runs the binary as the image would: as uid 65532 when the
// test can switch users, with nothing but the variables given, in a working
// directory of its own (the image's /data).
func runAsImage(t *testing.T, bin string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	work := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(bin, args...)
	c.Dir = work
	c.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...)
	if os.Geteuid() == 0 {
		// The binary's and the working directory's parents must let the
		// unprivileged user through, as the image's do.
		for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), filepath.Dir(work), filepath.Dir(filepath.Dir(work))} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(work, imageUID, imageGID); err != nil {
			t.Fatal(err)
		}
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: imageUID, Gid: imageGID}}
	}
	return c
}

// TestImageBinaryRunsDemo runs `demo` from the image's binary: exit 0 and
// a report naming every kind of the contract.
func TestImageBinaryRunsDemo(t *testing.T) {
	bin := imageBinary(t)
	c := runAsImage(t, bin, nil, "demo")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("refundrecon demo: %v\n%s", err, stderr.Bytes())
	}
	for _, k := range kinds {
		if !strings.Contains(stdout.String(), k) {
			t.Errorf("the demo's report does not name %s", k)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout.Bytes())
	}
}

// commands are the commands `refundrecon help` lists, each as the words to
// type ("ledger import").
func commands(t *testing.T, bin string) [][]string {
	t.Helper()
	out, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatalf("refundrecon help: %v", err)
	}
	// The lines of the Commands: section: the command's words, then its
	// arguments (upper case, or bash|zsh|fish) and its summary.
	var cmds [][]string
	_, section, _ := strings.Cut(string(out), "\nCommands:\n")
	section, _, _ = strings.Cut(section, "\n\n")
	for _, m := range regexp.MustCompile(`(?m)^  ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)*?)(?:\s{2,}| [^a-z ])`).FindAllStringSubmatch(section, -1) {
		words := strings.Fields(m[1])
		if len(words) > 0 && words[0] != "help" && words[0] != "completion" && words[0] != "version" {
			cmds = append(cmds, words)
		}
	}
	if len(cmds) < 4 {
		t.Fatalf("refundrecon help lists only %v:\n%s", cmds, out)
	}
	return cmds
}

// TestReadmeDocumentsEveryFlag: deploy/README.md's configuration table
// names every flag and variable of every command, as `--help` prints them.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	bin := imageBinary(t)
	readme := readFile(t, deployPath(t, "README.md"))
	flagRe := regexp.MustCompile(`(?m)^  --([a-z][a-z0-9-]*)`)
	envRe := regexp.MustCompile(`\benv ([A-Z][A-Z0-9_]*)`)
	for _, words := range commands(t, bin) {
		out, err := exec.Command(bin, append(words, "--help")...).CombinedOutput()
		if err != nil {
			t.Errorf("refundrecon %s --help: %v\n%s", strings.Join(words, " "), err, out)
			continue
		}
		for _, m := range flagRe.FindAllStringSubmatch(string(out), -1) {
			if !strings.Contains(readme, "`--"+m[1]+"`") {
				t.Errorf("deploy/README.md does not document `--%s` of %s", m[1], strings.Join(words, " "))
			}
		}
		for _, m := range envRe.FindAllStringSubmatch(string(out), -1) {
			if !strings.Contains(readme, "`"+m[1]+"`") {
				t.Errorf("deploy/README.md does not document `%s` (%s)", m[1], strings.Join(words, " "))
			}
		}
	}
}

// TestImageBinaryServes starts `serve` from the image's binary as the
// manifests run it and asks the routes their probes and scrapers use; then
// stops it as Kubernetes and systemd do, with SIGTERM. It skips while the
// binary has no serve command.
func TestImageBinaryServes(t *testing.T) {
	bin := imageBinary(t)
	if !slices.ContainsFunc(commands(t, bin), func(w []string) bool { return w[0] == "serve" }) {
		t.Skip("refundrecon help lists no serve command yet")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	// The default DATABASE_URL, in the working directory as in the image;
	// a Stripe that is never called (no run is due).
	c := runAsImage(t, bin, []string{
		"LISTEN_ADDR=" + addr,
		"STRIPE_API_KEY=sk_test_deploycheck",
		"STRIPE_API_URL=http://127.0.0.1:9",
		"API_TOKENS=deploycheck:deploycheck-token",
	}, "serve")
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan []string, 1)
	go func() {
		var lines []string
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			lines = append(lines, s.Text())
		}
		logs <- lines
	}()
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = c.Process.Kill()
			<-exited
		}
	}()

	client := &http.Client{Timeout: 2 * time.Second}
	get := func(route string) (int, string, error) {
		resp, err := client.Get("http://" + addr + route)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, resp.Header.Get("Content-Type") + "\n" + string(body), nil
	}
	deadline := nearDeadline(t)
	for {
		code, _, err := get(healthzRoute)
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("serve exited before answering %s: %v\n%s", healthzRoute, err, strings.Join(<-logs, "\n"))
		case <-deadline:
			t.Fatalf("serve did not answer %s: %d %v", healthzRoute, code, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, route := range []string{readyzRoute, metricsRoute} {
		code, body, err := get(route)
		if err != nil || code != http.StatusOK {
			t.Errorf("GET %s: %d %v", route, code, err)
		}
		if route == metricsRoute && !strings.HasPrefix(body, "text/plain") {
			t.Errorf("GET %s: not the Prometheus text format: %.200s", route, body)
		}
	}

	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve exited with %v on SIGTERM, want 0", err)
		}
	case <-nearDeadline(t):
		// Not a fixed 30 s, which a loaded machine can exceed: a serve that
		// ignores SIGTERM still fails here, at the test's deadline.
		t.Fatal("serve did not exit after SIGTERM")
	}

	// Not a terminal: every log line is a JSON object.
	lines := <-logs
	if len(lines) == 0 {
		t.Error("serve logged nothing")
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("a log line is not JSON: %q", l)
		} else if v["level"] == nil || v["msg"] == nil {
			t.Errorf("a log line has no level or msg: %q", l)
		}
	}
	if t.Failed() {
		t.Logf("serve's log:\n%s", strings.Join(lines, "\n"))
	}
}

// nearDeadline fires 10 s before go test's deadline (-timeout), or never
// when there is none: waits on a condition fail there, not after a fixed
// few seconds that a loaded machine may need.
func nearDeadline(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil
	}
	return time.After(time.Until(d) - 10*time.Second)
}
