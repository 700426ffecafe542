"""`gateway doctor`: for each capability, is it ready, what is missing and the command that fixes it.

A capability is one extra of the package (pyproject.toml) plus what it needs outside Python: its
packages (installed, at the version the extra pins), its model weights (located and sha256-checked
by models.weights, as the engines do), the system tools it uses and the settings that switch it
on. The package lists come from pyproject.toml in a checkout and from the installed
distribution's metadata otherwise, so they cannot drift from what `pip install` does.

Exit status: 0 when every capability the settings use is ready, 1 otherwise. Capabilities the
settings do not use are reported but do not fail the run (a voice-only node is a valid install);
with --strict every capability must be ready (the image build runs it so).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.config import Settings, load_settings
from gateway.errors import GatewayError, ModelUnavailable
from models.extras import PACKAGE, declared_requirements

CHECKOUT = Path(__file__).resolve().parents[2]
OPENCV_BUILDS = ("opencv-python", "opencv-contrib-python", "opencv-python-headless",
                 "opencv-contrib-python-headless")
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;(.*))?$")


@dataclass(frozen=True)
class Tool:
    name: str
    why: str
    fix: str
    required: bool = False  # False: only some commands or tests use it


@dataclass(frozen=True)
class Capability:
    name: str
    extra: str | None  # None: the base install
    what: str
    weights: tuple[str, ...] = ()
    tools: tuple[Tool, ...] = ()


CAPABILITIES = (
    Capability("core", None, "conversation core, WebSocket server, /health, /metrics",
               weights=("use-multilingual-v3",)),
    Capability("voice", "voice", "speech in and out (faster-whisper, Silero VAD, Piper, eSpeak NG)",
               weights=("whisper-tiny.en", "whisper-base", "silero-vad", "piper-en_US-joe-medium",
                        "espeak-ng"),
               tools=(Tool("ffmpeg", "turning recordings into test clips (samples/video/README.md)",
                           "apt-get install -y ffmpeg"),)),
    Capability("zh", "zh", "Chinese callers (simplified-script transcripts, sentiment)"),
    Capability("llm", "llm", "embedded LLM (core.backend = 'llama')",
               weights=("qwen2.5-coder-0.5b-instruct-q4_k_m",)),
    Capability("ocr", "ocr", "screenshot reading (PP-OCRv4/v5)", weights=("ppocr-v4", "ppocr-v5")),
    Capability("sign", "sign", "sign-language input (mediapipe hand landmarks)",
               weights=("mediapipe-hand-landmarker",)),
    Capability("webrtc", "webrtc", "browser call and kiosk over WebRTC",
               tools=(Tool("chromium", "the browser-call tests (Playwright drives Debian's chromium)",
                           "apt-get install -y chromium chromium-driver"),)),
    Capability("turn", "turn", "learned end-of-turn model (Smart Turn v3.2; else the pause rules decide)",
               weights=("smart-turn-v3.2-cpu",)),
    Capability("production", "production", "PostgreSQL transcripts, Redis cluster",
               tools=(Tool("redis-server", "the cluster tests and `gateway bench handoff`",
                           "apt-get install -y redis-server"),
                      Tool("pg_ctlcluster", "the PostgreSQL store tests", "apt-get install -y postgresql"))),
)


@dataclass
class Report:
    capability: Capability
    in_use: bool
    setting: str  # why it is (not) in use
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what is wrong, fix)
    notes: list[tuple[str, str]] = field(default_factory=list)  # optional tools missing
    installed: int = 0  # how many of the extra's packages are present

    @property
    def ready(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------ what the package declares


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_requirement(requirement: str) -> str | None:
    """None when installed and (for an exact pin) at that version; else what is wrong."""
    match = _REQ.match(requirement)
    if match is None:
        return f"cannot read requirement {requirement!r}"
    name, spec = match.group(1), match.group(3).strip()
    if _normal(name) == _normal(PACKAGE):
        return None  # `all` names the other extras
    try:
        version = md.version(name)
    except md.PackageNotFoundError:
        return "not installed"
    pinned = re.fullmatch(r"==\s*([^,\s]+)", spec)
    if pinned and version != pinned.group(1):
        return f"version {version} installed, {pinned.group(1)} required"
    return None


def install_command(extra: str | None) -> str:
    """The pip command for this install: from the checkout, the wheel or the index it came from."""
    target = PACKAGE
    editable = False
    try:
        raw = md.distribution(PACKAGE).read_text("direct_url.json")
        info = json.loads(raw) if raw else {}
        url = str(info.get("url", ""))
        editable = bool(info.get("dir_info", {}).get("editable"))
        if url.startswith("file://") and Path(url[7:]).exists():
            target = url[7:]
    except md.PackageNotFoundError:
        target, editable = str(CHECKOUT), True
    spec = f"{target}[{extra}]" if extra else target
    return f"pip install {'-e ' if editable else ''}'{spec}'"


# ------------------------------------------------------------------ checks


def _in_use(cap: Capability, settings: Settings) -> tuple[bool, str]:
    core, durable, cluster = settings.core, settings.durable, settings.cluster
    if cap.name == "core":
        return True, "always"
    if cap.name == "voice":
        return True, f"speech.asr_model = {settings.speech.asr_model!r}"
    if cap.name == "zh":
        return False, f"speech.language = {settings.speech.language!r} (used when a caller speaks Chinese)"
    if cap.name == "llm":
        return core.backend == "llama", f"core.backend = {core.backend!r}"
    if cap.name == "ocr":
        return False, f"screen.engine = {settings.screen.engine!r} (used when a caller shares a screen)"
    if cap.name == "turn":
        choice = settings.speech.turn_model
        return choice not in ("auto", "off"), f"speech.turn_model = {choice!r}" + (
            " (used when installed)" if choice == "auto" else "")
    if cap.name == "production":
        used = durable.backend == "postgres" or cluster.backend == "redis"
        return used, f"durable.backend = {durable.backend!r}, cluster.backend = {cluster.backend!r}"
    return False, "used when a caller " + ("signs" if cap.name == "sign" else "calls from a browser")


def _check_settings(cap: Capability, settings: Settings, report: Report) -> None:
    if cap.name == "core":
        folder = settings.core.kb_folder()
        if not folder.is_dir():
            report.problems.append((f"knowledge base folder {folder} does not exist",
                                    "set core.kb_path (or GATEWAY_CORE__KB_PATH) to a folder of documents"))
    if cap.name == "llm" and settings.core.backend == "openai" and not settings.core.openai_url:
        report.notes.append(("core.backend = 'openai' without core.openai_url", "set core.openai_url"))
    if cap.name == "production" and settings.durable.backend == "postgres" and not settings.durable.dsn:
        report.problems.append(("durable.backend = 'postgres' without durable.dsn",
                                "set GATEWAY_DURABLE__DSN=postgresql://user:password@host:5432/gateway"))


def _check_opencv(report: Report) -> None:
    present = [name for name in OPENCV_BUILDS if check_requirement(name) is None]
    if len(present) > 1:
        extra = [name for name in present if name != "opencv-contrib-python-headless"]
        report.problems.append((
            f"{len(present)} OpenCV builds share the cv2 folder: {', '.join(present)}",
            f"pip uninstall -y {' '.join(extra)} && pip install --force-reinstall "
            "opencv-contrib-python-headless==5.0.0.93  (or install with uv: docs/models.md)"))
    if present:
        try:
            import cv2  # noqa: F401
        except ImportError as exc:
            report.problems.append((f"cv2 does not import: {str(exc).splitlines()[0]}",
                                    "pip install --force-reinstall opencv-contrib-python-headless==5.0.0.93"))


def _check_mediapipe_library(report: Report) -> None:
    """libmediapipe.so is loaded only when the first hand tracker starts: load it here instead."""
    import ctypes
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        return  # the package check already names it
    for library in sorted((Path(spec.origin).parent / "tasks" / "c").glob("libmediapipe*.so")):
        try:
            ctypes.CDLL(str(library))
        except OSError as exc:
            report.problems.append((f"{library.name} does not load: {exc}",
                                    "apt-get install -y libegl1 libgles2"))


def check(cap: Capability, settings: Settings, requirements: dict[str | None, list[str]],
          weights: bool = True) -> Report:
    in_use, why = _in_use(cap, settings)
    report = Report(cap, in_use, why)
    fix = install_command(cap.extra)
    for requirement in requirements.get(cap.extra, []):
        wrong = check_requirement(requirement)
        if wrong is None:
            report.installed += 1
        else:
            report.problems.append((f"package {requirement}: {wrong}", fix))
    if cap.name in ("ocr", "sign"):
        _check_opencv(report)
    if cap.name == "sign":
        _check_mediapipe_library(report)
    if weights:
        from models.weights import WeightResolver

        try:
            resolver = WeightResolver()
        except ModelUnavailable as exc:
            report.problems.append((f"weights manifests: {exc}", "reinstall the package"))
        else:
            for name in cap.weights:
                try:
                    resolver.resolve(name)
                except ModelUnavailable as exc:
                    report.problems.append((f"weights {name}: {str(exc).split(':')[0]}", fix))
    for tool in cap.tools:
        if shutil.which(tool.name) is None:
            (report.problems if tool.required else report.notes).append(
                (f"system tool {tool.name} not found (needed for {tool.why})", tool.fix))
    _check_settings(cap, settings, report)
    return report


# ------------------------------------------------------------------ command


def register(groups: CommandGroups) -> None:
    p = groups.top.add_parser("doctor", help="what each capability has and lacks, and the fix")
    p.add_argument("--quiet", action="store_true", help="print only what is missing")
    p.add_argument("--no-weights", action="store_true", help="skip the sha256 check of model weights")
    p.add_argument("--only", default="", help="comma-separated capabilities (default: all)")
    p.add_argument("--strict", action="store_true",
                   help="fail on any capability that is not ready, used or not (image builds)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    requirements = declared_requirements()
    wanted = {c.strip() for c in args.only.split(",") if c.strip()}
    unknown = wanted - {c.name for c in CAPABILITIES}
    if unknown:
        print(f"gateway doctor: unknown capability {sorted(unknown)}", file=sys.stderr)
        return 2
    try:
        version = md.version(PACKAGE)
    except md.PackageNotFoundError:
        version = "not installed (checkout)"
    if not args.quiet:
        print(f"{PACKAGE} {version}; python {sys.version.split()[0]} at {sys.prefix}")
    failed = False
    for cap in CAPABILITIES:
        if wanted and cap.name not in wanted:
            continue
        try:
            report = check(cap, settings, requirements, weights=not args.no_weights)
        except GatewayError as exc:  # a check itself failed: report it, go on with the others
            report = Report(cap, True, "", problems=[(f"check failed: {exc}", "see the message")])
        failed |= (report.in_use or args.strict) and not report.ready
        _print(report, args.quiet)
    return 1 if failed else 0


def _print(report: Report, quiet: bool) -> None:
    cap = report.capability
    if report.ready:
        state = "ready"
    elif report.installed == 0 and cap.extra is not None:
        state = "not installed"
    else:
        state = "INCOMPLETE"
    use = "in use" if report.in_use else "optional"
    if quiet and report.ready:
        return
    extra = f"[{cap.extra}]" if cap.extra else "(base)"
    print(f"{cap.name:<11} {state:<14} {use:<9} {extra:<13} {cap.what}")
    if not quiet:
        print(f"{'':<11} setting: {report.setting}")
    fixes: list[str] = []
    for what, fix in report.problems:
        print(f"{'':<11} - missing: {what}")
        if fix not in fixes:
            fixes.append(fix)
    for what, fix in [] if quiet else report.notes:
        print(f"{'':<11} - note: {what}; fix: {fix}")
    for fix in fixes:
        print(f"{'':<11}   fix: {fix}")


def register_without_extra(groups: CommandGroups, module: str, exc: ImportError) -> bool:
    """A command module that imports an extra's packages at module level (NEEDS_EXTRA below),
    without them: its command still exists and answers with the one line naming the extra.
    False when the module is not one of those (the ImportError is then a real defect)."""
    if module not in NEEDS_EXTRA:
        return False
    group, command, extra = NEEDS_EXTRA[module]
    line = f"gateway: {group} {command} needs: pip install '{PACKAGE}[{extra}]' ({exc.name} is missing)"

    def unavailable(_: argparse.Namespace) -> int:
        print(line, file=sys.stderr)
        return 1

    parent = groups.bench if group == "bench" else groups.top
    parent.add_parser(command, help=f"(needs the {extra} extra)").set_defaults(func=unavailable)
    return True


NEEDS_EXTRA = {"gateway.cli.webrtc_bench": ("bench", "webrtc", "webrtc")}
