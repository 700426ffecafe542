"""Real engines on the project's own screenshots and on realdata (slow: loads ONNX models)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import ConfigError, ModelUnavailable
from gateway.evaluation import realdata_dir
from modalities.screen import evaluation as ev
from modalities.screen.engines import SharedEngine, create_engine
from modalities.screen.intake import decode_image
from modalities.screen.reader import ScreenReader
from modalities.screen.settings import ScreenSettings

SETTINGS = ScreenSettings()


@pytest.fixture(scope="module")
def shared() -> Iterator[SharedEngine]:
    engine = SharedEngine(SETTINGS)
    yield engine
    engine.close()


def test_settings_validation() -> None:
    SETTINGS.validate()
    for bad in (ScreenSettings(engine="tesseract"), ScreenSettings(max_bytes=10), ScreenSettings(threads=0),
                ScreenSettings(min_confidence=1.5), ScreenSettings(det_max_side=100)):
        with pytest.raises(ConfigError):
            bad.validate()


def test_paddle_backend_refuses_without_local_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_PADDLEOCR_DET_DIR", raising=False)
    monkeypatch.delenv("GATEWAY_PADDLEOCR_REC_DIR", raising=False)
    with pytest.raises(ModelUnavailable, match="GATEWAY_PADDLEOCR_DET_DIR"):
        create_engine(ScreenSettings(engine="paddleocr"))


@pytest.mark.slow
@pytest.mark.parametrize("sample", ev.load_samples(), ids=lambda s: s.name)
def test_samples_read_exactly_with_fields(sample: ev.Sample, shared: SharedEngine) -> None:
    data = sample.image.read_bytes()
    lines = ScreenReader(SETTINGS, shared.get).recognise(decode_image(data, SETTINGS))
    errors, total = ev.item_cer(sample.items, lines)
    assert errors / total <= 0.01, [ln.text for ln in lines]
    result = ScreenReader(SETTINGS, shared.get).read(data)
    tp, extracted, expected = ev.field_scores(sample.fields, [(f.kind, f.value) for f in result.fields])
    assert tp == extracted, "every extracted field is right"
    assert tp >= expected - 1, "at most one expected field missed"
    assert result.kind == sample.kind


@pytest.mark.slow
def test_pp_ocr_v5_engine_reads_a_sample() -> None:
    engine = create_engine(ScreenSettings(engine="ppocr-v5"))
    try:
        sample = next(s for s in ev.load_samples() if s.name == "order_zh")
        lines = engine.read(decode_image(sample.image.read_bytes(), SETTINGS))
        errors, total = ev.item_cer(sample.items, lines)
        assert errors / total <= 0.02
    finally:
        engine.close()


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", ["text_rec.jpg", "en_rec.jpg", "img_exif_orientation.jpg",
                                  "black_font_color_transparent.png", "issue_170.png"])
def test_realdata_images(name: str, shared: SharedEngine) -> None:
    root = realdata_dir()
    folder = root / "ocr" if root is not None else Path("../shared/realdata/ocr")
    if not (folder / name).is_file():
        pytest.skip(f"realdata not found at {folder} (set GATEWAY_REALDATA)")
    reference, mode = ev.REALDATA_OCR[name]
    lines = ScreenReader(SETTINGS, shared.get).recognise(decode_image((folder / name).read_bytes(), SETTINGS))
    assert ev.realdata_cer(reference, mode, lines) <= 0.05, [ln.text for ln in lines]
