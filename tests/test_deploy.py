"""Kubernetes manifests in deploy/: valid against the Kubernetes JSON schemas (offline, strict), and consistent
with the image and the app (ports, probe paths, settings, selectors, drain timing)."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from servers import REPO_ROOT

import app.settings
from app.settings import Settings, cgroup_cpu_limit

DEPLOY = REPO_ROOT / "deploy"
MODELS_CLAIM = DEPLOY / "models" / "claim.yaml"  # applied on its own, with the lines marked "models:"
K8S_VERSION = "1.30.0"  # oldest Kubernetes these manifests promise to work on


def manifests() -> dict[str, dict[str, Any]]:
    """kind -> resource, from every YAML document in deploy/."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found[document["kind"]] = document
    return found


def container() -> dict[str, Any]:
    return dict(manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0])


def env_of(spec: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in spec["env"]}


def cpus(quantity: str) -> float:
    """A Kubernetes CPU quantity ("1", "1.5", "500m") in CPUs."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity ("640Mi", "1Gi") in MiB."""
    for unit, size in (("Mi", 1), ("Gi", 1024)):
        if quantity.endswith(unit):
            return int(quantity.removesuffix(unit)) * size
    raise ValueError(f"not a quantity in Mi or Gi: {quantity}")


@pytest.mark.parametrize("kind", ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"])
def test_manifest_is_valid_against_the_kubernetes_schema(kind: str) -> None:
    kubernetes_validate.validate(manifests()[kind], K8S_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    broken = copy.deepcopy(manifests()["Deployment"])
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_probes_use_readyz_and_healthz_on_the_served_port() -> None:
    spec = container()
    (port,) = spec["ports"]
    assert port["containerPort"] == Settings().port
    assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}


def test_container_runs_the_images_command_as_non_root_with_limits() -> None:
    spec = container()
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    assert "command" not in spec and "args" not in spec  # the image's CMD: python -m app.http.serve
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(spec["resources"]) == {"requests", "limits"}
    assert set(spec["resources"]["requests"]) == set(spec["resources"]["limits"]) == {"cpu", "memory"}


def test_every_namegen_variable_is_a_real_setting_with_a_valid_value() -> None:
    env = env_of(container())
    fields = {f"NAMEGEN_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields
    settings = Settings(**{name.removeprefix("NAMEGEN_").lower(): value for name, value in env.items()})
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    # Kubernetes sends SIGKILL after the grace period; the drain plus the in-flight wait must fit inside it.
    assert settings.drain_seconds + settings.graceful_timeout_seconds < pod["terminationGracePeriodSeconds"]


def test_service_hpa_and_budget_point_at_the_deployment() -> None:
    found = manifests()
    deployment = found["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert found["Service"]["spec"]["selector"].items() <= pod_labels.items()
    assert found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    target_port = found["Service"]["spec"]["ports"][0]["targetPort"]
    assert target_port in {port["name"] for port in container()["ports"]}
    target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_deploy_holds_only_kubernetes_manifests() -> None:
    assert {path.suffix for path in DEPLOY.rglob("*") if path.is_file()} == {".yaml"}


def test_the_commented_model_directory_is_a_valid_deployment_serving_that_directory() -> None:
    """The lines marked "models:" in deployment.yaml, uncommented, mount a volume of models and serve it."""
    text = (DEPLOY / "deployment.yaml").read_text()
    assert "# models: " in text
    deployment = yaml.safe_load(text.replace("# models: ", ""))
    kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    pod = deployment["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    env = env_of(spec)
    (mount,) = [m for m in spec["volumeMounts"] if m["name"] == "models"]
    assert env["NAMEGEN_MODEL_PATH"] == mount["mountPath"] and mount["readOnly"] is True
    # No default named: one the claim might not hold would stop every pod; the server picks from what is there.
    assert "NAMEGEN_DEFAULT_MODEL" not in env
    (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
    claim = yaml.safe_load(MODELS_CLAIM.read_text())
    assert volume["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"], "readOnly": True}


def test_the_models_claim_is_valid_and_mountable_by_pods_on_any_node() -> None:
    claim = yaml.safe_load(MODELS_CLAIM.read_text())
    kubernetes_validate.validate(claim, K8S_VERSION, strict=True)
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every replica mounts it; ReadWriteOnce is one node


def test_sampler_threads_are_the_cpu_limit_over_the_workers() -> None:
    spec = container()
    env = env_of(spec)
    expected = max(1, math.ceil(cpus(spec["resources"]["limits"]["cpu"])) // int(env["NAMEGEN_WORKERS"]))
    assert int(env["NAMEGEN_SAMPLER_THREADS"]) == expected


def test_unset_sampler_threads_come_to_the_same_from_the_pods_cgroup_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a 16-core node, the container's cgroup holds its CPU limit as a quota: that, not the node, sizes threads."""
    spec = container()
    env = env_of(spec)
    period = 100_000
    (tmp_path / "cpu.max").write_text(f"{round(cpus(spec['resources']['limits']['cpu']) * period)} {period}\n")
    monkeypatch.setattr(app.settings, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(app.settings.os, "sched_getaffinity", lambda pid: set(range(16)))
    settings = Settings(workers=int(env["NAMEGEN_WORKERS"]), sampler_threads=0)
    assert settings.resolved_sampler_threads() == int(env["NAMEGEN_SAMPLER_THREADS"])


@pytest.mark.parametrize(
    ("files", "limit"),
    [
        ({"cpu.max": "max 100000\n"}, None),  # cgroup v2, no limit
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),  # cgroup v1, no limit
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({}, None),  # no cgroup filesystem
    ],
)
def test_the_cgroup_cpu_limit_is_read_from_v2_or_v1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], limit: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(app.settings, "CGROUP_ROOT", tmp_path)
    assert cgroup_cpu_limit() == limit


@pytest.mark.parametrize(
    ("quota", "workers", "threads"),
    [
        ("50000 100000", 1, 1),
        ("150000 100000", 1, 2),  # a CPU quota caps them, rounded up
        ("max 100000", 1, 4),  # no quota: the usable cores
        ("max 100000", 2, 2),  # shared among the workers
        ("max 100000", 8, 1),  # and never fewer than one
    ],
)
def test_default_sampler_threads_are_the_usable_cores_or_cpu_quota_shared_among_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quota: str, workers: int, threads: int
) -> None:
    (tmp_path / "cpu.max").write_text(quota)
    monkeypatch.setattr(app.settings, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(app.settings.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert Settings(workers=workers, sampler_threads=0).resolved_sampler_threads() == threads
    assert Settings(workers=workers, sampler_threads=3).resolved_sampler_threads() == 3  # a set count is kept


def test_the_memory_limit_is_above_every_resident_figure_the_readme_gives() -> None:
    """The README's Operations section documents resident memory per setting; the largest must fit the limit."""
    figures = [float(f.replace(",", "")) for f in re.findall(r"(\d[\d,]*) MiB", (REPO_ROOT / "README.md").read_text())]
    assert max(figures) >= 1000  # the large-cache figure is among them
    assert mebibytes(container()["resources"]["limits"]["memory"]) > max(figures)
