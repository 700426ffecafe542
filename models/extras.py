"""Optional capabilities (the package's extras) and the one line a missing one gives.

pyproject.toml groups the engines into extras: voice, zh, llm, ocr, sign, webrtc, production, turn
(`all` is every one). Engines import their packages lazily inside `needs_extra(...)`; without the
extra the import raises MissingExtra, "sign input needs: pip install 'cc-gateway[sign]' (mediapipe
is missing)" — a ModelUnavailable, so a session reports it as an error event with the usual code
and the CLI prints it as one line instead of an ImportError traceback.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contracts.errors import ModelUnavailable

PACKAGE = "cc-gateway"
CHECKOUT = Path(__file__).resolve().parents[1]
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;(.*))?$")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
EXTRAS = ("voice", "zh", "llm", "ocr", "sign", "webrtc", "production", "turn")

# Import name -> the extra that installs it (tests/packaging checks each against pyproject.toml).
EXTRA_OF_MODULE = {
    "faster_whisper": "voice",
    "ctranslate2": "voice",
    "piper": "voice",
    "onnxruntime": "voice",
    "opencc": "zh",
    "snownlp": "zh",
    "llama_cpp": "llm",
    "rapidocr_onnxruntime": "ocr",
    "cv2": "ocr",
    "mediapipe": "sign",
    "aiortc": "webrtc",
    "av": "webrtc",
    "aioice": "webrtc",
    "psycopg": "production",
    "redis": "production",
}


def install_command(extra: str) -> str:
    return f"pip install '{PACKAGE}[{extra}]'"


class MissingExtra(ModelUnavailable):
    """A capability whose extra is not installed (code stays "model-unavailable" for clients)."""

    def __init__(self, what: str, extra: str, missing: str = "") -> None:
        self.extra = extra
        detail = f" ({missing} is missing)" if missing else ""
        super().__init__(f"{what} needs: {install_command(extra)}{detail}")


@contextmanager
def needs_extra(extra: str, what: str) -> Iterator[None]:
    """Wrap the lazy imports of one capability: an ImportError inside becomes MissingExtra."""
    try:
        yield
    except ImportError as exc:
        missing = exc.name or str(exc).splitlines()[0][:200]
        raise MissingExtra(what, extra, missing) from None


def declared_requirements() -> dict[str | None, list[str]]:
    """extra (None = base) -> its requirement strings: a checkout's pyproject.toml (an editable
    install's metadata may be older), else the installed distribution's metadata."""
    if (CHECKOUT / "pyproject.toml").is_file():
        return _from_pyproject(CHECKOUT / "pyproject.toml")
    try:
        lines = md.requires(PACKAGE) or []
    except md.PackageNotFoundError:
        return {}
    out: dict[str | None, list[str]] = {}
    for line in lines:
        match = _REQ.match(line)
        marker = (match.group(4) or "") if match else ""
        found = _EXTRA_MARKER.search(marker)
        out.setdefault(found.group(1) if found else None, []).append(line.split(";")[0].strip())
    return out


def _from_pyproject(path: Path) -> dict[str | None, list[str]]:
    project = tomllib.loads(path.read_text("utf-8"))["project"]
    out: dict[str | None, list[str]] = {None: list(project.get("dependencies", []))}
    out.update({k: list(v) for k, v in project.get("optional-dependencies", {}).items()})
    return out


def extra_of_distribution(name: str) -> str | None:
    """The extra that declares distribution `name` (None: base, or not declared at all)."""
    wanted = re.sub(r"[-_.]+", "-", name).lower()
    for extra, requirements in declared_requirements().items():
        for requirement in requirements:
            match = _REQ.match(requirement)
            if extra not in (None, "all", "dev") and match and \
                    re.sub(r"[-_.]+", "-", match.group(1)).lower() == wanted:
                return extra
    return None
