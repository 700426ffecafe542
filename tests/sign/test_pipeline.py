from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from gateway.errors import GatewayError, LimitExceeded, MediaError
from modalities.sign import vocabulary as vocab
from modalities.sign.events import SignTurnReady, WordRecognised
from modalities.sign.handmodel import orientation, place, pose_local
from modalities.sign.pipeline import SignPipeline
from modalities.sign.settings import SignSettings
from models.base import Hand
from models.sign_classifier import WEIGHTS, MlpSignClassifier, SignFrame


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=95)
    return out.getvalue()


class PoseTracker:
    """Stands in for the camera + tracker: the frame's red channel selects a synthesised pose."""

    def __init__(self, poses: dict[int, list[npt.NDArray[np.float64]]]) -> None:
        self.poses = poses
        self.closed = False
        self.calls = 0
        self.times: list[int] = []

    def track(self, image: npt.NDArray[np.uint8], timestamp_ms: int) -> list[Hand]:
        self.calls += 1
        self.times.append(timestamp_ms)
        key = round(float(image[..., 0].mean()) / 20.0)
        return [Hand(p.astype(np.float32), "Right", 0.9) for p in self.poses.get(key, [])]

    def close(self) -> None:
        self.closed = True


class FixedClassifier:
    labels = ("A",)

    def classify(self, hands: object) -> SignFrame:
        return SignFrame(label="A", confidence=0.9, hands=1)


def letter_pose(label: str) -> list[npt.NDArray[np.float64]]:
    shape = vocab.STATIC_LETTERS[label]
    return [place(pose_local(shape), orientation(shape.point, shape.palm), centre=(0.5, 0.6), scale=0.18)]


@pytest.mark.skipif(not WEIGHTS.is_file(), reason="sign weights not trained yet (gateway sign train)")
def test_synthesised_video_spells_a_word_through_the_real_classifier() -> None:
    word = "CUB"
    poses = {i + 1: letter_pose(letter) for i, letter in enumerate(word)}
    tracker = PoseTracker(poses)
    pipeline = SignPipeline(SignSettings(sample_fps=15), lambda: tracker, MlpSignClassifier())
    frames = [0] * 5 + [k for k in range(1, len(word) + 1) for _ in range(18)] + [0] * 60  # 30 fps video
    events = []
    for i, key in enumerate(frames):
        events += pipeline.process_frame(jpeg((key * 20, 0, 0)), i * 33)
    pipeline.close()
    turns = [e for e in events if isinstance(e, SignTurnReady)]
    assert [t.text for t in turns] == [word]
    assert tracker.closed
    assert pipeline.dropped_frames > 0 and pipeline.processed_frames < len(frames)


def test_flood_faster_than_the_rate_is_dropped_and_counted() -> None:
    tracker = PoseTracker({})
    pipeline = SignPipeline(SignSettings(sample_fps=10), lambda: tracker, FixedClassifier())
    frame = jpeg((0, 0, 0))
    for i in range(1000):  # 1000 frames within one second of media time
        pipeline.process_frame(frame, i)
    # slots every 100 ms, a frame may fill one up to 10 ms early: t = 0, 90, 190, ..., 990
    assert tracker.calls == 11
    assert pipeline.dropped_frames == 989


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"", MediaError, "video-frame-unsupported"),
        (b"GIF89a....", MediaError, "video-frame-unsupported"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, MediaError, "video-frame-corrupt"),
        (jpeg((1, 2, 3))[:60], MediaError, "video-frame-corrupt"),
        (jpeg((1, 2, 3), (8, 8)), MediaError, "video-frame-too-small"),
        (jpeg((1, 2, 3), (400, 300)), LimitExceeded, "video-frame-too-large"),
        (b"\xff\xd8" + b"\x00" * 3000, LimitExceeded, "video-frame-too-large"),
    ],
)
def test_bad_frames_raise_stable_codes_and_the_pipeline_survives(
    data: bytes, error: type[GatewayError], code: str
) -> None:
    tracker = PoseTracker({})
    settings = SignSettings(max_pixels=100_000, max_frame_bytes=2_500)
    pipeline = SignPipeline(settings, lambda: tracker, FixedClassifier())
    with pytest.raises(error) as info:
        pipeline.process_frame(data, 0)
    assert info.value.code == code
    assert pipeline.process_frame(jpeg((0, 0, 0)), 1000) == []  # still alive afterwards


def test_close_without_frames_and_whole_sign() -> None:
    pipeline = SignPipeline(SignSettings(), lambda: PoseTracker({}), FixedClassifier())
    pipeline.close()  # never started a tracker: nothing to close, no error
    tracker = PoseTracker({1: letter_pose("A")})
    pipeline = SignPipeline(SignSettings(), lambda: tracker, FixedClassifier())
    events = []
    for i in range(12):
        events += pipeline.process_frame(jpeg((20, 0, 0)), i * 70)
    events += pipeline.flush(1000)
    assert [e.word for e in events if isinstance(e, WordRecognised)] == ["A"]


def test_a_client_clock_restart_continues_on_a_new_timeline() -> None:
    """A client that restarts video.frame t_ms from 0 mid-session (camera switch, reconnect) is not
    mistaken for a flood: its frames are sampled again at once, on a timeline that keeps running
    forward for the decoder, and the reset is counted (the session reports `video-clock-reset`)."""
    tracker = PoseTracker({})
    pipeline = SignPipeline(SignSettings(sample_fps=10), lambda: tracker, FixedClassifier())
    frame = jpeg((0, 0, 0))
    for t in range(0, 5000, 100):
        pipeline.process_frame(frame, t)
    assert (tracker.calls, pipeline.clock_resets) == (50, 0)
    times = []
    for t in range(0, 1000, 100):  # the client's clock starts again at 0
        pipeline.process_frame(frame, t)
        times.append(tracker.times[-1])
    assert tracker.calls == 60 and pipeline.dropped_frames == 0
    assert pipeline.clock_resets == 1
    assert times == list(range(5000, 6000, 100))  # media time never runs backwards downstream
    pipeline.process_frame(frame, 950)  # small jitter is still jitter, not a reset
    assert pipeline.clock_resets == 1 and pipeline.dropped_frames == 1
