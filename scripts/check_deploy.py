#!/usr/bin/env python3
"""Offline checks of deploy/k8s, run by scripts/check-deploy.sh inside its pinned venv.

1. every overlay renders with `kubectl kustomize`;
2. every built-in object passes `kubernetes-validate --strict` (Kubernetes KUBE_VERSION schemas);
3. every custom resource (CNPG Cluster/ScheduledBackup, ServiceMonitor, PodMonitor,
   PrometheusRule) passes the openAPIV3Schema of its vendored CRD (deploy/k8s/crds), made
   strict so that an unknown field fails;
4. checkov (kubernetes framework) reports no failed check: every check it may raise is fixed or
   skipped, with the reason, in deploy/k8s/checkov.yaml;
5. the national overlay follows exactly the 34 provinces of the registry's unit list, each
   overlay's namespace and ConfigMap match its directory, the PrometheusRule holds exactly
   deploy/observability/prometheus/rules.yml, and the public Ingress routes exactly the
   services' public methods;
6. references between the objects of an overlay resolve (Service selectors and ports, Ingress
   backends, ServiceMonitors, probes, volumes, PDB/HPA targets, the backup's Cluster);
7. every Grafana dashboard query parses as PromQL (promtool).
Prints one line per step with its time; exits 1 on the first failing step.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import jsonschema
import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
CRDS = {
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_clusters.yaml",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "postgresql.cnpg.io_scheduledbackups.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com_podmonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
}


def step(name):
    """Decorator-free timing helper: returns a function printing the step's outcome."""
    start = time.monotonic()

    def done(detail):
        print(f"[check-deploy] {name}: {detail} ({time.monotonic() - start:.1f} s)", flush=True)

    return done


def fail(message):
    print(f"[check-deploy] FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def provinces_2025():
    """(code, name) of the 2025 provinces in the registry's own unit list."""
    out = []
    with open(ROOT / "services/registry/data/units.csv", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split(",")
            if fields[:2] == ["2025", "province"]:
                out.append((fields[2], fields[3]))
    return sorted(out)


def render(out_dir):
    version = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True).stdout.split()
    done = step(f"kubectl kustomize ({' '.join(version[2:3] + version[5:6])})")
    overlays = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
    rendered = {}
    for name in overlays:
        result = subprocess.run(
            ["kubectl", "kustomize", str(K8S / "overlays" / name)], capture_output=True, text=True
        )
        if result.returncode != 0:
            fail(f"overlays/{name} does not render:\n{result.stderr}")
        (out_dir / f"{name}.yaml").write_text(result.stdout, encoding="utf-8")
        rendered[name] = [d for d in yaml.load_all(result.stdout, Loader=Loader) if d]
    done(f"{len(overlays)} overlays rendered to {out_dir.relative_to(ROOT)}")
    return rendered


def builtin_validate(rendered, work, version):
    done = step(f"kubernetes-validate --strict -k {version}")
    files, count = [], 0
    for name, docs in rendered.items():
        builtin = [d for d in docs if (d["apiVersion"], d["kind"]) not in CRDS]
        count += len(builtin)
        path = work / f"builtin-{name}.yaml"
        path.write_text(yaml.safe_dump_all(builtin, sort_keys=False), encoding="utf-8")
        files.append(str(path))
    tool = Path(sys.executable).parent / "kubernetes-validate"
    # The validator itself must refuse a wrong type and an unknown field: a canary.
    canary = work / "canary.yaml"
    deployment = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: {replicas}\n"
                  "  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata: {{labels: {{a: b}}}}\n"
                  "    spec: {{containers: [{{name: x, image: x, {probe}: {{}}}}]}}\n")
    canary.write_text(deployment.format(name="wrong-type", replicas="two", probe="readinessProbe") + "---\n"
                      + deployment.format(name="unknown-field", replicas=2, probe="readinessProbeX"), encoding="utf-8")
    probe = subprocess.run([str(tool), "--strict", "--quiet", "-k", version, str(canary)], capture_output=True, text=True)
    said = probe.stdout + probe.stderr
    if probe.returncode == 0 or "'two' is not of type" not in said or "readinessProbeX" not in said:
        fail(f"kubernetes-validate --strict accepted a broken Deployment:\n{probe.stdout}{probe.stderr}")
    result = subprocess.run(
        [str(tool), "--strict", "--quiet", "-k", version, *files], capture_output=True, text=True
    )
    # --quiet prints only warnings and failures; any line at all is a finding here.
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or output:
        fail(f"kubernetes-validate (exit {result.returncode}):\n{output}")
    done(f"{count} built-in objects valid")


