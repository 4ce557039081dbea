package deploycheck

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// render runs kustomize, as `kubectl kustomize DIR` does, through the
// library kubectl embeds: the same on every machine, no kubectl needed.
func render(t *testing.T, dir string) []byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	return out
}

// documents splits a YAML stream.
func documents(stream []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(stream), -1) {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// manifests are the rendered objects, decoded into their API types.
type manifests struct {
	namespaces      []corev1.Namespace
	serviceAccounts []corev1.ServiceAccount
	configMaps      []corev1.ConfigMap
	services        []corev1.Service
	deployments     []appsv1.Deployment
	cronJobs        []batchv1.CronJob
	jobs            []batchv1.Job
	pdbs            []policyv1.PodDisruptionBudget
	prometheusRules []prometheusRule // prometheus_test.go
	count           int
}

// decodeStrict decodes every document into the k8s.io/api type of its kind
// and apiVersion, rejecting unknown and duplicate fields: a misspelt or
// misplaced field, which the API server would drop or refuse, fails here.
func decodeStrict(t *testing.T, stream []byte) manifests {
	t.Helper()
	var m manifests
	for i, doc := range documents(stream) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "v1 Namespace":
			m.namespaces = append(m.namespaces, corev1.Namespace{})
			err = yaml.UnmarshalStrict(doc, &m.namespaces[len(m.namespaces)-1])
		case "v1 ServiceAccount":
			m.serviceAccounts = append(m.serviceAccounts, corev1.ServiceAccount{})
			err = yaml.UnmarshalStrict(doc, &m.serviceAccounts[len(m.serviceAccounts)-1])
		case "v1 ConfigMap":
			m.configMaps = append(m.configMaps, corev1.ConfigMap{})
			err = yaml.UnmarshalStrict(doc, &m.configMaps[len(m.configMaps)-1])
		case "v1 Service":
			m.services = append(m.services, corev1.Service{})
			err = yaml.UnmarshalStrict(doc, &m.services[len(m.services)-1])
		case "apps/v1 Deployment":
			m.deployments = append(m.deployments, appsv1.Deployment{})
			err = yaml.UnmarshalStrict(doc, &m.deployments[len(m.deployments)-1])
		case "batch/v1 CronJob":
			m.cronJobs = append(m.cronJobs, batchv1.CronJob{})
			err = yaml.UnmarshalStrict(doc, &m.cronJobs[len(m.cronJobs)-1])
		case "batch/v1 Job":
			m.jobs = append(m.jobs, batchv1.Job{})
			err = yaml.UnmarshalStrict(doc, &m.jobs[len(m.jobs)-1])
		case "policy/v1 PodDisruptionBudget":
			m.pdbs = append(m.pdbs, policyv1.PodDisruptionBudget{})
			err = yaml.UnmarshalStrict(doc, &m.pdbs[len(m.pdbs)-1])
		case "monitoring.coreos.com/v1 PrometheusRule":
			m.prometheusRules = append(m.prometheusRules, prometheusRule{})
			err = yaml.UnmarshalStrict(doc, &m.prometheusRules[len(m.prometheusRules)-1])
		default:
			t.Fatalf("document %d (%s %s %q): no strict decoder for this kind; add one here", i, head.APIVersion, head.Kind, head.Metadata.Name)
		}
		if err != nil {
			t.Errorf("%s %q does not decode strictly: %v", head.Kind, head.Metadata.Name, err)
		}
		m.count++
	}
	return m
}

