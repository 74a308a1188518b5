package helm

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	chartDir = "../../deploy/helm/prescale"
	// release and namespace as deploy/ names them: the chart then renders
	// the same names.
	releaseName = "prescale"
	namespace   = "prescale-system"
)

// render renders the chart with vals (YAML) as `helm template` does.
func render(t *testing.T, vals string) string {
	t.Helper()
	manifest, err := renderErr(t, vals)
	if err != nil {
		t.Fatalf("render with values %s: %v", vals, err)
	}
	return manifest
}

// renderErr is render, returning the install's error.
func renderErr(t *testing.T, vals string) (string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal([]byte(vals), &values); err != nil {
		t.Fatal(err)
	}
	cfg := action.NewConfiguration()
	cfg.Releases = storage.Init(driver.NewMemory())
	cfg.SetLogger(slog.New(slog.DiscardHandler).Handler())
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName, install.Namespace = releaseName, namespace
	install.Replace = true
	install.KubeVersion = &common.KubeVersion{Version: "v1.35.0", Major: "1", Minor: "35"}
	rel, err := install.Run(ch, values)
	if err != nil {
		return "", err
	}
	r, ok := rel.(*release.Release)
	if !ok {
		t.Fatalf("release is a %T", rel)
	}
	return r.Manifest, nil
}

// objects splits rendered YAML into objects by kind/namespace/name.
func objects(t *testing.T, manifest string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, doc := range strings.Split(manifest, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if m == nil {
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		key := fmt.Sprintf("%s %v/%v", m["kind"], md["namespace"], md["name"])
		if _, dup := out[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		out[key] = m
	}
	return out
}

// kustomize builds a kustomization of deploy/ as `kustomize build` does.
func kustomize(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("../../deploy", dir))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return objects(t, string(raw))
}

// helmOnly are the labels the chart adds to deploy/'s, for Helm.
var helmOnly = []string{"app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/version", "helm.sh/chart"}

// normalize drops what the chart adds for Helm (its labels, the pod's
// checksum annotation) and what kustomize adds (part-of, on every object),
// and reads the targets file of a ConfigMap, so that objects compare by
// what they do.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "labels" || k == "matchLabels" || k == "selector" {
				if m, ok := e.(map[string]any); ok {
					m = maps.Clone(m)
					for _, l := range append(helmOnly, "app.kubernetes.io/part-of") {
						delete(m, l)
					}
					if len(m) == 0 {
						continue
					}
					e = m
				}
			}
			if k == "annotations" {
				if m, ok := e.(map[string]any); ok {
					m = maps.Clone(m)
					delete(m, "checksum/args")
					delete(m, "helm.sh/resource-policy")
					if len(m) == 0 {
						continue
					}
					e = m
				}
			}
			if k == "targets.yaml" {
				if s, ok := e.(string); ok {
					var parsed any
					if err := yaml.Unmarshal([]byte(s), &parsed); err == nil {
						e = parsed
					}
				}
			}
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// sameObjects reports every difference between the chart's objects and
// deploy/'s, ignoring the kinds in skip.
func sameObjects(t *testing.T, chart, deploy map[string]map[string]any, skip ...string) {
	t.Helper()
	kind := func(key string) string { return strings.SplitN(key, " ", 2)[0] }
	for _, key := range slices.Sorted(maps.Keys(deploy)) {
		if slices.Contains(skip, kind(key)) {
			continue
		}
		got, ok := chart[key]
		if !ok {
			t.Errorf("%s: in deploy/, not rendered by the chart", key)
			continue
		}
		if a, b := normalize(got), normalize(deploy[key]); !reflect.DeepEqual(a, b) {
			ga, _ := yaml.Marshal(a)
			gb, _ := yaml.Marshal(b)
			t.Errorf("%s differs:\nchart:\n%s\ndeploy/:\n%s", key, ga, gb)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(chart)) {
		if _, ok := deploy[key]; !ok && !slices.Contains(skip, kind(key)) {
			t.Errorf("%s: rendered by the chart, not in deploy/", key)
		}
	}
}

// baseTargets are the values that give deploy/base's ConfigMap.
func baseTargets(t *testing.T) string {
	t.Helper()
	base := kustomize(t, "base")
	cm := base["ConfigMap "+namespace+"/prescale-targets"]
	data := cm["data"].(map[string]any)["targets.yaml"].(string)
	var v map[string]any
	if err := yaml.Unmarshal([]byte(data), &v); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{"targets": v["targets"]})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestLint(t *testing.T) {
	for name, vals := range scenarios {
		t.Run(name, func(t *testing.T) {
			var values map[string]any
			if err := yaml.Unmarshal([]byte(vals), &values); err != nil {
				t.Fatal(err)
			}
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = namespace
			res := lint.Run([]string{chartDir}, values)
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 {
				t.Errorf("helm lint --strict: %v", res.Errors)
			}
		})
	}
}

// scenarios are the values the tests render: the defaults, KEDA mode,
// cert-manager, monitoring, and the options off by default.
var scenarios = map[string]string{
	"default":      "",
	"keda":         "externalMetrics: {enabled: false}",
	"cert-manager": "certManager: {enabled: true}",
	"monitoring":   "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}",
	"options": `replicaCount: 1
cluster: {enabled: false}
podDisruptionBudget: {enabled: false}
topologySpread: false
persistence: {enabled: true, size: 5Gi, storageClassName: fast}
controller: {namespace: shop, statusInterval: 30s}
extraArgs: ["--workers=4"]
image: {tag: "0.1.1"}
networkPolicy: {enabled: false}
targets:
  - {name: web, query: "sum(rate(http_requests_total[1m]))", capacityPerReplica: 100, leadTime: 3m}`,
}

func TestGolden(t *testing.T) {
	for name, vals := range scenarios {
		t.Run(name, func(t *testing.T) {
			got := render(t, vals)
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("the chart renders differently from %s (go test -update rewrites it after a deliberate change):\n%s", path, diffLines(string(want), got))
			}
		})
	}
}

