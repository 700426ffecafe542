"""ScreenReader with a deterministic fake engine: masking, the turn, and the reuse path."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from gateway.errors import MediaError
from modalities.screen.reader import ScreenReader
from modalities.screen.settings import ScreenSettings
from models.base import OcrInfo, OcrLine

# Each "text line" is a solid rectangle whose colour names its text: detection finds dark
# rectangles, recognition maps a crop's colour back to the text. Real pixels, fake models.
PALETTE = {
    (10, 0, 0): "Order A1029", (20, 0, 0): "Status: Shipped", (30, 0, 0): "Status: Delivered",
    (40, 0, 0): "Total: $69.88", (50, 0, 0): "Phone: 13812345678", (60, 0, 0): "Card 4111 1111 1111 1111",
    (70, 0, 0): "Tracking number: 1Z999AA10123456784",
}
LAYOUT = [((10, 0, 0), (100, 40)), ((20, 0, 0), (100, 120)), ((40, 0, 0), (100, 200)),
          ((50, 0, 0), (100, 280)), ((60, 0, 0), (100, 360)), ((70, 0, 0), (100, 440))]


class FakeEngine:
    info = OcrInfo("fake", ("en",))

    def __init__(self) -> None:
        self.detect_areas: list[int] = []
        self.recognized: list[str] = []

    def detect(self, image: npt.NDArray[np.uint8], full_size: tuple[int, int] | None = None
               ) -> list[npt.NDArray[np.float32]]:
        import cv2

        self.detect_areas.append(image.shape[0] * image.shape[1])
        dark = (image.max(axis=2) < 128).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(dark)
        boxes = []
        for x, y, w, h, _area in stats[1:count]:
            x0, y0, x1, y1 = x - 2, y - 2, x + w + 2, y + h + 2
            boxes.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32))
        return boxes

    def recognize(self, crops: Sequence[npt.NDArray[np.uint8]]) -> list[tuple[str, float]]:
        out = []
        for crop in crops:
            r, g, b = (int(v) for v in crop[crop.shape[0] // 2, crop.shape[1] // 2])
            text = PALETTE.get((r, g, b), "")
            self.recognized.append(text)
            out.append((text, 0.99 if text else 0.0))
        return out

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        raise AssertionError("the reader must use the staged path for staged engines")

    def close(self) -> None:
        pass


def screenshot(swap: dict[tuple[int, int, int], tuple[int, int, int]] | None = None) -> bytes:
    image = Image.new("RGB", (640, 480), "white")
    for colour, (x, y) in LAYOUT:
        image.paste((swap or {}).get(colour, colour), (x, y, x + 300, y + 24))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def test_result_fields_masking_and_turn(engine: FakeEngine) -> None:
    reader = ScreenReader(ScreenSettings(), lambda: engine)
    result = reader.read(screenshot())
    texts = [ln.text for ln in result.lines]
    assert texts[0] == "Order A1029" and "Phone: [PHONE]" in texts and "Card [CARD]" in texts
    assert "13812345678" not in result.full_text and "4111" not in result.full_text
    assert set(result.masked) == {"card", "phone"}
    assert result.kind == "order"
    turn = result.to_turn("en")
    assert turn.modality == "screen" and turn.language == "en"
    assert turn.text.startswith(
        "The caller shared a screenshot of an order page: order A1029, status Shipped")
    assert {"kind": "amount", "value": "USD 69.88", "label": "total"} in turn.detail["fields"]
    assert turn.detail["full_text"] == result.full_text
    assert {"decode", "detect", "recognize", "layout", "total"} <= set(result.timings_ms)


def test_identical_screenshot_runs_no_model(engine: FakeEngine) -> None:
    reader = ScreenReader(ScreenSettings(), lambda: engine)
    first = reader.read(screenshot())
    calls = (len(engine.detect_areas), len(engine.recognized))
    again = reader.read(screenshot())
    assert (len(engine.detect_areas), len(engine.recognized)) == calls
    assert again.reused_lines == len(first.lines) == 6
    assert [ln.text for ln in again.lines] == [ln.text for ln in first.lines]


def test_changed_region_only_is_detected_and_recognised(engine: FakeEngine) -> None:
    reader = ScreenReader(ScreenSettings(), lambda: engine)
    reader.read(screenshot())
    engine.detect_areas.clear()
    engine.recognized.clear()
    result = reader.read(screenshot({(20, 0, 0): (30, 0, 0)}))  # status line changes colour
    assert len(engine.detect_areas) == 1 and engine.detect_areas[0] < 0.5 * 640 * 480
    assert engine.recognized == ["Status: Delivered"]
    assert [f.value for f in result.fields if f.kind == "status"] == ["Delivered"]
    assert result.reused_lines == 5 and len(result.lines) == 6


def test_reuse_off_and_new_reader_start_cold(engine: FakeEngine) -> None:
    ScreenReader(ScreenSettings(), lambda: engine).read(screenshot())
    engine.recognized.clear()
    ScreenReader(ScreenSettings(reuse=False, crop_cache=0), lambda: engine).read(screenshot())
    assert len(engine.recognized) == 6


def test_moved_lines_hit_the_crop_cache(engine: FakeEngine) -> None:
    reader = ScreenReader(ScreenSettings(), lambda: engine)
    reader.read(screenshot())
    engine.recognized.clear()
    image = Image.open(io.BytesIO(screenshot()))
    scrolled = Image.new("RGB", image.size, "white")
    scrolled.paste(image.crop((0, 30, 640, 480)), (0, 0))  # scrolled up by 30 px
    buf = io.BytesIO()
    scrolled.save(buf, "PNG")
    result = reader.read(buf.getvalue())
    assert engine.recognized == [] and len(result.lines) == 6


def test_bad_image_raises_and_reader_survives(engine: FakeEngine) -> None:
    reader = ScreenReader(ScreenSettings(), lambda: engine)
    with pytest.raises(MediaError):
        reader.read(b"not an image")
    assert reader.read(screenshot()).lines
    reader.close()
