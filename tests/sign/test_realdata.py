"""Real tracker on real photos (../shared/realdata, never copied): detection and a video turn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modalities.sign.events import SignTurnReady
from modalities.sign.realdata import hands_root, photo_files
from modalities.sign.settings import SignSettings
from models.sign_classifier import WEIGHTS

ROOT = hands_root()
needs_data = pytest.mark.skipif(ROOT is None, reason="../shared/realdata/hands absent (set GATEWAY_REALDATA)")
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tracker_never_imports_tensorflow_and_closes() -> None:
    code = (
        "import sys, numpy as np\n"
        "from models.hands_mediapipe import MediapipeHandTracker\n"
        "t = MediapipeHandTracker(video=False)\n"
        "assert t.track(np.zeros((120, 160, 3), np.uint8), 0) == []\n"
        "t.close(); t.close()\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


@pytest.mark.slow
@pytest.mark.realdata
@needs_data
@pytest.mark.skipif(not WEIGHTS.is_file(), reason="sign weights not trained yet")
def test_video_from_real_photos_becomes_a_text_turn() -> None:
    """A video made at test time from real photos, each looped like a still camera shot (as
    `ffmpeg -loop 1` would): the first 'four' (ASL 4) and the first 'call' (ASL Y) photo."""
    from modalities.sign.pipeline import SignPipeline
    from models.hands_mediapipe import MediapipeHandTracker
    from models.sign_classifier import MlpSignClassifier

    assert ROOT is not None
    first: dict[str, bytes] = {}
    for gesture, path in photo_files(ROOT):
        first.setdefault(gesture, path.read_bytes())
    blank = _blank_jpeg()
    # 30 fps: 0.3 s nothing, 4 for 0.8 s, 1 s pause (a word gap), Y for 0.8 s, then 2.5 s rest
    script = [(blank, 9), (first["four"], 24), (blank, 30), (first["call"], 24), (blank, 75)]
    pipeline = SignPipeline(SignSettings(sample_fps=10), MediapipeHandTracker, MlpSignClassifier())
    events, t = [], 0
    try:
        for data, repeat in script:
            for _ in range(repeat):
                events += pipeline.process_frame(data, t)
                t += 33
    finally:
        pipeline.close()
    turns = [e for e in events if isinstance(e, SignTurnReady)]
    assert [turn.text for turn in turns] == ["4 Y"], events
    assert pipeline.dropped_frames > 0  # 30 fps in, 10 fps tracked


def _blank_jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (512, 384), (128, 128, 128)).save(out, "JPEG")
    return out.getvalue()
