"""Kubernetes manifests in deploy/: valid against the Kubernetes JSON schemas (offline, strict), and consistent
with the image and the app (ports, probe paths, settings, selectors, drain timing)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from servers import REPO_ROOT

from app.settings import Settings

DEPLOY = REPO_ROOT / "deploy"
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
    assert "command" not in spec and "args" not in spec  # the image's CMD: python -m app.serve
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(spec["resources"]) == {"requests", "limits"}
    assert set(spec["resources"]["requests"]) == set(spec["resources"]["limits"]) == {"cpu", "memory"}


def test_every_namegen_variable_is_a_real_setting_with_a_valid_value() -> None:
    env = {item["name"]: item["value"] for item in container()["env"]}
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
    assert {path.suffix for path in Path(DEPLOY).iterdir()} == {".yaml"}


def test_the_commented_model_directory_is_a_valid_deployment_serving_that_directory() -> None:
    """The lines marked "models:" in deployment.yaml, uncommented, mount a volume of models and serve it."""
    text = (DEPLOY / "deployment.yaml").read_text()
    assert "# models: " in text
    deployment = yaml.safe_load(text.replace("# models: ", ""))
    kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    pod = deployment["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    env = {item["name"]: item["value"] for item in spec["env"]}
    (mount,) = [m for m in spec["volumeMounts"] if m["name"] == "models"]
    assert env["NAMEGEN_MODEL_PATH"] == mount["mountPath"] and mount["readOnly"] is True
    assert "models" in {volume["name"] for volume in pod["volumes"]}
    assert Settings(default_model=env["NAMEGEN_DEFAULT_MODEL"]).default_model == "names-mlp"
