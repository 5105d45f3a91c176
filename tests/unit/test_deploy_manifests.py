"""deploy/: the image, the compose file and the Kubernetes manifests are valid, say what the
gateway needs, and use only settings that exist.

What runs here: the Kubernetes manifests against the API schemas (kubernetes-validate,
strict), the kustomize base rendered by ``kubectl kustomize``, the compose file parsed and
resolved by ``docker compose config`` (Compose v2; ``deploy/check-tools.sh`` installs it and
kubectl). No image is built or pulled and no container starts (deploy/README.md)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from config import Settings, load
from tests.conftest import IN_CI, need_tool

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BASE = DEPLOY / "kubernetes" / "base"
EXAMPLES = DEPLOY / "kubernetes" / "examples"
# The oldest Kubernetes the manifests promise to fit, and the newest the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
_FNGATE_VAR = re.compile(r"\bFNGATE_[A-Z0-9_]*[A-Z0-9]")
# Read by config.load besides the settings: the path of fngate.toml.
_NOT_A_FIELD = {"FNGATE_CONFIG"}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _base() -> dict[str, dict[str, Any]]:
    """The base's resources by kind, as its kustomization lists them."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return {d["kind"]: d for name in kustomization["resources"] for d in _docs(BASE / name)}


def _validate(doc: dict[str, Any]) -> None:
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def unknown_settings(names: set[str]) -> set[str]:
    """The FNGATE_* names that are no setting of config.Settings."""
    fields = {f"FNGATE_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    return names - fields - _NOT_A_FIELD


# --- Kubernetes --------------------------------------------------------------------------


def test_the_kustomization_lists_every_manifest_of_the_base_and_each_is_valid() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    for path in [*(BASE / n for n in kustomization["resources"]), *EXAMPLES.glob("*.yaml")]:
        for doc in _docs(path):
            _validate(doc)


def test_strict_validation_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(_base()["Deployment"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)


def test_the_base_renders_with_kustomize_and_the_rendering_is_valid() -> None:
    need_tool("kubectl", "kubernetes-client")
    out = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    rendered = [d for d in yaml.safe_load_all(out) if d]
    assert sorted(d["kind"] for d in rendered) == sorted(_base())
    for doc in rendered:
        _validate(doc)
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"fngate:\d+\.\d+\.\d+", image), image


def test_the_deployment_runs_replicas_with_probes_limits_and_the_sandbox_context() -> None:
    base = _base()
    spec = base["Deployment"]["spec"]
    pod = spec["template"]["spec"]
    (gateway,) = pod["containers"]
    assert spec["replicas"] >= 2
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(gateway["resources"][kind]), kind
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(gateway["ports"][0]["containerPort"])
    context = gateway["securityContext"]
    assert context["privileged"] is True and context["runAsUser"] == 0
    # A Service named fngate would otherwise inject FNGATE_PORT=tcp://... into the pod.
    assert pod["enableServiceLinks"] is False
    assert pod["automountServiceAccountToken"] is False
    # Key material and the database URL come from the Secret, never the ConfigMap.
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
                   for e in gateway["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert {"FNGATE_DATABASE_URL", "FNGATE_JWT_SECRET"} <= set(from_secret)
    assert set(from_secret.values()) == {"fngate-secrets"}
    config = base["ConfigMap"]["data"]
    assert not {"FNGATE_DATABASE_URL", "FNGATE_JWT_SECRET", "FNGATE_CALLBACK_SECRET"} & set(config)
    mounted = {m["mountPath"] for m in gateway["volumeMounts"]}
    assert {config["FNGATE_DATA_DIR"], "/tmp", "/run/fngate"} <= mounted


def test_the_service_pdb_and_hpa_point_at_the_deployments_pods() -> None:
    base = _base()
    deployment = base["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = [base["Service"]["spec"]["selector"],
                 base["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                 deployment["spec"]["selector"]["matchLabels"]]
    for selector in selectors:
        assert selector.items() <= labels.items(), selector
    port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"]
    assert base["Service"]["spec"]["ports"][0]["targetPort"] == port
    hpa = base["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["minReplicas"] >= 2 and hpa["minReplicas"] >= deployment["spec"]["replicas"]


def test_the_configmap_and_example_secret_load_as_production_settings() -> None:
    secret = _docs(EXAMPLES / "secret.yaml")[0]["stringData"]
    env = dict(_base()["ConfigMap"]["data"])
    for item in _base()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]:
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["key"] in secret:
            env[item["name"]] = secret[ref["key"]]
    settings = load(env=env, toml_path=os.devnull)
    assert settings.is_production and settings.database_url and settings.jwt_secret
    assert settings.host == "0.0.0.0"


# --- compose -----------------------------------------------------------------------------


def _compose_command() -> list[str]:
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        probe = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True,
                               timeout=30)
        if probe.returncode == 0 and probe.stdout.strip().lstrip("v").startswith("2."):
            return argv
    message = "Docker Compose v2 is not installed (sh deploy/check-tools.sh installs it)"
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/run installs it)")
    pytest.skip(message)


def _compose_config(env_file: Path | None) -> subprocess.CompletedProcess[str]:
    argv = [*_compose_command(), "--project-directory", str(DEPLOY),
            "-f", str(DEPLOY / "compose.yaml")]
    if env_file is not None:
        argv += ["--env-file", str(env_file)]
    # Only PATH and HOME: no variable of the caller's shell fills in the file.
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run([*argv, "config", "--format", "json"], capture_output=True,
                          text=True, timeout=60, env=env)


def test_docker_compose_config_parses_the_compose_file() -> None:
    result = _compose_config(DEPLOY / "env.example")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"gateway", "lb", "postgres", "rabbitmq", "redis", "prometheus",
                             "grafana"}
    gateway = services["gateway"]
    assert gateway["deploy"]["replicas"] >= 2 and gateway["privileged"] is True
    assert gateway["build"]["dockerfile"] == "deploy/Dockerfile"
    env = gateway["environment"]
    settings = load(env=env, toml_path=os.devnull)
    assert settings.is_production and settings.redis_url and settings.amqp_url
    lb_address = services["lb"]["networks"]["fngate"]["ipv4_address"]
    assert settings.trusted_proxies == (lb_address,)
    # Every file the services mount is in the repository.
    for service in services.values():
        for volume in service.get("volumes", ()):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), volume["source"]
    grafana = {v["target"] for v in services["grafana"]["volumes"]}
    assert {"/etc/grafana/provisioning/datasources", "/etc/grafana/provisioning/dashboards",
            "/var/lib/grafana/dashboards"} <= grafana
    assert any(v["target"] == "/etc/prometheus/prometheus.yml"
               for v in services["prometheus"]["volumes"])
    # Prometheus finds each gateway replica by the service's name, Grafana Prometheus by its.
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]
    (discovery,) = scrape["dns_sd_configs"]
    assert discovery["names"] == ["gateway"] and discovery["port"] == settings.port
    source = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
                            .read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    # Every image is pinned to an exact release (PostgreSQL's are MAJOR.MINOR), never a
    # moving tag such as `latest` or `16`.
    for name, service in services.items():
        tag = service["image"].rpartition(":")[2]
        assert re.match(r"v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$", tag), f"{name}: {tag}"


