"""What the built wheel carries: pages, migrations, manifests, trained weights and the bundled
knowledge base in; tests, samples (other than the knowledge base) and docs evidence out."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    try:
        importlib.metadata.version("build")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the `build` package is not installed (dev extra): pip install 'cc-gateway[dev]'")
    # A copy of the checkout: setuptools leaves build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("src") / "cc-gateway"
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache"))
    out = tmp_path_factory.mktemp("dist")
    # Isolated, as pip builds it: setuptools comes from the registry.
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    built = list(out.glob("cc_gateway-*.whl"))
    assert len(built) == 1
    with zipfile.ZipFile(built[0]) as z:
        return z.namelist()


def missing_from(names: list[str], wanted: list[str]) -> list[str]:
    have = set(names)
    return [w for w in wanted if w not in have]


def test_the_wheel_carries_what_the_gateway_runs_on(wheel: list[str]) -> None:
    data = "cc_gateway-0.1.0.data/data/share/cc-gateway/kb"
    wanted = [
        *(f"gateway/web/{p.name}" for p in (PROJECT / "gateway" / "web").iterdir() if p.is_file()
          and p.suffix in (".html", ".js", ".css")),
        *(f"gateway/store/migrations/{p.name}" for p in (PROJECT / "gateway/store/migrations").glob("*.sql")),
        *(f"models/manifests/{p.name}" for p in (PROJECT / "models/manifests").glob("*.json")),
        "models/sign/sign_mlp.npz", "models/sign/sign_mlp.json",
        *(f"{data}/{p.relative_to(PROJECT / 'samples/kb').as_posix()}"
          for p in (PROJECT / "samples/kb").rglob("*") if p.is_file()),
    ]
    assert len(wanted) > 20
    assert missing_from(wheel, wanted) == []
    assert any(n.endswith(".dist-info/entry_points.txt") for n in wheel)


def test_the_wheel_leaves_out_tests_samples_and_evidence(wheel: list[str]) -> None:
    stray = [n for n in wheel if n.split("/")[0] in ("tests", "samples", "docs", "deploy", "scripts")
             or "/evidence/" in n or n.endswith((".wav", ".png", ".mjpeg", ".pyc"))]
    assert stray == []
    assert not any("/samples/" in n and "/share/cc-gateway/kb/" not in n for n in wheel)


def test_the_content_checks_can_fail() -> None:
    names = ["gateway/web/call.html", "tests/test_x.py", "samples/audio/a.wav"]
    assert missing_from(names, ["gateway/web/call.html", "models/manifests/voice.json"]) == [
        "models/manifests/voice.json"]
