package deploycheck

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is one FROM and what follows it.
type stage struct {
	from, name string
	workdir    string
	body       []instruction
}

// parseDockerfile reads the subset of the Dockerfile syntax the file uses:
// comments, parser directives, continuation lines, one instruction a line.
func parseDockerfile(t *testing.T, src string) (args map[string]string, stages []stage) {
	t.Helper()
	args = map[string]string{}
	var cur strings.Builder
	start := 0
	var instrs []instruction
	for i, l := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(strings.TrimSpace(s) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, rest, _ := strings.Cut(cur.String(), " ")
		instrs = append(instrs, instruction{strings.ToUpper(cmd), strings.TrimSpace(rest), start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatal("Dockerfile ends inside a continued instruction")
	}
	for _, in := range instrs {
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			var s stage
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) == 0 {
				t.Fatalf("line %d: FROM without an image", in.line)
			}
			s.from = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0:
			if in.cmd != "ARG" {
				t.Fatalf("line %d: %s before the first FROM", in.line, in.cmd)
			}
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		default:
			s := &stages[len(stages)-1]
			if in.cmd == "WORKDIR" {
				s.workdir = in.args
			}
			in.args = expandWorkdir(in, s.workdir)
			s.body = append(s.body, in)
		}
	}
	return args, stages
}

// expandWorkdir records a RUN's working directory in front of it, as
// "cd DIR && CMD", the form docker-steps uses.
func expandWorkdir(in instruction, workdir string) string {
	if in.cmd != "RUN" || workdir == "" {
		return in.args
	}
	return "cd " + workdir + " && " + runCommand(in.args)
}

// runCommand strips RUN's own options (--mount=…, --network=…).
func runCommand(args string) string {
	f := strings.Fields(args)
	for len(f) > 0 && strings.HasPrefix(f[0], "--") {
		f = f[1:]
	}
	return strings.Join(f, " ")
}

func loadDockerfile(t *testing.T) (map[string]string, []stage) {
	t.Helper()
	args, stages := parseDockerfile(t, readFile(t, deployPath(t, "Dockerfile")))
	if len(stages) < 2 {
		t.Fatalf("the Dockerfile has %d stages; want a builder and a runtime stage", len(stages))
	}
	return args, stages
}

func instructions(s stage, cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	args, stages := loadDockerfile(t)
	build, final := stages[0], stages[len(stages)-1]

	// The builder's Go is the go.mod's.
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readFile(t, repoRoot(t)+"/go.mod"))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !strings.HasPrefix(build.from, "golang:") {
		t.Errorf("the builder is %s, want golang", build.from)
	}
	if got := strings.ReplaceAll(build.from, "${GO_VERSION}", args["GO_VERSION"]); got != "golang:"+goVersion[1] {
		t.Errorf("the builder is %s, want golang:%s as go.mod says", got, goVersion[1])
	}

	var buildCmd string
	for _, in := range instructions(build, "RUN") {
		if strings.Contains(in.args, "go build") {
			buildCmd = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0 ", " -trimpath ", " ./cmd/refundrecon"} {
		if !strings.Contains(buildCmd+" ", want) {
			t.Errorf("the build command %q lacks %q", buildCmd, strings.TrimSpace(want))
		}
	}

	// The runtime: a minimal base with CA certificates, the binary only,
	// a numeric non-root user, the binary as entrypoint, serve by default.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("the runtime base is %s, want distroless static (CA certificates, tzdata, no shell)", final.from)
	}
	if final.from == "scratch" {
		t.Error("scratch has no CA certificates: copy them in, or use distroless static")
	}
	users := instructions(final, "USER")
	if len(users) != 1 || users[0].args != strconv.Itoa(imageUID)+":"+strconv.Itoa(imageGID) {
		t.Errorf("USER %v, want %d:%d (numeric, so runAsNonRoot can check it)", users, imageUID, imageGID)
	}
	for _, in := range instructions(final, "RUN") {
		t.Errorf("line %d: RUN in the runtime stage (it has no shell)", in.line)
	}
	var entrypoint, cmd []string
	if e := instructions(final, "ENTRYPOINT"); len(e) != 1 || json.Unmarshal([]byte(e[0].args), &entrypoint) != nil {
		t.Errorf("ENTRYPOINT is not one instruction in exec form: %v", e)
	}
	if c := instructions(final, "CMD"); len(c) != 1 || json.Unmarshal([]byte(c[0].args), &cmd) != nil {
		t.Errorf("CMD is not one instruction in exec form: %v", c)
	}
	if !slices.Equal(entrypoint, []string{"/usr/local/bin/refundrecon"}) || !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf("ENTRYPOINT %v CMD %v, want the binary and serve", entrypoint, cmd)
	}
	var binary bool
	for _, in := range instructions(final, "COPY") {
		binary = binary || strings.HasSuffix(in.args, " /usr/local/bin/refundrecon") && strings.Contains(in.args, "--from="+build.name)
	}
	if !binary {
		t.Error("the runtime stage does not copy the binary from the builder to /usr/local/bin/refundrecon")
	}
	if e := instructions(final, "EXPOSE"); len(e) != 1 || e[0].args != strconv.Itoa(defaultPort) {
		t.Errorf("EXPOSE %v, want serve's %d", e, defaultPort)
	}
}

