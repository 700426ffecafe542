"""Find, join and verify model weights shipped in pip packages; never download anything.

Manifests (`models/manifests/*.json`, one per area) map a model name to the distribution that
carries it, the files inside that distribution with their sha256 and size, an optional join of
split parts, and the licence:

    {"whisper-base": {"package": "...", "version": "1.0.0", "licence": "MIT",
                      "files": [{"path": "pkg/data/config.json", "sha256": "...", "bytes": 12,
                                 "package": "optional other dist", "version": "..."}],
                      "join": null | "target name" | {"target": "model.bin", "parts": [paths],
                                                      "sha256": "...", "bytes": 145217532}}}

Files are located with importlib.metadata (the weight packages' code is never imported).
`resolve()` returns the single file, or the folder that holds all files, or for a join the
cache folder (env GATEWAY_MODEL_CACHE, default ~/.cache/cc-gateway/models) where the parts were
concatenated (joined file alone when every file is a part). Hashing 145 MB costs about 0.5 s,
so a verified file is remembered in `verified.json` keyed by path, inode, size, mtime and ctime.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.errors import ModelUnavailable
from models.extras import extra_of_distribution, install_command

MANIFEST_DIR = Path(__file__).resolve().parent / "manifests"
MAX_MANIFEST_BYTES = 1_000_000
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    path: str  # posix path inside the distribution, as RECORD lists it
    sha256: str
    bytes: int
    package: str
    version: str


@dataclass(frozen=True)
class Join:
    target: str
    parts: tuple[str, ...]
    sha256: str | None  # None: trust the verified parts, remember the joined hash in a sidecar
    bytes: int


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    package: str
    version: str
    licence: str
    files: tuple[WeightFile, ...]
    join: Join | None


def default_cache_dir() -> Path:
    env = os.environ.get("GATEWAY_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cc-gateway" / "models"


def _parse_entry(name: str, raw: dict[str, Any], source: Path) -> ManifestEntry:
    try:
        package, version = str(raw["package"]), str(raw["version"])
        files = tuple(
            WeightFile(
                path=str(f["path"]),
                sha256=str(f["sha256"]).lower(),
                bytes=int(f["bytes"]),
                package=str(f.get("package", package)),
                version=str(f.get("version", version)),
            )
            for f in raw["files"]
        )
        join_raw = raw.get("join")
        join: Join | None = None
        if isinstance(join_raw, str):
            join = Join(join_raw, tuple(f.path for f in files), None, sum(f.bytes for f in files))
        elif isinstance(join_raw, dict):
            parts = tuple(str(p) for p in join_raw.get("parts") or [f.path for f in files])
            sizes = {f.path: f.bytes for f in files}
            join = Join(
                str(join_raw["target"]),
                parts,
                str(join_raw["sha256"]).lower() if join_raw.get("sha256") else None,
                int(join_raw.get("bytes") or sum(sizes[p] for p in parts)),
            )
        if join and not set(join.parts) <= {f.path for f in files}:
            raise ValueError("join parts must be listed in files")
        return ManifestEntry(name, package, version, str(raw.get("licence", "")), files, join)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailable(f"manifest {source.name}: entry {name!r} is malformed: {exc!r}") from exc


def load_manifests(folder: Path = MANIFEST_DIR) -> dict[str, ManifestEntry]:
    entries: dict[str, ManifestEntry] = {}
    for source in sorted(folder.glob("*.json")):
        if source.stat().st_size > MAX_MANIFEST_BYTES:
            raise ModelUnavailable(f"manifest {source} is larger than {MAX_MANIFEST_BYTES} bytes")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ModelUnavailable(f"manifest {source} is not valid JSON: {exc}") from exc
        for name, raw in data.items():
            if name in entries:
                raise ModelUnavailable(f"model {name!r} is defined twice (again in {source.name})")
            entries[name] = _parse_entry(name, raw, source)
    return entries


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # flock locks belong to the open file description: they also exclude other threads.
    with path.open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class WeightResolver:
    """Resolves manifest entries to verified paths; safe across threads and processes."""

    def __init__(self, manifest_dir: Path = MANIFEST_DIR, cache_dir: Path | None = None) -> None:
        self.entries = load_manifests(manifest_dir)
        self.cache_dir = cache_dir or default_cache_dir()

    def resolve(self, name: str) -> Path:
        entry = self.entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self.entries))
            raise ModelUnavailable(f"unknown model {name!r}; the manifests define: {known}")
        listings: dict[str, dict[str, Path]] = {}
        located = {f.path: self._verified(entry, f, listings) for f in entry.files}
        if entry.join is not None:
            return self._joined(entry, entry.join, located)
        if len(located) == 1:
            return next(iter(located.values()))
        return Path(os.path.commonpath([p.parent for p in located.values()]))

    # ------------------------------------------------------------ locating and checking

    def _listing(self, entry: ManifestEntry, wf: WeightFile) -> dict[str, Path]:
        """posix path -> absolute path of every file the distribution's RECORD lists (read once)."""
        hint = f"install it with: pip install {wf.package}=={wf.version}"
        extra = extra_of_distribution(wf.package)
        if extra is not None:  # the package's extra brings it with the engine it feeds
            hint = f"install it with: {install_command(extra)} (or pip install {wf.package}=={wf.version})"
        try:
            dist = md.distribution(wf.package)
        except md.PackageNotFoundError:
            raise ModelUnavailable(f"model {entry.name!r} needs package {wf.package}: {hint}") from None
        if dist.version != wf.version:
            raise ModelUnavailable(
                f"model {entry.name!r} needs {wf.package}=={wf.version}, found {dist.version}: {hint}"
            )
        return {rel.as_posix(): Path(str(dist.locate_file(rel))) for rel in dist.files or ()}

    def _locate(self, entry: ManifestEntry, wf: WeightFile, listings: dict[str, dict[str, Path]]) -> Path:
        if wf.package not in listings:
            listings[wf.package] = self._listing(entry, wf)
        path = listings[wf.package].get(wf.path)
        if path is None or not path.is_file():
            raise ModelUnavailable(
                f"model {entry.name!r}: {wf.path} is missing from {wf.package}; reinstall it with: "
                f"pip install --force-reinstall {wf.package}=={wf.version}"
            )
        return path

    def _verified(self, entry: ManifestEntry, wf: WeightFile, listings: dict[str, dict[str, Path]]) -> Path:
        path = self._locate(entry, wf, listings)
        size = path.stat().st_size
        if size != wf.bytes:
            raise ModelUnavailable(
                f"model {entry.name!r}: {path} has {size} bytes, expected {wf.bytes}; reinstall with: "
                f"pip install --force-reinstall {wf.package}=={wf.version}"
            )
        self._check_hash(entry, path, wf.sha256, f"pip install --force-reinstall {wf.package}=={wf.version}")
        return path

    def _check_hash(self, entry: ManifestEntry, path: Path, expected: str, fix: str) -> None:
        if self._cached_hash(path) == expected:
            return
        actual = sha256_file(path)
        if actual != expected:
            raise ModelUnavailable(
                f"model {entry.name!r}: {path} failed its sha256 check "
                f"(expected {expected}, got {actual}); fix with: {fix}"
            )
        self._remember(path, actual)

    # ------------------------------------------------------------ verification cache

    def _cached_hash(self, path: Path) -> str | None:
        try:
            record = json.loads((self.cache_dir / "verified.json").read_text("utf-8")).get(str(path))
        except (OSError, ValueError, AttributeError):
            return None
        if isinstance(record, dict) and record.get("stat") == _stat_key(path):
            return str(record.get("sha256"))
        return None

    def _remember(self, path: Path, digest: str) -> None:
        cache_file = self.cache_dir / "verified.json"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with _file_lock(self.cache_dir / "verified.lock"):
                try:
                    table = json.loads(cache_file.read_text("utf-8"))
                    table = table if isinstance(table, dict) else {}
                except (OSError, ValueError):
                    table = {}
                table[str(path)] = {"sha256": digest, "stat": _stat_key(path)}
                self._atomic_write(cache_file, json.dumps(table, indent=1).encode())
        except OSError:
            pass  # a read-only cache only costs re-hashing at the next start

    @staticmethod
    def _atomic_write(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; other users of the cache must read it
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------ joining parts

    def _joined(self, entry: ManifestEntry, join: Join, located: dict[str, Path]) -> Path:
        folder = self.cache_dir / f"{entry.name}-{entry.version}"
        target = folder / join.target
        only_parts = set(join.parts) == set(located)
        fix = f"delete {folder} and retry"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with _file_lock(self.cache_dir / f".{entry.name}.lock"):
                if not self._join_ok(entry, target, join, fix):
                    self._write_join(entry, target, join, located)
                for rel, src in located.items():
                    if rel not in join.parts:
                        dest = folder / src.name
                        if not (dest.is_file() and dest.stat().st_size == src.stat().st_size):
                            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{src.name}.")
                            os.close(fd)
                            shutil.copyfile(src, tmp)
                            os.chmod(tmp, 0o644)
                            os.replace(tmp, dest)
                        wf = next(f for f in entry.files if f.path == rel)
                        self._check_hash(entry, dest, wf.sha256, fix)
        except OSError as exc:
            raise ModelUnavailable(f"model {entry.name!r}: cannot write {folder}: {exc}") from exc
        return target if only_parts else folder

    def _join_ok(self, entry: ManifestEntry, target: Path, join: Join, fix: str) -> bool:
        if not target.is_file() or target.stat().st_size != join.bytes:
            return False
        expected = join.sha256 or self._sidecar(target)
        if expected is None:
            return False
        try:
            self._check_hash(entry, target, expected, fix)
        except ModelUnavailable:
            return False  # a damaged cache copy is rebuilt from the verified parts
        return True

    @staticmethod
    def _sidecar(target: Path) -> str | None:
        try:
            return target.with_name(target.name + ".sha256").read_text("ascii").strip() or None
        except OSError:
            return None

    def _write_join(self, entry: ManifestEntry, target: Path, join: Join, located: dict[str, Path]) -> None:
        digest = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                for rel in join.parts:
                    with located[rel].open("rb") as part:
                        while chunk := part.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            actual = digest.hexdigest()
            if join.sha256 is not None and actual != join.sha256:
                raise ModelUnavailable(
                    f"model {entry.name!r}: joined {join.target} failed its sha256 check "
                    f"(expected {join.sha256}, got {actual})"
                )
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if join.sha256 is None:
            self._atomic_write(target.with_name(target.name + ".sha256"), actual.encode())
        self._remember(target, actual)


def resolve(name: str) -> Path:
    """Verified path of a manifest entry (file, or folder of files); raises ModelUnavailable."""
    return WeightResolver().resolve(name)


def licence(name: str) -> str:
    entry = load_manifests().get(name)
    if entry is None:
        raise ModelUnavailable(f"unknown model {name!r}")
    return entry.licence


def installed(name: str) -> bool:
    """Whether the packages carrying a manifest entry are installed at their pinned versions
    (cheap: package metadata only; resolve() still checks the files and their sha256)."""
    entry = load_manifests().get(name)
    if entry is None:
        return False
    for wf in entry.files:
        try:
            if md.version(wf.package) != wf.version:
                return False
        except md.PackageNotFoundError:
            return False
    return True
