"""Sign video over a real WebSocket session becomes captions and a text turn the core answers.
The video is made at test time from real hand photos (../shared/realdata), paced at 30 fps; and
a real signer's recorded landmark sequence, rendered into frames that a stand-in tracker reads
back (tests/sign/landmark_frames.py), becomes a word through the shipped sequence model."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest

from gateway.client import GatewayClient
from gateway.evaluation import realdata_dir

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.realdata]


def blank_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 40, 40)).save(out, "JPEG")
    return out.getvalue()


async def test_signed_4_y_reaches_the_core_as_a_turn(live_gateway):
    root = realdata_dir()
    if root is None:
        pytest.skip("../shared/realdata is absent: no real hand photos to make the video from")
    photos = root / "hands" / "mediapipe_model_maker_raw_data"
    four = sorted((photos / "four").glob("*.jpg"))[0].read_bytes()
    call = sorted((photos / "call").glob("*.jpg"))[0].read_bytes()
    blank = blank_jpeg()
    script = [(blank, 9), (four, 24), (blank, 30), (call, 24), (blank, 75)]
    async with GatewayClient(live_gateway.url, language="en", channel="kiosk") as client:
        t_ms = 0
        for data, repeat in script:
            frame = base64.b64encode(data).decode()
            for _ in range(repeat):
                await client.send_json({"type": "video.frame", "t_ms": t_ms, "data": frame})
                await asyncio.sleep(0.033)
                t_ms += 33
        final = await client.wait_for("transcript.final", timeout=60)
        await client.wait_for("turn.timing", timeout=60)
    assert final["modality"] == "sign" and final["text"] == "4 Y"
    letters = [c["text"] for c in client.result.of("caption") if c["kind"] == "sign-letter"]
    assert letters[:2] == ["4", "Y"]
    assert client.result.replies()[final["turn_id"]]
    assert client.result.errors == []


async def test_corrupt_and_oversized_frames_are_refused(live_gateway):
    async with GatewayClient(live_gateway.url, language="en", channel="kiosk") as client:
        await client.send_json({"type": "video.frame", "t_ms": 0,
                                "data": base64.b64encode(b"\xff\xd8garbage").decode()})
        first = await client.wait_for("error", timeout=30)
        await client.send_json({"type": "video.frame", "t_ms": 500,
                                "data": base64.b64encode(b"GIF89a").decode()})
        second = await client.wait_for("error", timeout=30, count=2)
        await client.send_text("What are your shipping options?")
        await client.wait_for("turn.timing", timeout=60)
    assert first["code"] == "video-frame-corrupt"
    assert second["code"] == "video-frame-unsupported"


SEQUENCE_SOURCE = "electronicaddict__Jupyter"  # one person's webcam signing, ASL
SEQUENCE_LABEL, SEQUENCE_INDEX, EXPECTED = "thank you", 0, "THANK-YOU"


async def test_a_real_signers_landmark_sequence_becomes_a_word_turn(live_gateway, monkeypatch):
    """The frames carry a real recorded sequence (landmarks rendered into the JPEG, read back by
    a stand-in for the tracker); everything after the tracker is the shipped code: the session,
    the handshape classifier, the sequence model and the decoder."""
    import numpy as np

    from modalities.sign.multisigner import load_npz
    from models.sign_classifier import SEQ_WEIGHTS
    from tests.sign.landmark_frames import LandmarkFrameTracker, render

    root = realdata_dir()
    if root is None:
        pytest.skip("../shared/realdata is absent: no real signing to replay")
    if not SEQ_WEIGHTS.is_file():
        pytest.skip("sign sequence model not trained (gateway sign train)")
    path = root / "hands" / "asl_multi_signer" / SEQUENCE_SOURCE / "hands_MP_Data.npz"
    sequence = load_npz(path, warn=print)[SEQUENCE_LABEL][SEQUENCE_INDEX]
    monkeypatch.setattr("models.hands_mediapipe.MediapipeHandTracker", LandmarkFrameTracker)
    empty = render(np.zeros((2, 21, 3), np.float32))
    frames = [empty] * 5 + [render(points) for points in sequence] + [empty] * 30
    async with GatewayClient(live_gateway.url, language="en", channel="kiosk") as client:
        for i, data in enumerate(frames):  # 15 fps, as the decoder samples
            frame = base64.b64encode(data).decode()
            await client.send_json({"type": "video.frame", "t_ms": i * 66, "data": frame})
            await asyncio.sleep(0.066)
        final = await client.wait_for("transcript.final", timeout=60)
        await client.wait_for("turn.timing", timeout=60)
    assert final["modality"] == "sign" and final["text"] == EXPECTED, final
    words = [c["text"] for c in client.result.of("caption") if c["kind"] == "sign-word"]
    assert words == [EXPECTED]
    assert client.result.replies()[final["turn_id"]]
    assert client.result.errors == []
