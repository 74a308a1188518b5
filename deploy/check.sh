#!/usr/bin/env bash
# Checks deploy/ without a cluster: every YAML file parses, the Grafana dashboard is valid
# JSON, kustomize renders the base and the overlays, and the rendered objects agree with
# each other (the Service selects the pods and names their ports, the APIService and the
# RBAC name objects that exist, the examples name targets of the ConfigMap, ...).
# Needs python3 with PyYAML (Debian's python3-yaml, installed when missing) and Go (for a
# pinned kustomize from the Go module proxy). Usage: bash deploy/check.sh
set -euo pipefail
cd "$(dirname "$0")"

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "check.sh: installing Debian package python3-yaml"
  source ../.ci/apt.sh
  apt_install python3-yaml
fi

# v5.8.3 and later need Go 1.27.
KUSTOMIZE="sigs.k8s.io/kustomize/kustomize/v5@v5.8.2"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for k in base overlays/keda overlays/cert-manager monitoring; do
  (cd .. && go run "$KUSTOMIZE" build "deploy/$k") >"$out/${k//\//-}.yaml"
  echo "check.sh: kustomize build deploy/$k: $(grep -c '^kind:' "$out/${k//\//-}.yaml") objects"
done

python3 - "$out" <<'EOF'
import glob, json, os, re, sys
import yaml

out = sys.argv[1]
errors = []
def check(ok, msg):
    if not ok:
        errors.append(msg)

def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

# Every YAML file parses.
# (The Helm chart's templates are not YAML until rendered: test/helm renders and checks them.)
files = sorted(f for f in glob.glob("**/*.yaml", recursive=True) if "/templates/" not in f)
for path in files:
    try:
        load(path)
    except yaml.YAMLError as e:
        errors.append(f"{path}: {e}")

# The dashboard.
with open("examples/grafana-dashboard.json") as f:
    dash = json.load(f)
ids = [p["id"] for p in dash["panels"]]
check(len(ids) == len(set(ids)), "grafana-dashboard.json: panel ids are not unique")
variables = {v["name"] for v in dash["templating"]["list"]} | {"__rate_interval"}
for p in dash["panels"]:
    for t in p.get("targets", []):
        check(t.get("expr") and t.get("refId"), f"grafana-dashboard.json: panel {p['title']!r} has a target without expr or refId")
        for v in re.findall(r"\$\{?(\w+)", t.get("expr", "")):
            check(v in variables, f"grafana-dashboard.json: panel {p['title']!r} uses the undefined variable ${v}")
# Every prescale metric the dashboard reads is one prescale exports (its
# name appears in the Go source that registers it).
exported = set()
for path in glob.glob("../api/*.go") + glob.glob("../controller/*.go") + glob.glob("../cmd/prescale/*.go") + glob.glob("../models/registry/*.go"):
    if not path.endswith("_test.go"):
        exported |= set(re.findall(r'"(prescale_[a-z_]+)"', open(path).read()))
used = set(re.findall(r"prescale_[a-z_]+", json.dumps(dash)))
for name in sorted(used - exported):
    check(False, f"grafana-dashboard.json reads {name}, which prescale does not export")

def roles_by_name(objs):
    return {r["metadata"]["name"]: r for r in objs["ClusterRole"]}

def by_kind(docs):
    objs = {}
    for d in docs:
        objs.setdefault(d["kind"], []).append(d)
    return objs

base = by_kind(load(f"{out}/base.yaml"))
want = {"Namespace": 1, "ServiceAccount": 1, "ClusterRole": 6, "ClusterRoleBinding": 3, "Role": 1, "RoleBinding": 2,
        "ConfigMap": 1, "Service": 1, "Deployment": 1, "APIService": 1, "NetworkPolicy": 1,
        "CustomResourceDefinition": 1, "PodDisruptionBudget": 1}
check({k: len(v) for k, v in base.items()} == want, f"base: objects {sorted(base)} are not {sorted(want)}")

dep, svc, cm, sa = base["Deployment"][0], base["Service"][0], base["ConfigMap"][0], base["ServiceAccount"][0]
ns = dep["metadata"]["namespace"]
pod = dep["spec"]["template"]
c = pod["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}

# Namespaces.
check(base["Namespace"][0]["metadata"]["name"] == ns, "base: the Deployment is not in the Namespace of the base")
for kind in ("ServiceAccount", "ConfigMap", "Service"):
    check(base[kind][0]["metadata"]["namespace"] == ns, f"base: the {kind} is not in {ns}")
rolebindings = {b["metadata"]["name"]: b for b in base["RoleBinding"]}
check(rolebindings["prescale:extension-apiserver-authentication-reader"]["metadata"]["namespace"] == "kube-system",
      "base: the authentication reader's RoleBinding must be in kube-system")
check(rolebindings["prescale:cluster"]["metadata"]["namespace"] == ns, f"base: the cluster's RoleBinding is not in {ns}")

# Deployment <-> Service.
sel = dep["spec"]["selector"]["matchLabels"]
check(all(pod["metadata"]["labels"].get(k) == v for k, v in sel.items()), "base: the Deployment's selector does not match its pods")
check(all(pod["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items()), "base: the Service does not select the pods")
for p in svc["spec"]["ports"]:
    check(p["targetPort"] in ports, f"base: Service port {p['name']} targets {p['targetPort']!r}, not a container port")
for probe in ("livenessProbe", "readinessProbe"):
    check(c[probe]["httpGet"]["port"] == "http", f"base: the {probe} is not on the http port")
check(c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz",
      "base: probes are not /healthz (liveness) and /readyz (readiness)")

# Flags: the ports they open are the container's.
args = c["args"]
def flag(name):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None
check(args[0] == "serve", "base: args do not start with serve")
check("--external-metrics" in args, "base: --external-metrics is not set")
check("--controller" in args, "base: --controller is not set")

# Several replicas: --cluster names each by its pod, in its namespace, with the Leases it
# needs, spread over nodes, two kept through drains.
check("--cluster" in args and dep["spec"]["replicas"] >= 2, "base: not several replicas with --cluster")
env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c.get("env", [])}
check(env.get("POD_NAME") == "metadata.name" and env.get("POD_NAMESPACE") == "metadata.namespace",
      "base: POD_NAME and POD_NAMESPACE do not come from the pod's metadata")
lease_rules = {(g, r): set(rule["verbs"]) for rule in base["Role"][0]["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
check({"get", "list", "watch", "create", "update", "delete"} <= lease_rules.get(("coordination.k8s.io", "leases"), set()),
      "base: the cluster's Role does not cover its Leases")
check(base["Role"][0]["metadata"]["namespace"] == ns, f"base: the cluster's Role is not in {ns}")
pdb = base["PodDisruptionBudget"][0]
check(pdb["spec"]["selector"]["matchLabels"] == sel and pdb["spec"].get("maxUnavailable") == 1,
      "base: the PodDisruptionBudget does not keep all but one replica of the Deployment's pods")
spread = pod["spec"].get("topologySpreadConstraints", [])
check(any(t["topologyKey"] == "kubernetes.io/hostname" and t["labelSelector"]["matchLabels"] == sel for t in spread),
      "base: the replicas are not spread over nodes")

# The controller's role covers what it touches, and the CRD is the one it watches.
crd = base["CustomResourceDefinition"][0]
check(crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}", "base: the CRD's name is not plural.group")
ctl = {(g, r): set(rule["verbs"]) for rule in roles_by_name(base)["prescale:controller"]["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
plural, group = crd["spec"]["names"]["plural"], crd["spec"]["group"]
check({"get", "list", "watch"} <= ctl.get((group, plural), set()), "base: the controller cannot watch the CRD's resources")
check("update" in ctl.get((group, plural + "/status"), set()), "base: the controller cannot write their status")
check({"list", "watch", "create", "update"} <= ctl.get(("autoscaling", "horizontalpodautoscalers"), set()), "base: the controller cannot own HPAs")
check("delete" not in ctl.get(("autoscaling", "horizontalpodautoscalers"), set()), "base: the controller needs no HPA delete (the owner reference does it)")
check("create" in ctl.get(("", "events"), set()), "base: the controller cannot record Events")
for name, agg in (("prescale:predictiveautoscalers-edit", "aggregate-to-edit"), ("prescale:predictiveautoscalers-view", "aggregate-to-view")):
    role = roles_by_name(base)[name]
    check(role["metadata"]["labels"].get("rbac.authorization.k8s.io/" + agg) == "true", f"base: {name} is not aggregated ({agg})")
    check(any(plural in r["resources"] and group in r["apiGroups"] for r in role["rules"]), f"base: {name} does not name {plural}.{group}")
check(str(ports.get("https")) == flag("--secure-port"), "base: --secure-port is not the https container port")
check(ports.get("http") == 8080 and ports.get("grpc") == 9000, "base: http and grpc are not 8080 and 9000 (the serve defaults)")

# Security.
psc, csc = pod["spec"]["securityContext"], c["securityContext"]
check(psc.get("runAsNonRoot") is True and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
      "base: the pod is not runAsNonRoot with seccomp RuntimeDefault")
check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
      and csc.get("capabilities", {}).get("drop") == ["ALL"], "base: the container is not read-only, no-escalation, drop ALL")

# Volumes: config, data dir and cert dir are mounted; the ConfigMap exists and parses.
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
def mounted(path):
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)
for f in ("--config", "--data-dir", "--cert-dir"):
    check(flag(f) and mounted(flag(f)), f"base: {f} {flag(f)} is not on a mounted volume")
cfg_mount = max((m for m in mounts if flag("--config").startswith(m.rstrip("/") + "/")), key=len)
cfg_vol = volumes[mounts[cfg_mount]]
check(cfg_vol.get("configMap", {}).get("name") == cm["metadata"]["name"], "base: --config is not on the ConfigMap's volume")
key = os.path.relpath(flag("--config"), cfg_mount)
check(key in cm["data"], f"base: the ConfigMap has no key {key}")
targets = {t["name"]: t for t in yaml.safe_load(cm["data"].get(key, "targets: []"))["targets"]}
check(targets, "base: the ConfigMap declares no target")

# RBAC and APIService name what exists.
roles = {r["metadata"]["name"]: r for r in base["ClusterRole"] + base["Role"]}
for b in base["ClusterRoleBinding"] + base["RoleBinding"]:
    for s in b["subjects"]:
        if s["name"] == "horizontal-pod-autoscaler":
            check(s["namespace"] == "kube-system", "base: the HPA controller's ServiceAccount is in kube-system")
        else:
            check((s["name"], s["namespace"]) == (sa["metadata"]["name"], ns), f"base: {b['metadata']['name']} binds an unknown subject {s}")
    if b["roleRef"]["name"].startswith("prescale:"):
        check(b["roleRef"]["name"] in roles, f"base: {b['metadata']['name']} refers to a missing role")
check(dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"], "base: the pods do not run as the ServiceAccount")
api = base["APIService"][0]
ref = api["spec"]["service"]
check((ref["name"], ref["namespace"]) == (svc["metadata"]["name"], ns), "base: the APIService does not name the Service")
check(ref.get("port", 443) in [p["port"] for p in svc["spec"]["ports"] if p["targetPort"] == "https"],
      "base: the APIService's port is not the Service's https port")
check(api["metadata"]["name"] == f"{api['spec']['version']}.{api['spec']['group']}", "base: the APIService's name is not version.group")
metrics = set(roles["prescale:external-metrics-reader"]["rules"][0]["resources"])
check(metrics == {"prescale_recommended_replicas", "prescale_forecast_load"}, "base: the reader role does not name prescale's two metrics")

# The keda overlay leaves the APIService and its RBAC out and turns the API off.
keda = by_kind(load(f"{out}/overlays-keda.yaml"))
check(not {"APIService", "CustomResourceDefinition"} & set(keda)
      and all(b["metadata"]["namespace"] != "kube-system" for b in keda.get("RoleBinding", [])),
      "overlays/keda: still has the external metrics objects or the CRD")
check({r["metadata"]["name"] for r in keda["ClusterRole"]} == {"prescale:targets-editor", "prescale:targets-viewer"},
      "overlays/keda: the ClusterRoles are not exactly the targets' editor and viewer")
check([b["roleRef"]["name"] for b in keda["ClusterRoleBinding"]] == ["system:auth-delegator"],
      "overlays/keda: the only ClusterRoleBinding must be system:auth-delegator (REST and gRPC check identities)")

# The NetworkPolicy selects the pods and names their ports.
np = base["NetworkPolicy"][0]
check(all(pod["metadata"]["labels"].get(k) == v for k, v in np["spec"]["podSelector"]["matchLabels"].items()), "base: the NetworkPolicy does not select the pods")
for rule in np["spec"]["ingress"]:
    for p in rule["ports"]:
        check(p["port"] in ports, f"base: the NetworkPolicy names port {p['port']!r}, not a container port")
check(any(r["ports"] == [{"port": "https"}] and "from" not in r for r in np["spec"]["ingress"]),
      "base: the NetworkPolicy must let kube-apiserver reach the https port from anywhere")
def without_external_metrics(args):
    out, skip = [], 0
    for a in args:
        if skip:
            skip -= 1
        elif a in ("--external-metrics", "--controller"):
            pass
        elif a in ("--secure-port", "--cert-dir"):
            skip = 1
        elif not a.startswith(("--secure-port=", "--cert-dir=")):
            out.append(a)
    return out
check(keda["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"] == without_external_metrics(args),
      "overlays/keda: the arguments are not the base's without --external-metrics, --secure-port and --cert-dir")

# The cert-manager overlay: a certificate for the Service's name, mounted, injected into the APIService.
cmo = by_kind(load(f"{out}/overlays-cert-manager.yaml"))
cert, capi = cmo["Certificate"][0], cmo["APIService"][0]
cdep = cmo["Deployment"][0]["spec"]["template"]["spec"]
check(f"{svc['metadata']['name']}.{ns}.svc" in cert["spec"]["dnsNames"], "overlays/cert-manager: the certificate is not for <service>.<namespace>.svc")
check("insecureSkipTLSVerify" not in capi["spec"], "overlays/cert-manager: the APIService still skips verification")
check(capi["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from") == f"{ns}/{cert['metadata']['name']}",
      "overlays/cert-manager: the APIService's inject-ca-from does not name the Certificate")
check(any(v.get("secret", {}).get("secretName") == cert["spec"]["secretName"] for v in cdep["volumes"]),
      "overlays/cert-manager: the certificate's Secret is not mounted")

# The examples select targets of the ConfigMap (in their namespace), or define their own.
for path in ("examples/hpa.yaml", "examples/hpa-forecast-load.yaml"):
    for hpa in load(path):
        for m in hpa["spec"]["metrics"]:
            if m["type"] != "External":
                continue
            check(m["external"]["metric"]["name"] in metrics, f"{path}: metric {m['external']['metric']['name']} is not prescale's")
            name = m["external"]["metric"]["selector"]["matchLabels"].get("target")
            t = targets.get(name)
            check(t is not None, f"{path}: target {name!r} is not in the ConfigMap")
            if t and t.get("namespace"):
                check(t["namespace"] == hpa["metadata"]["namespace"], f"{path}: target {name} is served only in {t['namespace']}")
            if t and m["external"]["metric"]["name"] == "prescale_forecast_load":
                check(float(m["external"]["target"]["averageValue"]) == float(t["capacityPerReplica"]),
                      f"{path}: averageValue is not the target's capacityPerReplica")
# Every HPA prescale ships follows each of its steps: scale-up tolerance 0.
def behavior_ok(b, where):
    check(str(b.get("scaleUp", {}).get("tolerance")) == "0", f"{where}: behavior.scaleUp.tolerance is not \"0\"")
for path in ("examples/hpa.yaml", "examples/hpa-forecast-load.yaml"):
    for h in load(path):
        behavior_ok(h["spec"].get("behavior", {}), path)
kedaDocs = load("examples/keda-scaledobject.yaml")
for so in (d for d in kedaDocs if d["kind"] == "ScaledObject"):
    behavior_ok(so["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {}),
                f"keda-scaledobject.yaml: {so['metadata']['name']}")
auths = {d["metadata"]["name"] for d in kedaDocs if d["kind"] == "TriggerAuthentication"}
for so in (d for d in kedaDocs if d["kind"] == "ScaledObject"):
    for tr in so["spec"]["triggers"]:
        if "authenticationRef" in tr:
            check(tr["authenticationRef"]["name"] in auths, f"keda-scaledobject.yaml: {so['metadata']['name']}: no TriggerAuthentication {tr['authenticationRef']['name']}")
        md = tr["metadata"]
        check(md["scalerAddress"] == f"{svc['metadata']['name']}.{ns}.svc:{ports['grpc']}", f"keda-scaledobject.yaml: scalerAddress {md['scalerAddress']}")
        check(all(isinstance(v, str) for v in md.values()), f"keda-scaledobject.yaml: {so['metadata']['name']}: metadata values must be strings")
        if "target" in md:
            check(md["target"] in targets, f"keda-scaledobject.yaml: target {md['target']!r} is not in the ConfigMap")
        else:
            check({"query", "capacityPerReplica", "leadTime"} <= set(md), f"keda-scaledobject.yaml: {so['metadata']['name']} defines no target")

# The scrape job keeps the Service's http port.
scrape = load("examples/prometheus-scrape.yaml")[0]["scrape_configs"][0]
keep = [r for r in scrape["relabel_configs"] if r.get("action") == "keep"][0]
check(keep["regex"] == f"{svc['metadata']['name']};http" and "http" in ports, "prometheus-scrape.yaml: the keep rule is not the Service's http port")

# The monitoring objects: the PrometheusRule holds alerts.yaml's groups, the ServiceMonitor
# selects the Service and scrapes its http port, so that the job label is the Service's name,
# which the alerts and the dashboard expect.
rules = load("monitoring/alerts.yaml")[0]
prom_rule = load("monitoring/prometheusrule.yaml")[0]
check(prom_rule["spec"]["groups"] == rules["groups"], "monitoring/prometheusrule.yaml: its groups differ from alerts.yaml's")
check(prom_rule["metadata"]["namespace"] == svc["metadata"]["namespace"], "monitoring/prometheusrule.yaml: not in prescale's namespace")
sm = load("monitoring/servicemonitor.yaml")[0]
check(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"].get("labels", {}).items(), "monitoring/servicemonitor.yaml: its selector does not match the Service's labels")
check([e["port"] for e in sm["spec"]["endpoints"]] == ["http"] and "http" in ports, "monitoring/servicemonitor.yaml: it does not scrape the Service's http port")
check(scrape["job_name"] == svc["metadata"]["name"], "prometheus-scrape.yaml: the job is not named as the Service, the job label the ServiceMonitor gives")
for group in rules["groups"]:
    for r in group["rules"]:
        check('job="prescale"' in r["expr"] or r["alert"] == "PrescaleExternalMetricsUnavailable", f"monitoring/alerts.yaml: {r['alert']} does not select job=\"prescale\"")

for e in errors:
    print("check.sh:", e, file=sys.stderr)
if errors:
    sys.exit(1)
print(f"check.sh: {len(files)} YAML files and the dashboard parse; base, overlays, monitoring and examples agree")
EOF

# The alerts: promtool (Debian's prometheus package; make test installs it first) checks the
# rules and runs their unit tests.
if ! command -v promtool >/dev/null; then
  echo "check.sh: promtool is missing: run bash .ci/prometheus.sh (make prometheus) first" >&2
  exit 1
fi
(cd monitoring && promtool check rules alerts.yaml && promtool test rules alerts_test.yaml)
