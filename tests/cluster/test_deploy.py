"""The deployment files parse and agree with the code (Docker/Kubernetes cannot run here)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cluster import ClusterSettings
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.security import SecuritySettings
from gateway.store.buffered import DurableStoreSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Sections this area adds (the lead wires them into gateway.config.Settings under these names).
NEW_SECTIONS: dict[str, type] = {"security": SecuritySettings, "durable": DurableStoreSettings,
                                 "cluster": ClusterSettings}


def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(kind: str) -> dict[str, Any]:
    found = [d for d in k8s_docs() if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def check_setting(key: str) -> None:
    match = re.fullmatch(r"GATEWAY_([A-Z]+)__([A-Z0-9_]+)", key)
    assert match, key
    section, name = match.group(1).lower(), match.group(2).lower()
    sections = {f.name: f.type for f in dataclasses.fields(Settings)}
    cls = NEW_SECTIONS.get(section)
    if cls is None:
        assert section in sections, f"{key}: no settings section [{section}]"
        import typing

        cls = typing.get_type_hints(Settings)[section]
    assert name in {f.name for f in dataclasses.fields(cls)}, f"{key}: no setting {section}.{name}"


def test_k8s_documents_are_well_formed() -> None:
    docs = k8s_docs()
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "HorizontalPodAutoscaler",
                                         "PodDisruptionBudget", "ConfigMap", "Secret"}
    for d in docs:
        assert d["apiVersion"] and d["metadata"]["name"], d


def test_deployment_probes_resources_and_security() -> None:
    dep = by_kind("Deployment")
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port_names = {p["name"] for p in container["ports"]}
    # Liveness and start-up ask whether the process answers; readiness whether it should get new
    # calls (not while starting, draining or with its store degraded).
    probes = (("startupProbe", "/health"), ("readinessProbe", "/ready"), ("livenessProbe", "/health"))
    for probe, path in probes:
        get = container[probe]["httpGet"]
        assert get["path"] == path and get["port"] in port_names, probe
    resources = container["resources"]
    assert resources["requests"]["memory"] and resources["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert by_kind("Service")["spec"]["selector"].items() <= labels.items()
    assert by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert container["image"] == compose()["x-gateway"]["image"]


def test_hpa_scales_on_a_metric_the_gateway_exports() -> None:
    hpa = by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == by_kind("Deployment")["metadata"]["name"]
    names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert names == ["gateway_sessions_active"]
    exported = Metrics().render().decode()
    assert "# TYPE gateway_sessions_active gauge" in exported
    adapter = next(d for d in k8s_docs() if d["metadata"]["name"] == "prometheus-adapter-cc-gateway")
    rules = yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
    assert rules[0]["name"]["as"] == "gateway_sessions_active"
    configmap = next(
        d for d in k8s_docs() if d["metadata"]["name"] == "cc-gateway" and d["kind"] == "ConfigMap")
    target = float(hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"])
    assert 0 < target < int(configmap["data"]["GATEWAY_SERVER__MAX_SESSIONS"])


def test_every_configured_setting_exists() -> None:
    keys = set()
    for d in k8s_docs():
        if d["kind"] in ("ConfigMap", "Secret") and d["metadata"]["name"] == "cc-gateway":
            keys |= set((d.get("data") or d.get("stringData") or {}).keys())
    dep = by_kind("Deployment")
    keys |= {e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    services = compose()["services"]
    for name in ("gateway-a", "gateway-b"):
        keys |= set(services[name]["environment"].keys())
    assert keys
    for key in sorted(keys):
        check_setting(key)


def test_compose_services() -> None:
    services = compose()["services"]
    assert {"gateway-a", "gateway-b", "redis", "postgres", "llm"} <= set(services)
    assert services["llm"]["profiles"] == ["llm"]
    a, b = services["gateway-a"]["environment"], services["gateway-b"]["environment"]
    assert a["GATEWAY_CLUSTER__NODE_ID"] != b["GATEWAY_CLUSTER__NODE_ID"]
    assert a["GATEWAY_CLUSTER__BACKEND"] == "redis" and a["GATEWAY_DURABLE__BACKEND"] == "postgres"
    assert services["gateway-a"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE=python:3\.11-slim\b", text, re.M)
    assert re.search(r"^FROM \$\{BASE\}", text, re.M)
    # Installed from the lock as it is (never re-resolved), no --no-deps tricks.
    assert "COPY pyproject.toml uv.lock" in text and text.count("uv sync --frozen") == 2
    assert "--no-deps" not in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", text, re.M)
    root = DEPLOY.parent
    copies = re.findall(r"^COPY (\S+)", text, re.M)
    for copied in copies:
        assert (root / copied).exists(), copied
    # Every package the wheel holds is in the image (a new top-level package must be copied too).
    packages = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for pattern in packages["include"]:
        assert f"{pattern.rstrip('*')}/" in copies, f"deploy/Dockerfile does not COPY {pattern.rstrip('*')}/"


@pytest.mark.parametrize("key", ["GATEWAY_NOPE__X", "GATEWAY_SECURITY__NOPE"])
def test_setting_check_can_fail(key: str) -> None:
    with pytest.raises(AssertionError):
        check_setting(key)