// diffLines shows the first lines that differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b bytes.Buffer
	for i := 0; i < max(len(w), len(g)) && b.Len() < 2000; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, a, c)
		}
	}
	return b.String()
}

// TestRendersDeployBase: with deploy/base's targets, the chart renders
// deploy/base's objects (but the Namespace, which Helm's --namespace
// makes).
func TestRendersDeployBase(t *testing.T) {
	sameObjects(t, objects(t, render(t, baseTargets(t))), kustomize(t, "base"), "Namespace")
}

// TestRendersKEDAOverlay: KEDA mode is deploy/overlays/keda.
func TestRendersKEDAOverlay(t *testing.T) {
	vals := baseTargets(t) + "externalMetrics: {enabled: false}\n"
	sameObjects(t, objects(t, render(t, vals)), kustomize(t, "overlays/keda"), "Namespace")
}

// TestRendersCertManagerOverlay: certManager is deploy/overlays/cert-manager.
func TestRendersCertManagerOverlay(t *testing.T) {
	vals := baseTargets(t) + "certManager: {enabled: true}\n"
	sameObjects(t, objects(t, render(t, vals)), kustomize(t, "overlays/cert-manager"), "Namespace")
}

// TestRendersMonitoring: the ServiceMonitor and PrometheusRule are
// deploy/monitoring's.
func TestRendersMonitoring(t *testing.T) {
	got := objects(t, render(t, "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}"))
	want := kustomize(t, "monitoring")
	only := map[string]map[string]any{}
	for key, o := range got {
		if k := o["kind"]; k == "ServiceMonitor" || k == "PrometheusRule" {
			only[key] = o
		}
	}
	sameObjects(t, only, want)
}

// TestCopiesAreCurrent: the chart's CRD and alerts are deploy/'s (Helm
// cannot read files outside the chart).
func TestCopiesAreCurrent(t *testing.T) {
	for copy, orig := range map[string]string{
		"files/crd.yaml":    "../../deploy/base/crd.yaml",
		"files/alerts.yaml": "../../deploy/monitoring/alerts.yaml",
	} {
		a, err1 := os.ReadFile(filepath.Join(chartDir, copy))
		b, err2 := os.ReadFile(orig)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("deploy/helm/prescale/%s is not %s: run make chart", copy, strings.TrimPrefix(orig, "../../"))
		}
	}
}

// TestOptions: the options that are not the defaults render what they
// say: one replica keeping its snapshots on a volume.
func TestOptions(t *testing.T) {
	got := objects(t, render(t, scenarios["options"]))
	dep := got["Deployment "+namespace+"/prescale"]
	spec := dep["spec"].(map[string]any)
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	args := fmt.Sprint(c["args"])
	for _, want := range []string{"--controller.namespace=shop", "--controller.status-interval=30s", "--workers=4"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %s lack %s", args, want)
		}
	}
	if c["image"] != "ghcr.io/prescale/prescale:0.1.1" || spec["replicas"] != float64(1) {
		t.Errorf("image %v, replicas %v", c["image"], spec["replicas"])
	}
	if strings.Contains(args, "--cluster") || fmt.Sprint(c["env"]) != fmt.Sprint([]any{c["env"].([]any)[0]}) {
		t.Errorf("one replica without cluster.enabled: args %s, env %v", args, c["env"])
	}
	if _, ok := pod["topologySpreadConstraints"]; ok {
		t.Error("topologySpreadConstraints with topologySpread false")
	}
	for _, kind := range []string{"PodDisruptionBudget " + namespace + "/prescale", "Role " + namespace + "/prescale:cluster", "RoleBinding " + namespace + "/prescale:cluster"} {
		if _, ok := got[kind]; ok {
			t.Errorf("%s rendered for one replica without cluster.enabled", kind)
		}
	}
	if pvc, ok := got["PersistentVolumeClaim "+namespace+"/prescale-data"]; !ok || fmt.Sprint(pvc["spec"]) == "" {
		t.Error("no PersistentVolumeClaim")
	}
	if _, ok := got["NetworkPolicy "+namespace+"/prescale"]; ok {
		t.Error("a NetworkPolicy with networkPolicy.enabled false")
	}
	cm := got["ConfigMap "+namespace+"/prescale-targets"]["data"].(map[string]any)["targets.yaml"].(string)
	if !strings.Contains(cm, "name: web") {
		t.Errorf("targets.yaml:\n%s", cm)
	}
}

// TestRefusesReplicasThatCannotWork: several replicas without --cluster
// would each write every PredictiveAutoscaler, and several replicas
// cannot share one ReadWriteOnce volume; both fail the install, saying
// what to change.
func TestRefusesReplicasThatCannotWork(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"replicas without cluster", "cluster: {enabled: false}", "replicaCount above 1 needs cluster.enabled"},
		{"replicas with persistence", "persistence: {enabled: true}", "persistence.enabled holds one replica's snapshots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := renderErr(t, tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