// overlayImage is the image the example overlay's images: entry names.
func overlayImage(t *testing.T) string {
	t.Helper()
	var k struct {
		Images []struct {
			Name    string `json:"name"`
			NewName string `json:"newName"`
			NewTag  string `json:"newTag"`
		} `json:"images"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, deployPath(t, "kubernetes", "overlays", "example", "kustomization.yaml"))), &k); err != nil {
		t.Fatal(err)
	}
	for _, im := range k.Images {
		if im.Name == "refundrecon" && im.NewName != "" && im.NewTag != "" {
			return im.NewName + ":" + im.NewTag
		}
	}
	t.Fatal("the example overlay has no images: entry giving refundrecon a name and a tag")
	return ""
}

// A pod that refundrecon runs in, wherever it comes from.
type podOf struct {
	what string
	spec corev1.PodSpec
	args []string // the expected container args
}

func TestKustomizeBaseRendersAndDecodesStrictly(t *testing.T) {
	m := decodeStrict(t, render(t, deployPath(t, "kubernetes", "base")))
	if len(m.deployments) != 1 || len(m.cronJobs) != 1 || len(m.jobs) != 1 {
		t.Errorf("base: %d deployments, %d cron jobs, %d jobs; want one each", len(m.deployments), len(m.cronJobs), len(m.jobs))
	}
}

func TestKustomizeOverlay(t *testing.T) {
	m := decodeStrict(t, render(t, deployPath(t, "kubernetes", "overlays", "example")))
	if t.Failed() {
		return
	}
	want := map[string]int{"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 1, "Service": 1,
		"Deployment": 1, "CronJob": 1, "Job": 1, "PodDisruptionBudget": 1}
	got := map[string]int{"Namespace": len(m.namespaces), "ServiceAccount": len(m.serviceAccounts),
		"ConfigMap": len(m.configMaps), "Service": len(m.services), "Deployment": len(m.deployments),
		"CronJob": len(m.cronJobs), "Job": len(m.jobs), "PodDisruptionBudget": len(m.pdbs)}
	for kind, n := range want {
		if got[kind] != n {
			t.Fatalf("the overlay renders %d %s, want %d (all: %v)", got[kind], kind, n, got)
		}
	}

	ns := m.namespaces[0]
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s does not enforce the restricted Pod Security Standard: %v", ns.Name, ns.Labels)
	}
	namespaced := []struct {
		what, namespace string
	}{
		{"ServiceAccount " + m.serviceAccounts[0].Name, m.serviceAccounts[0].Namespace},
		{"ConfigMap " + m.configMaps[0].Name, m.configMaps[0].Namespace},
		{"Service " + m.services[0].Name, m.services[0].Namespace},
		{"Deployment " + m.deployments[0].Name, m.deployments[0].Namespace},
		{"CronJob " + m.cronJobs[0].Name, m.cronJobs[0].Namespace},
		{"Job " + m.jobs[0].Name, m.jobs[0].Namespace},
		{"PodDisruptionBudget " + m.pdbs[0].Name, m.pdbs[0].Namespace},
	}
	for _, o := range namespaced {
		if o.namespace != ns.Name {
			t.Errorf("%s is in namespace %q, want the overlay's %q", o.what, o.namespace, ns.Name)
		}
	}

	cm := m.configMaps[0]
	variables := knownVariables(t)
	t.Run("ConfigMap", func(t *testing.T) {
		for k, v := range cm.Data {
			if !variables[k] {
				t.Errorf("ConfigMap %s sets %s, which refundrecon does not read (a typo?)", cm.Name, k)
			}
			if secretVariables[k] {
				t.Errorf("ConfigMap %s holds %s: secrets belong in the Secret", cm.Name, k)
			}
			if strings.Contains(v, "sk_live") || strings.Contains(v, "rk_live") || strings.Contains(v, "whsec_") {
				t.Errorf("ConfigMap %s: %s looks like a key", cm.Name, k)
			}
		}
		if got := cm.Data["LISTEN_ADDR"]; got != fmt.Sprintf(":%d", defaultPort) {
			t.Errorf("ConfigMap LISTEN_ADDR = %q, want :%d, the port the probes and the Service use", got, defaultPort)
		}
		if got := cm.Data["SCHEDULE"]; got != serveSchedule {
			t.Errorf("ConfigMap SCHEDULE = %q, want %q (the systemd unit's too)", got, serveSchedule)
		}
		if got := cm.Data["LOG_FORMAT"]; got != "json" {
			t.Errorf("ConfigMap LOG_FORMAT = %q, want json (kubectl exec -t would otherwise switch to text)", got)
		}
	})

	image := overlayImage(t)
	dep := m.deployments[0]
	cj := m.cronJobs[0]
	job := m.jobs[0]
	pods := []podOf{
		{"Deployment " + dep.Name, dep.Spec.Template.Spec, []string{"serve"}},
		{"CronJob " + cj.Name, cj.Spec.JobTemplate.Spec.Template.Spec, []string{"run", "--exit-code"}},
		{"Job " + job.Name, job.Spec.Template.Spec, []string{"migrate"}},
	}
	for _, p := range pods {
		t.Run("pod of "+p.what, func(t *testing.T) {
			checkPod(t, p, image, cm.Name, m.serviceAccounts[0].Name, variables)
		})
	}

	t.Run("Deployment", func(t *testing.T) {
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
			t.Errorf("replicas = %s, want 2 from the overlay", show(dep.Spec.Replicas))
		}
		if !selects(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) || len(dep.Spec.Selector.MatchLabels) == 0 {
			t.Errorf("selector %v does not select the pod template's labels %v", dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
		}
		c := dep.Spec.Template.Spec.Containers[0]
		port := namedPort(c, "http")
		if port != defaultPort {
			t.Errorf("container port http = %d, want %d", port, defaultPort)
		}
		checkProbe(t, "readiness", c.ReadinessProbe, readyzRoute, c)
		checkProbe(t, "liveness", c.LivenessProbe, healthzRoute, c)
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("no cpu and memory requests: %v", c.Resources.Requests)
		}
		if dep.Spec.Template.Annotations["prometheus.io/path"] != metricsRoute ||
			dep.Spec.Template.Annotations["prometheus.io/port"] != strconv.Itoa(defaultPort) {
			t.Errorf("scrape annotations %v do not name %s on %d", dep.Spec.Template.Annotations, metricsRoute, defaultPort)
		}
		if s := dep.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.IntValue() != 0 {
			t.Errorf("a rolling update may take a ready replica away first: %+v", dep.Spec.Strategy)
		}
	})

	t.Run("Service", func(t *testing.T) {
		svc := m.services[0]
		if len(svc.Spec.Selector) == 0 || !selects(svc.Spec.Selector, dep.Spec.Template.Labels) {
			t.Errorf("Service selector %v does not select serve's pods %v", svc.Spec.Selector, dep.Spec.Template.Labels)
		}
		for _, p := range svc.Spec.Ports {
			if resolvePort(p.TargetPort, dep.Spec.Template.Spec.Containers[0]) != defaultPort {
				t.Errorf("Service port %s targets %s, not serve's port %d", p.Name, p.TargetPort.String(), defaultPort)
			}
		}
		if svc.Spec.Selector["app.kubernetes.io/component"] == "" {
			t.Error("the Service selector must name the component: the CronJob's and Job's pods serve nothing")
		}
	})

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		pdb := m.pdbs[0]
		if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
			t.Errorf("PodDisruptionBudget selector does not select serve's pods")
		}
		if pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() >= int(*dep.Spec.Replicas) {
			t.Errorf("minAvailable %s blocks every node drain with %d replicas", pdb.Spec.MinAvailable.String(), *dep.Spec.Replicas)
		}
	})

	t.Run("CronJob", func(t *testing.T) {
		s := cj.Spec
		if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("concurrencyPolicy = %q, want Forbid", s.ConcurrencyPolicy)
		}
		if s.StartingDeadlineSeconds == nil || *s.StartingDeadlineSeconds <= 0 {
			t.Error("no startingDeadlineSeconds: after a long outage the controller may give up on the CronJob")
		}
		if s.SuccessfulJobsHistoryLimit == nil || s.FailedJobsHistoryLimit == nil || *s.FailedJobsHistoryLimit < 1 {
			t.Error("history limits must be set, keeping at least one failed Job to read")
		}
		if cronHour(s.Schedule) != externalRunHour || s.TimeZone == nil || !strings.Contains(*s.TimeZone, "UTC") {
			t.Errorf("schedule %q in time zone %s, want %02d:00 UTC", s.Schedule, show(s.TimeZone), externalRunHour)
		}
		if cronHour(s.Schedule) == cronHour(cm.Data["SCHEDULE"]) {
			t.Errorf("the CronJob (%q) and serve's SCHEDULE (%q) start in the same hour", s.Schedule, cm.Data["SCHEDULE"])
		}
		js := s.JobTemplate.Spec
		if js.BackoffLimit == nil || *js.BackoffLimit < 1 {
			t.Errorf("backoffLimit = %s: a failed run (exit 1) deserves a retry", show(js.BackoffLimit))
		}
		if js.ActiveDeadlineSeconds == nil {
			t.Error("no activeDeadlineSeconds: a hung run would block every later one (Forbid)")
		}
		if js.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("restartPolicy = %q, want Never (podFailurePolicy needs it)", js.Template.Spec.RestartPolicy)
		}
		var final []int32
		if js.PodFailurePolicy != nil {
			for _, r := range js.PodFailurePolicy.Rules {
				if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil &&
					r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn {
					if r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != js.Template.Spec.Containers[0].Name {
						t.Errorf("podFailurePolicy names container %q, which does not exist", *r.OnExitCodes.ContainerName)
					}
					final = append(final, r.OnExitCodes.Values...)
				}
			}
		}
		if !slices.Contains(final, 2) || !slices.Contains(final, 3) || slices.Contains(final, 1) {
			t.Errorf("podFailurePolicy fails the Job at once on exit codes %v; want 2 (configuration) and 3 (open discrepancies), never 1 (retried)", final)
		}
	})

	t.Run("Job", func(t *testing.T) {
		if job.Spec.TTLSecondsAfterFinished == nil {
			t.Error("the migrate Job has no ttlSecondsAfterFinished: its immutable template would block the next release's apply")
		}
		if job.Spec.BackoffLimit == nil {
			t.Error("the migrate Job has no backoffLimit")
		}
	})
}

// checkPod checks what every refundrecon pod must have.
func checkPod(t *testing.T, p podOf, image, configMap, serviceAccount string, variables map[string]bool) {
	t.Helper()
	s := p.spec
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		t.Error("the service account token is mounted; refundrecon never calls the Kubernetes API")
	}
	if s.ServiceAccountName != serviceAccount {
		t.Errorf("serviceAccountName = %q, want %q", s.ServiceAccountName, serviceAccount)
	}
	psc := s.SecurityContext
	switch {
	case psc == nil:
		t.Fatal("no pod securityContext")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("runAsNonRoot is not true")
	case psc.RunAsUser == nil || *psc.RunAsUser != imageUID:
		t.Errorf("runAsUser = %s, want the image's %d", show(psc.RunAsUser), imageUID)
	case psc.RunAsGroup == nil || *psc.RunAsGroup != imageGID:
		t.Errorf("runAsGroup = %s, want the image's %d", show(psc.RunAsGroup), imageGID)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("seccompProfile is not RuntimeDefault")
	}
	if len(s.Containers) != 1 || len(s.InitContainers) != 0 {
		t.Fatalf("%d containers and %d init containers, want the one refundrecon container", len(s.Containers), len(s.InitContainers))
	}
	c := s.Containers[0]
	if c.Image != image {
		t.Errorf("image = %q, want the overlay's %q", c.Image, image)
	}
	if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image[strings.LastIndex(c.Image, "/")+1:], ":") {
		t.Errorf("image %q has no pinned tag", c.Image)
	}
	if len(c.Command) != 0 {
		t.Errorf("command %v replaces the image's entrypoint; set args only", c.Command)
	}
	if !slices.Equal(c.Args, p.args) {
		t.Errorf("args = %v, want %v", c.Args, p.args)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want drop ALL and add none", sc.Capabilities)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("no memory limit")
	}

	// Configuration from the generated ConfigMap, secrets from the Secret,
	// nothing secret as a literal.
	var fromConfigMap, fromSecret bool
	for _, e := range c.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			fromConfigMap = fromConfigMap || e.ConfigMapRef.Name == configMap
		case e.SecretRef != nil:
			fromSecret = fromSecret || (e.SecretRef.Name == "refundrecon" && (e.SecretRef.Optional == nil || !*e.SecretRef.Optional))
		}
	}
	if !fromConfigMap {
		t.Errorf("envFrom does not name the ConfigMap %s", configMap)
	}
	if !fromSecret {
		t.Error("envFrom does not take the (required) Secret refundrecon")
	}
	for _, e := range c.Env {
		if secretVariables[e.Name] && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret", e.Name)
		}
		if !variables[e.Name] && e.Name != "GOMEMLIMIT" {
			t.Errorf("env %s: refundrecon does not read it (a typo?)", e.Name)
		}
	}

	// A read-only root file system still needs a writable /tmp (SQLite's
	// temporary files, Go's os.TempDir).
	var tmp bool
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == "/tmp" {
			for _, v := range s.Volumes {
				tmp = tmp || (v.Name == vm.Name && v.EmptyDir != nil)
			}
		}
	}
	if !tmp {
		t.Error("no emptyDir mounted at /tmp")
	}
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, path string, c corev1.Container) {
	t.Helper()
	switch {
	case p == nil:
		t.Errorf("no %s probe", name)
	case p.HTTPGet == nil:
		t.Errorf("the %s probe is not an HTTP GET", name)
	case p.HTTPGet.Path != path:
		t.Errorf("the %s probe asks %s, want the contract's %s", name, p.HTTPGet.Path, path)
	case resolvePort(p.HTTPGet.Port, c) != defaultPort:
		t.Errorf("the %s probe asks port %s, not serve's %d", name, p.HTTPGet.Port.String(), defaultPort)
	case p.TimeoutSeconds < 1 || p.PeriodSeconds < 1:
		t.Errorf("the %s probe has no timeout or period", name)
	}
}

func namedPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return -1
}

func resolvePort(p intstr.IntOrString, c corev1.Container) int32 {
	if p.Type == intstr.String {
		return namedPort(c, p.StrVal)
	}
	return p.IntVal
}

// show prints an optional field.
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// selects tells whether every label of the selector is on the object.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubectlKustomizeAgrees renders the overlay with the operator's own
// tool, where one is installed, and compares it object by object with the
// library's rendering that the other tests check.
func TestKubectlKustomizeAgrees(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed; the kustomize library rendered the overlay instead")
	}
	v, err := exec.Command(kubectl, "version", "--client").CombinedOutput()
	m := regexp.MustCompile(`Kustomize Version: v(\d+)`).FindSubmatch(v)
	if err != nil || m == nil {
		t.Skipf("kubectl version --client: %v: %s", err, bytes.TrimSpace(v))
	}
	if major, _ := strconv.Atoi(string(m[1])); major < 5 {
		t.Skipf("kubectl's kustomize is not v5 or later (%s): it cannot read this layout", bytes.TrimSpace(v))
	}
	dir := deployPath(t, "kubernetes", "overlays", "example")
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	index := func(stream []byte) map[string]map[string]any {
		objs := map[string]map[string]any{}
		for _, d := range documents(stream) {
			var o map[string]any
			if err := yaml.Unmarshal(d, &o); err != nil {
				t.Fatal(err)
			}
			md, _ := o["metadata"].(map[string]any)
			objs[fmt.Sprintf("%v/%v", o["kind"], md["name"])] = o
		}
		return objs
	}
	lib, cli := index(render(t, dir)), index(out)
	for k, o := range lib {
		c, ok := cli[k]
		if !ok {
			t.Errorf("kubectl kustomize does not render %s", k)
			continue
		}
		a, _ := yaml.Marshal(o)
		b, _ := yaml.Marshal(c)
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the kustomize library and kubectl:\n%s\n---\n%s", k, a, b)
		}
	}
	for k := range cli {
		if _, ok := lib[k]; !ok {
			t.Errorf("only kubectl kustomize renders %s", k)
		}
	}
}