def strict(schema):
    """The CRD schema with additionalProperties: false wherever properties are listed and the
    schema does not keep unknown fields, so that a misspelt field fails instead of being pruned."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in schema
        ):
            schema = {**schema, "additionalProperties": False}
        schema = {
            k: (
                {p: strict(v) for p, v in schema[k].items()}
                if k == "properties"
                else strict(schema[k]) if k in ("items", "additionalProperties") else schema[k]
            )
            for k in schema
        }
    return schema


def crd_validate(rendered):
    done = step("custom resources against the vendored CRDs (strict)")
    validators = {}
    for (api_version, kind), file in CRDS.items():
        crd = yaml.load(open(K8S / "crds" / file, encoding="utf-8"), Loader=Loader)
        group, version = api_version.split("/")
        assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) == (group, kind), file
        schema = next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == version)
        validators[(api_version, kind)] = jsonschema.Draft7Validator(strict(schema))
    # The check itself must catch a misspelt field: a canary.
    canary = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "x"},
              "spec": {"instances": 1, "storage": {"sizee": "1Gi"}}}
    if not list(validators[("postgresql.cnpg.io/v1", "Cluster")].iter_errors(canary)):
        fail("the strict CRD schema accepted an unknown field (spec.storage.sizee)")
    count, problems = 0, []
    for name, docs in rendered.items():
        for doc in docs:
            key = (doc["apiVersion"], doc["kind"])
            if key not in validators:
                continue
            count += 1
            for e in validators[key].iter_errors(doc):
                where = "/".join(map(str, e.absolute_path)) or "<root>"
                problems.append(f"overlays/{name}: {doc['kind']} {doc['metadata']['name']}: {where}: {e.message}")
    if problems:
        fail("custom resources do not match their CRDs:\n  " + "\n  ".join(problems))
    done(f"{count} custom resources valid")


def checkov_start(out_dir):
    """Starts checkov, which runs beside the other checks (two cores)."""
    tool = Path(sys.executable).parent / "checkov"
    return time.monotonic(), subprocess.Popen(
        [str(tool), "-d", str(out_dir), "--framework", "kubernetes", "--config-file",
         str(K8S / "checkov.yaml"), "--quiet", "--compact", "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def checkov_finish(started):
    done = step("checkov (kubernetes, run beside the checks above)")
    start, proc = started
    stdout, stderr = proc.communicate()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        fail(f"checkov gave no JSON report (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    summary = [r.get("summary", {}) for r in reports]
    passed = sum(s.get("passed", 0) for s in summary)
    skipped = sum(s.get("skipped", 0) for s in summary)
    if failed or result.returncode != 0:
        lines = sorted({f"{c['check_id']} {c['check_name']}: {c['resource']} ({Path(c['file_path']).name})" for c in failed})
        fail(f"checkov found {len(failed)} problem(s) (exit {result.returncode}); fix them or skip them with "
             "the reason in deploy/k8s/checkov.yaml:\n  " + "\n  ".join(lines))
    with open(K8S / "checkov.yaml", encoding="utf-8") as f:
        off = yaml.load(f, Loader=Loader).get("skip-check", [])
    done(f"{passed} checks passed, 0 failed, {skipped} skipped in the manifests, {len(off)} turned off "
         f"with their reasons in deploy/k8s/checkov.yaml ({', '.join(off)}); "
         f"{time.monotonic() - start:.1f} s since checkov started")


def config_of(docs):
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("ocop-config")]
    if len(maps) != 1 or set(maps[0].get("data", {})) != {"ocop.toml"}:
        fail("expected one ConfigMap ocop-config holding ocop.toml")
    return maps[0]["data"]["ocop.toml"]


def consistency(rendered):
    done = step("national feeds, namespaces, rules, public routes")
    provinces = provinces_2025()
    codes = [c for c, _ in provinces]
    if len(codes) != 34:
        fail(f"the registry's unit list has {len(codes)} provinces of 2025, not 34")
    if sorted(rendered) != sorted(codes + ["national"]):
        fail(f"overlays {sorted(rendered)} are not the 34 provinces and national")
    for name, docs in rendered.items():
        namespace = f"ocop-{name}"
        spaces = [d for d in docs if d["kind"] == "Namespace"]
        if [d["metadata"]["name"] for d in spaces] != [namespace]:
            fail(f"overlays/{name}: namespace is not {namespace}")
        for d in docs:
            if d["kind"] != "Namespace" and d["metadata"].get("namespace") != namespace:
                fail(f"overlays/{name}: {d['kind']} {d['metadata']['name']} is not in {namespace}")
        config = tomllib.loads(config_of(docs))
        role = "national" if name == "national" else "province"
        if spaces[0]["metadata"]["labels"].get("ocop.gov.vn/role") != role or config["deployment"]["role"] != role:
            fail(f"overlays/{name}: role is not {role}")
        if role == "province" and config["deployment"]["province_code"] != name:
            fail(f"overlays/{name}: province_code is {config['deployment']['province_code']}")
    national = tomllib.loads(config_of(rendered["national"]))
    peers = national["federation"]["provinces"]
    listed = [p["province_code"] for p in peers]
    if listed != codes:
        fail(f"the national overlay follows {listed}, not the 34 provinces {codes}")
    for p in peers:
        c = p["province_code"]
        for service, port in (("registry", 50051), ("evaluation", 50052), ("certification", 50053)):
            want = f"http://{service}.ocop-{c}.svc:{port}"
            if p[f"{service}_url"] != want:
                fail(f"national: province {c}: {service}_url is {p[f'{service}_url']}, not {want}")
        if p["token_path"] != f"/etc/ocop/federation/{c}.jwt":
            fail(f"national: province {c}: token_path {p['token_path']}")
    # The PrometheusRule deployed is the rule file promtool tests.
    rules = yaml.load(open(ROOT / "deploy/observability/prometheus/rules.yml", encoding="utf-8"), Loader=Loader)
    for name, docs in rendered.items():
        rule = [d for d in docs if d["kind"] == "PrometheusRule"]
        if len(rule) != 1 or rule[0]["spec"] != rules:
            fail(f"overlays/{name}: the PrometheusRule differs from rules.yml; run `ocop deploy-overlays`")
    # The public Ingress routes exactly the methods the services serve without a token.
    public = set()
    for service in ("registry", "evaluation", "certification", "promotion"):
        text = (ROOT / f"services/{service}/src/lib.rs").read_text(encoding="utf-8")
        block = re.search(r"public_methods: &\[(.*?)\]", text, re.S)
        public |= set(re.findall(r'"(/[^"]+)"', block.group(1))) if block else set()
    for name, docs in rendered.items():
        grpc = [d for d in docs if d["kind"] == "Ingress" and d["metadata"]["name"] == "public-grpc"]
        paths = {p["path"] for r in grpc[0]["spec"]["rules"] for p in r["http"]["paths"]}
        if paths != public:
            fail(f"overlays/{name}: public-grpc routes {sorted(paths)}, the services' public methods are {sorted(public)}")
    done(f"national follows the 34 provinces' feeds ({', '.join(codes)}); {len(public)} public methods routed")


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def references(rendered):
    """What a schema cannot see and an API server would not either: the objects of an overlay
    point at each other by names and labels that exist."""
    done = step("references between objects")
    count = 0
    for name, docs in rendered.items():
        by_kind = {}
        for d in docs:
            by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        pods = {n: d["spec"]["template"] for n, d in by_kind.get("Deployment", {}).items()}
        problems = []
        for n, tpl in pods.items():
            spec = tpl["spec"]
            for v in spec.get("volumes", []):
                if "configMap" in v and v["configMap"]["name"] not in by_kind.get("ConfigMap", {}):
                    problems.append(f"Deployment {n}: ConfigMap {v['configMap']['name']} does not exist")
            for c in spec["containers"]:
                ports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    handler = c.get(probe, {})
                    for kind in ("grpc", "httpGet", "tcpSocket"):
                        if kind in handler and handler[kind]["port"] not in ports:
                            problems.append(f"Deployment {n}: {probe} port {handler[kind]['port']} is not a container port")
                mounts = {m["name"] for m in c.get("volumeMounts", [])}
                if mounts - {v["name"] for v in spec.get("volumes", [])}:
                    problems.append(f"Deployment {n}: mounts without volumes {mounts}")
            sa = spec.get("serviceAccountName")
            if sa and sa not in by_kind.get("ServiceAccount", {}):
                problems.append(f"Deployment {n}: ServiceAccount {sa} does not exist")
        for n, svc in by_kind.get("Service", {}).items():
            targets = [t for t in pods.values() if matches(svc["spec"].get("selector"), t["metadata"]["labels"])]
            if not targets:
                problems.append(f"Service {n}: its selector matches no pod template")
            for port in svc["spec"]["ports"]:
                names = {p.get("name") for t in targets for c in t["spec"]["containers"] for p in c.get("ports", [])}
                if isinstance(port.get("targetPort"), str) and port["targetPort"] not in names:
                    problems.append(f"Service {n}: targetPort {port['targetPort']} is no container port name")
        for n, ing in by_kind.get("Ingress", {}).items():
            for rule in ing["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    svc = by_kind.get("Service", {}).get(backend["name"])
                    if not svc or backend["port"].get("name") not in {p["name"] for p in svc["spec"]["ports"]}:
                        problems.append(f"Ingress {n}: backend {backend} does not exist")
        for n, sm in by_kind.get("ServiceMonitor", {}).items():
            svcs = [s for s in by_kind.get("Service", {}).values()
                    if matches(sm["spec"]["selector"]["matchLabels"], s["metadata"].get("labels", {}))]
            if len(svcs) != 1:
                problems.append(f"ServiceMonitor {n}: selects {len(svcs)} Services, not one")
            for ep in sm["spec"]["endpoints"]:
                if svcs and ep["port"] not in {p["name"] for p in svcs[0]["spec"]["ports"]}:
                    problems.append(f"ServiceMonitor {n}: port {ep['port']} is not a port of the Service")
        for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
            for n, obj in by_kind.get(kind, {}).items():
                if kind == "HorizontalPodAutoscaler":
                    ok = obj["spec"]["scaleTargetRef"]["name"] in pods
                else:
                    ok = any(matches(obj["spec"]["selector"]["matchLabels"], t["metadata"]["labels"]) for t in pods.values())
                if not ok:
                    problems.append(f"{kind} {n}: targets no Deployment")
        for n, backup in by_kind.get("ScheduledBackup", {}).items():
            if backup["spec"]["cluster"]["name"] not in by_kind.get("Cluster", {}):
                problems.append(f"ScheduledBackup {n}: no Cluster {backup['spec']['cluster']['name']}")
        if problems:
            fail(f"overlays/{name}:\n  " + "\n  ".join(problems))
        count += len(docs)
    done(f"{count} objects point at objects that exist")


def dashboards(work):
    """Every panel query of deploy/observability/grafana parses as PromQL: promtool checks them as
    recording rules (the variables replaced by sample values). tests/e2e/tests/e2e/dashboards.rs runs
    them against a real Prometheus scraping the suite."""
    done = step("dashboard queries parse (promtool check rules)")
    rules, count = [], 0
    for path in sorted((ROOT / "deploy/observability/grafana").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        names = {v["name"] for v in board["templating"]["list"]}
        for panel in board["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for var in re.findall(r"\$(\w+)", expr):
                    if var not in names | {"__rate_interval"}:
                        fail(f"{path.name} / {panel['title']}: ${var} is no variable of the dashboard")
                expr = expr.replace("$namespace", "ocop-38").replace("$source", ".*").replace("$__rate_interval", "1m")
                count += 1
                rules.append({"record": f"dashboard:query:{count}", "expr": expr})
    file = work / "dashboard-queries.rules.yml"
    file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}), encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", str(file)], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"dashboard queries do not parse:\n{result.stdout}{result.stderr}")
    done(f"{count} queries of {len(list((ROOT / 'deploy/observability/grafana').glob('*.json')))} dashboards")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "target/deploy-check"), help="where rendered manifests go")
    parser.add_argument("--kube-version", default=os.environ.get("KUBE_VERSION", "1.32.0"))
    args = parser.parse_args()
    out = Path(args.out)
    rendered_dir, work = out / "rendered", out / "work"
    for d in (rendered_dir, work):
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.yaml"):
            old.unlink()
    rendered = render(rendered_dir)
    started = checkov_start(rendered_dir)
    try:
        builtin_validate(rendered, work, args.kube_version)
        crd_validate(rendered)
        consistency(rendered)
        references(rendered)
        dashboards(work)
    except SystemExit:
        started[1].kill()
        raise
    checkov_finish(started)


if __name__ == "__main__":
    main()
