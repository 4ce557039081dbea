package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ruleFile is a Prometheus rule file (rule_files:), decoded strictly: the
// fields of the Prometheus documentation, nothing else.
type ruleFile struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// prometheusRule is the Prometheus Operator's PrometheusRule
// (monitoring.coreos.com/v1): a CRD, so no k8s.io/api type; its spec is a
// rule file.
type prometheusRule struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       ruleFile          `json:"spec"`
}

// RulesFile is the path of the Prometheus rules, from the repository root.
const rulesFile = "deploy/prometheus/refundrecon-rules.yaml"

func readRules(t *testing.T) ruleFile {
	t.Helper()
	var f ruleFile
	if err := yaml.UnmarshalStrict([]byte(readFile(t, filepath.Join(repoRoot(t), rulesFile))), &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return f
}

// promtool returns promtool's path; without it the test is skipped, except
// in CI (CI=true), where it fails: .ci/run installs it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (apt-get install prometheus); CI needs it")
		}
		t.Skip("promtool is not installed (apt-get install prometheus provides it)")
	}
	return p
}

func promtoolCheckRules(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command(promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", path, err, out)
	}
}

// TestPrometheusRules: the rule file passes promtool; every alert has a
// severity, a summary and a for: or an expression that is its own
// confirmation; the alert on the nightly run's age is there.
func TestPrometheusRules(t *testing.T) {
	f := readRules(t)
	names := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			names[r.Alert] = true
			if s := r.Labels["severity"]; s != "page" && s != "warning" {
				t.Errorf("%s: severity %q, want page or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: a summary and a description are expected", r.Alert)
			}
		}
	}
	for _, want := range []string{"RefundreconNoRecentRun", "RefundreconDown", "RefundreconStripeKeyRefused"} {
		if !names[want] {
			t.Errorf("no alert %s", want)
		}
	}
	promtoolCheckRules(t, filepath.Join(repoRoot(t), rulesFile))
}

// TestPrometheusRuleInOverlay: the overlay renders a PrometheusRule whose
// groups are the rule file's, and that promtool accepts.
func TestPrometheusRuleInOverlay(t *testing.T) {
	m := decodeStrict(t, render(t, deployPath(t, "kubernetes", "overlays", "example")))
	if len(m.prometheusRules) != 1 {
		t.Fatalf("%d PrometheusRules rendered, want 1", len(m.prometheusRules))
	}
	pr := m.prometheusRules[0]
	if pr.Metadata.Namespace != "refundrecon" || pr.Metadata.Name == "" {
		t.Errorf("PrometheusRule %s/%s, want it in the namespace refundrecon", pr.Metadata.Namespace, pr.Metadata.Name)
	}
	if !reflect.DeepEqual(pr.Spec, readRules(t)) {
		t.Errorf("the PrometheusRule's groups differ from %s: change both", rulesFile)
	}
	b, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prometheusrule-spec.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	promtoolCheckRules(t, path)
	if !strings.Contains(string(b), "refundrecon_last_success_timestamp_seconds") {
		t.Error("the PrometheusRule lacks the nightly run's alert")
	}
}