def test_compose_refuses_to_start_without_the_secrets() -> None:
    result = _compose_config(None)
    assert result.returncode != 0
    assert "required variable" in result.stderr and "deploy/.env" in result.stderr


# --- the image, and the variables everywhere ---------------------------------------------


def _installed_by_the_image(dockerfile: str) -> set[str]:
    """The Debian packages the last stage's ``apt-get install`` names (comments left out)."""
    code = "\n".join(line for line in dockerfile.splitlines()
                     if not line.lstrip().startswith("#"))
    runs = re.findall(r"apt-get install ([^&]*)&&", code.replace("\\\n", " "))
    return {word for word in runs[-1].split() if not word.startswith("-")}


def test_the_image_installs_every_package_the_sandbox_script_installs() -> None:
    script = (DEPLOY / "system-packages.sh").read_text()
    wanted = set(re.findall(r'missing="\$missing ([a-z0-9.+-]+)"', script))
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    installed = _installed_by_the_image(dockerfile)
    assert wanted and wanted <= installed, wanted - installed
    assert {"python3", "nodejs", "npm", "tini", "ca-certificates"} <= installed
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.M)
    assert base and re.fullmatch(r"debian:bookworm-\d{8}-slim(@sha256:[0-9a-f]{64})?",
                                 base.group(1))
    assert dockerfile.count("FROM ${BASE_IMAGE}") == 2
    assert 'CMD ["fngate", "serve"]' in dockerfile
    assert os.access(DEPLOY / "docker-entrypoint.sh", os.X_OK)


def test_every_fngate_variable_in_deploy_is_a_setting() -> None:
    used: dict[str, set[str]] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix != ".json":
            for name in _FNGATE_VAR.findall(path.read_text()):
                used.setdefault(name, set()).add(str(path.relative_to(DEPLOY)))
    assert "FNGATE_DATABASE_URL" in used and "FNGATE_JWT_SECRET" in used
    unknown = {name: sorted(used[name]) for name in unknown_settings(set(used))}
    assert unknown == {}


def test_an_unknown_variable_is_caught() -> None:
    assert unknown_settings({"FNGATE_PORT", "FNGATE_CONFIG", "FNGATE_PUBLISH"}) == {
        "FNGATE_PUBLISH"}
