"""pyproject.toml is the source of truth; uv.lock must pin exactly what it declares, with one OpenCV.

The lock check is offline: uv.lock records the project's declared requirements (its
[package.metadata]); they are compared with pyproject.toml here without uv, and with
`uv lock --check --offline` where uv is installed (make test runs that too).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from models.extras import EXTRA_OF_MODULE, EXTRAS

PROJECT = Path(__file__).resolve().parents[2]
OTHER_OPENCV = ("opencv-python", "opencv-contrib-python", "opencv-python-headless")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _key(requirement: str) -> str:
    """'PyYAML>=6.0.2' -> 'pyyaml>=6.0.2' (spaces and name case do not matter)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)", requirement)
    assert match, requirement
    rest = re.sub(r"\s+", "", match.group(2)).split(";")[0]
    spec = ",".join(sorted(rest.split(","))) if rest and not rest.startswith("[") else rest
    return _norm(match.group(1)) + spec


def declared(pyproject: dict) -> set[tuple[str | None, str]]:
    project = pyproject["project"]
    out: set[tuple[str | None, str]] = {(None, _key(r)) for r in project["dependencies"]}
    for extra, reqs in project["optional-dependencies"].items():
        out |= {(extra, _key(r)) for r in reqs}
    return out


def locked(lock: dict) -> set[tuple[str | None, str]]:
    own = next(p for p in lock["package"] if p["name"] == "cc-gateway")
    out = set()
    for dep in own["metadata"]["requires-dist"]:
        extras = f"[{','.join(dep['extras'])}]" if dep.get("extras") else ""
        text = _norm(dep["name"]) + extras + dep.get("specifier", "")
        marker = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", dep.get("marker", ""))
        out.add((marker.group(1) if marker else None, _key(text)))
    return out


def lock_drift(pyproject_text: str, lock_text: str) -> list[str]:
    mine, theirs = declared(tomllib.loads(pyproject_text)), locked(tomllib.loads(lock_text))
    return [f"only in pyproject.toml: {x}" for x in sorted(mine - theirs, key=str)] + \
           [f"only in uv.lock: {x}" for x in sorted(theirs - mine, key=str)]


def test_the_lock_matches_pyproject() -> None:
    drift = lock_drift((PROJECT / "pyproject.toml").read_text("utf-8"),
                       (PROJECT / "uv.lock").read_text("utf-8"))
    assert drift == [], "run `make lock` (uv lock):\n" + "\n".join(drift)


def test_the_drift_check_can_fail() -> None:
    text = (PROJECT / "pyproject.toml").read_text("utf-8")
    changed = text.replace('"mediapipe==1.2.3"', '"mediapipe==1.2.2"')
    assert changed != text
    drift = lock_drift(changed, (PROJECT / "uv.lock").read_text("utf-8"))
    assert ("only in pyproject.toml: ('sign', 'mediapipe==1.2.2')") in drift


def test_uv_lock_check_offline() -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (it comes with the dev extra): pip install 'cc-gateway[dev]'")
    done = subprocess.run([uv, "lock", "--check", "--offline", "--quiet"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_one_opencv_build_in_the_lock() -> None:
    """Every package that declares a GUI OpenCV has that declaration overridden away."""
    lock = tomllib.loads((PROJECT / "uv.lock").read_text("utf-8"))
    overrides = {o["name"]: o.get("marker", "") for o in lock["manifest"]["overrides"]}
    for name in ("opencv-python", "opencv-contrib-python"):
        assert "never" in overrides.get(name, ""), name
    for package in lock["package"]:
        for dep in package.get("dependencies", []):
            if dep["name"] in OTHER_OPENCV:
                assert "never" in dep.get("marker", ""), (package["name"], dep)
    pinned = [p["version"] for p in lock["package"] if p["name"] == "opencv-contrib-python-headless"]
    assert pinned == ["5.0.0.93"]


def test_weight_packages_are_pinned_exactly_in_an_extra() -> None:
    """The manifests' sha256 belong to one version: pyproject must pin that version."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))["project"]
    pins: dict[str, str] = {}
    extras = project["optional-dependencies"].values()
    every = [*project["dependencies"]] + [r for reqs in extras for r in reqs]
    for req in every:
        match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)==([^\s,;]+)\s*", req)
        if match:
            pins[_norm(match.group(1))] = match.group(2)
    for manifest in sorted((PROJECT / "models" / "manifests").glob("*.json")):
        for name, entry in json.loads(manifest.read_text("utf-8")).items():
            for f in entry["files"]:
                package = _norm(f.get("package", entry["package"]))
                version = f.get("version", entry["version"])
                if package == "faster-whisper":
                    continue  # the engine itself carries silero-vad; pinned by the lock
                assert pins.get(package) == version, f"{manifest.name}: {name} needs {package}=={version}"


def test_extras_table_names_real_extras() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert set(extras) == {*EXTRAS, "all", "dev"}
    assert extras["all"] == [f"cc-gateway[{','.join(EXTRAS)}]"]
    assert set(EXTRA_OF_MODULE.values()) <= set(EXTRAS)
