package deploycheck

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads deploy/compose.yaml the way `docker compose -f
// deploy/compose.yaml [--env-file FILE] config` does, with the library
// docker compose is built on: the Compose schema (unknown keys rejected),
// interpolation, anchors and merge keys, profiles, and the dependency
// graph. env stands in for the shell's environment.
func loadCompose(t *testing.T, env []string, envFile string) (*types.Project, error) {
	t.Helper()
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(deployPath(t)),
		cli.WithEnv(env),
	}
	if envFile != "" {
		opts = append(opts, cli.WithEnvFiles(envFile))
	}
	opts = append(opts, cli.WithDotEnv, cli.WithDefaultProfiles(), cli.WithConsistency(true))
	po, err := cli.NewProjectOptions([]string{deployPath(t, "compose.yaml")}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return po.LoadProject(context.Background())
}

// refundreconServices are the services that run the image.
var refundreconServices = []string{"migrate", "serve", "fake-stripe", "demo-run"}

func TestComposeDefault(t *testing.T) {
	p, err := loadCompose(t, []string{"STRIPE_API_KEY=rk_test_compose"}, "")
	if err != nil {
		t.Fatalf("docker compose config would fail: %v", err)
	}
	if got := p.ServiceNames(); !slices.Equal(got, []string{"migrate", "postgres", "serve"}) {
		t.Errorf("without a profile the services are %v, want migrate, postgres and serve", got)
	}
	for _, name := range []string{"fake-stripe", "demo-run"} {
		s, ok := p.DisabledServices[name]
		if !ok || !slices.Equal(s.Profiles, []string{"demo"}) {
			t.Errorf("%s is not a service of the profile demo only", name)
		}
	}

	pg := p.Services["postgres"]
	if pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 || !strings.Contains(strings.Join(pg.HealthCheck.Test, " "), "pg_isready") {
		t.Errorf("postgres has no pg_isready health check: %+v", pg.HealthCheck)
	}
	if len(pg.Ports) > 0 {
		t.Errorf("postgres publishes ports %v; only serve needs to be reached", pg.Ports)
	}

	migrate := p.Services["migrate"]
	if !slices.Equal(migrate.Command, types.ShellCommand{"migrate", "--with-ledger"}) {
		t.Errorf("migrate runs %v", migrate.Command)
	}
	if migrate.Restart != "no" {
		t.Errorf("migrate restarts (%q): it is a one-shot", migrate.Restart)
	}
	dependsOn(t, migrate, "postgres", types.ServiceConditionHealthy)

	serve := p.Services["serve"]
	if !slices.Equal(serve.Command, types.ShellCommand{"serve"}) {
		t.Errorf("serve runs %v", serve.Command)
	}
	dependsOn(t, serve, "postgres", types.ServiceConditionHealthy)
	dependsOn(t, serve, "migrate", types.ServiceConditionCompletedSuccessfully)
	if len(serve.Ports) != 1 || serve.Ports[0].Target != defaultPort {
		t.Errorf("serve publishes %+v, want its port %d", serve.Ports, defaultPort)
	} else if serve.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("serve is published on %q, want 127.0.0.1 only (put a proxy with TLS in front to go further)", serve.Ports[0].HostIP)
	}
	if v := serve.Environment["STRIPE_API_URL"]; v == nil || *v != "https://api.stripe.com" {
		t.Errorf("serve's STRIPE_API_URL = %v, want Stripe's", v)
	}
	if v := serve.Environment["LISTEN_ADDR"]; v != nil && *v != ":8080" {
		t.Errorf("serve's LISTEN_ADDR = %q does not match the published port", *v)
	}

	images := map[string]bool{}
	for _, name := range []string{"migrate", "serve"} {
		s := p.Services[name]
		checkComposeService(t, s)
		images[s.Image] = true
	}
	if len(images) != 1 {
		t.Errorf("migrate and serve run different images: %v", images)
	}
}

func TestComposeDemoProfile(t *testing.T) {
	p, err := loadCompose(t, nil, deployPath(t, "demo.env"))
	if err != nil {
		t.Fatalf("docker compose --env-file deploy/demo.env config would fail: %v", err)
	}
	if got := p.ServiceNames(); !slices.Equal(got, []string{"demo-run", "fake-stripe", "migrate", "postgres", "serve"}) {
		t.Fatalf("the demo's services are %v", got)
	}
	fake := p.Services["fake-stripe"]
	i := slices.Index(fake.Command, "--listen")
	if len(fake.Command) == 0 || fake.Command[0] != "fake-stripe" || i < 0 || i+1 >= len(fake.Command) {
		t.Fatalf("fake-stripe runs %v", fake.Command)
	}
	addr := fake.Command[i+1]
	for _, name := range []string{"serve", "demo-run"} {
		s := p.Services[name]
		checkComposeService(t, s)
		if got := *s.Environment["STRIPE_API_URL"]; got != "http://fake-stripe"+addr {
			t.Errorf("%s's STRIPE_API_URL is %q, not the simulated Stripe on %s", name, got, addr)
		}
		if got := *s.Environment["STRIPE_API_KEY"]; got != demoKey(t) {
			t.Errorf("%s's STRIPE_API_KEY is %q, not the demo's key", name, got)
		}
	}
	dependsOn(t, p.Services["serve"], "fake-stripe", types.ServiceConditionStarted)
	dependsOn(t, p.Services["demo-run"], "fake-stripe", types.ServiceConditionStarted)
	dependsOn(t, fake, "migrate", types.ServiceConditionCompletedSuccessfully)
	if tokens := *p.Services["serve"].Environment["API_TOKENS"]; !strings.Contains(tokens, ":") {
		t.Errorf("the demo's API_TOKENS %q gives no name:token to sign in with", tokens)
	}
}