// TestDockerStepsMatchDockerfile: `make docker-steps` runs each of the
// builder's RUN commands, the same text in the same directory, with the
// stage's root moved under DOCKER_STAGE. Change one, change the other.
func TestDockerStepsMatchDockerfile(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make not installed")
	}
	_, stages := loadDockerfile(t)
	const root = "/DOCKER-STAGE-ROOT"
	c := exec.Command(makeBin, "-s", "-n", "docker-steps", "DOCKER_STAGE="+root, "GO=go")
	c.Dir = repoRoot(t)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("make -n docker-steps: %v", err)
	}
	// The recipe as the shell gets it: continuation lines joined, the stage
	// root taken away again.
	recipe := strings.ReplaceAll(strings.ReplaceAll(string(out), "\\\n", " "), root, "")
	var lines []string
	for _, l := range strings.Split(recipe, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	runs := instructions(stages[0], "RUN")
	if len(runs) == 0 {
		t.Fatal("the builder has no RUN")
	}
	for _, in := range runs {
		want := strings.Join(strings.Fields(in.args), " ")
		if !slices.ContainsFunc(lines, func(l string) bool { return sameSteps(l, want) }) {
			t.Errorf("Dockerfile line %d runs\n\t%s\nbut make docker-steps does not:\n%s", in.line, want, recipe)
		}
	}
}

// sameSteps tells whether a docker-steps line runs a RUN command: the same
// "cd DIR" and, after any shell variable assignments, the same command.
func sameSteps(line, run string) bool {
	ls, rs := strings.Split(line, " && "), strings.Split(run, " && ")
	if len(ls) < len(rs) || ls[0] != rs[0] {
		return false
	}
	return slices.Equal(ls[len(ls)-len(rs)+1:], rs[1:])
}

// TestDockerignoreMirrorsGitignore: make docker-steps copies what git sees,
// so what .gitignore keeps out of the repository the image's context must
// keep out too.
func TestDockerignoreMirrorsGitignore(t *testing.T) {
	ignore := map[string]bool{}
	for _, l := range strings.Split(readFile(t, deployPath(t, "Dockerfile.dockerignore")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			ignore[l] = true
		}
	}
	for _, l := range strings.Split(readFile(t, repoRoot(t)+"/.gitignore"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p := strings.Trim(l, "/")
		if !strings.HasPrefix(l, "/") && !strings.Contains(p, "/") {
			p = "**/" + p // .gitignore matches a bare name at any depth
		}
		if !ignore[p] {
			t.Errorf(".gitignore has %q but deploy/Dockerfile.dockerignore has no %q", l, p)
		}
	}
	for _, must := range []string{".git", "deploy"} {
		if !ignore[must] {
			t.Errorf("deploy/Dockerfile.dockerignore does not leave out %s", must)
		}
	}
}
