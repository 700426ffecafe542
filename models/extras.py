"""Optional capabilities (the package's extras) and the one line a missing one gives.

pyproject.toml groups the engines into extras: voice, zh, llm, ocr, sign, webrtc, production
(`all` is every one). Engines import their packages lazily inside `needs_extra(...)`; without the
extra the import raises MissingExtra, "sign input needs: pip install 'cc-gateway[sign]' (mediapipe
is missing)" — a ModelUnavailable, so a session reports it as an error event with the usual code
and the CLI prints it as one line instead of an ImportError traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import ModelUnavailable

PACKAGE = "cc-gateway"
EXTRAS = ("voice", "zh", "llm", "ocr", "sign", "webrtc", "production")

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