// TestComposeNeedsAKey: without a Stripe key, compose stops before it
// starts anything, naming the variable.
func TestComposeNeedsAKey(t *testing.T) {
	_, err := loadCompose(t, nil, "")
	if err == nil || !strings.Contains(err.Error(), "STRIPE_API_KEY") {
		t.Fatalf("loading without STRIPE_API_KEY: %v, want an error naming it", err)
	}
}

func dependsOn(t *testing.T, s types.ServiceConfig, on, condition string) {
	t.Helper()
	d, ok := s.DependsOn[on]
	if !ok || d.Condition != condition {
		t.Errorf("%s does not depend on %s with condition %s: %+v", s.Name, on, condition, s.DependsOn)
	}
}

// checkComposeService checks what every refundrecon container must have.
func checkComposeService(t *testing.T, s types.ServiceConfig) {
	t.Helper()
	if !slices.Contains(refundreconServices, s.Name) {
		t.Fatalf("%s is not a refundrecon service", s.Name)
	}
	if s.Build == nil || filepath.Clean(s.Build.Context) != repoRoot(t) {
		t.Errorf("%s: build context %v, want the repository root", s.Name, s.Build)
	} else if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
		t.Errorf("%s: Dockerfile: %v", s.Name, err)
	}
	if !s.ReadOnly {
		t.Errorf("%s: the root file system is writable", s.Name)
	}
	if s.User != "65532:65532" {
		t.Errorf("%s runs as %q, want the image's 65532:65532", s.Name, s.User)
	}
	if !slices.Equal(s.CapDrop, []string{"ALL"}) {
		t.Errorf("%s: cap_drop %v, want ALL", s.Name, s.CapDrop)
	}
	if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("%s: no no-new-privileges", s.Name)
	}
	if !slices.Contains(s.Tmpfs, "/tmp") {
		t.Errorf("%s: no tmpfs at /tmp beside the read-only root", s.Name)
	}
	variables := knownVariables(t)
	for k := range s.Environment {
		if !variables[k] {
			t.Errorf("%s: environment %s is not a variable refundrecon reads (a typo?)", s.Name, k)
		}
	}
	if v := s.Environment["LOG_FORMAT"]; v == nil || *v != "json" {
		t.Errorf("%s: LOG_FORMAT is not json", s.Name)
	}
	if len(s.Entrypoint) > 0 {
		t.Errorf("%s replaces the image's entrypoint with %v", s.Name, s.Entrypoint)
	}
}

// demoKey is the key `refundrecon demo` gives its simulated Stripe, which
// the demo profile must use too.
func demoKey(t *testing.T) string {
	t.Helper()
	src := readFile(t, filepath.Join(repoRoot(t), "cmd", "refundrecon", "cmd_demo.go"))
	m := regexp.MustCompile(`demoKey\s*=\s*"([^"]+)"`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("cmd/refundrecon/cmd_demo.go no longer defines demoKey")
	}
	return m[1]
}

// TestComposeSecretsComeFromOutside: every secret in compose.yaml is
// interpolated from the environment or an env file, never written in it
// (the database password has a default, for a database only the compose
// network reaches).
func TestComposeSecretsComeFromOutside(t *testing.T) {
	line := regexp.MustCompile(`^\s+([A-Z_]+):\s*(.*)$`)
	seen := 0
	for _, l := range strings.Split(readFile(t, deployPath(t, "compose.yaml")), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil || !secretVariables[m[1]] {
			continue
		}
		seen++
		v := m[2]
		if m[1] == "DATABASE_URL" {
			v = strings.Replace(v, "${POSTGRES_PASSWORD:-refundrecon}", "", 1)
			u, err := url.Parse(v)
			if err != nil || u.User == nil {
				t.Fatalf("DATABASE_URL %q: %v", m[2], err)
			}
			if pw, set := u.User.Password(); set && pw != "" || strings.Contains(v, "${") {
				t.Errorf("DATABASE_URL %q: the password is not POSTGRES_PASSWORD's", m[2])
			}
			continue
		}
		if !regexp.MustCompile(`^\$\{` + m[1] + `(:-|:\?)`).MatchString(v) {
			t.Errorf("%s: %q is not taken from ${%s}", m[1], m[2], m[1])
		}
	}
	if seen < 5 {
		t.Errorf("found only %d secret variables in compose.yaml: is the test still reading it right?", seen)
	}
}
