"""The /kiosk page in real headless Chromium, sign mode: a fake camera shows real hand photos
(ASL 4, then ASL Y: ../shared/realdata, made into a video at test time, never copied) and the
page shows the recognised signs, the read-back or the turn, and the answer caption."""

from __future__ import annotations

import pytest

from modalities.sign.realdata import hands_root, photo_files
from tests.conftest import SAMPLES
from tests.webrtc.browser import EVIDENCE, chromium, mjpeg, need_chromium, padded_wav

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.realdata]


def test_kiosk_shows_recognised_signs(webrtc_gateway, tmp_path):
    need_chromium()
    root = hands_root()
    if root is None:
        pytest.skip("../shared/realdata/hands absent (set GATEWAY_REALDATA): no hand video to show")
    first: dict[str, bytes] = {}
    for gesture, path in photo_files(root):
        first.setdefault(gesture, path.read_bytes())
    video = mjpeg([(None, 1.0), (first["four"], 1.2), (None, 0.9), (first["call"], 1.2), (None, 6.0)],
                  tmp_path / "hands.mjpeg")
    quiet = padded_wav(SAMPLES / "audio" / "silence_2s.wav", tmp_path / "quiet.wav", lead_s=0, tail_s=8)
    with chromium(tmp_path / "profile", quiet, video) as context:
        page = context.new_page()
        page.goto(webrtc_gateway.http + "/kiosk?lang=en&idle=60")
        assert page.evaluate("document.activeElement.id") == "start"  # keyboard first
        page.keyboard.press("Enter")
        page.wait_for_function("document.body.dataset.state.startsWith('Ready')", timeout=20_000)
        page.wait_for_function("document.querySelector('#words').textContent.trim().length > 0",
                               timeout=45_000)
        # A low-confidence turn is read back ("Did you sign ...?"): answer YES like a visitor would.
        page.wait_for_function("!document.querySelector('#readback').hidden || "
                               "document.querySelector('#caller-caption').textContent.length > 0",
                               timeout=30_000)
        if page.locator("#readback").is_visible():
            question = page.inner_text("#readback-q")
            EVIDENCE.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(EVIDENCE / "kiosk_readback.png"), full_page=True)
            assert question.startswith("Did you sign")
            page.click("#yes")
        page.wait_for_function("document.querySelector('#caller-caption').textContent.length > 0",
                               timeout=30_000)
        page.wait_for_function("document.querySelector('#reply-caption').textContent.length > 0",
                               timeout=60_000)
        words = page.inner_text("#words")
        heard = page.inner_text("#caller-caption")
        EVIDENCE.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(EVIDENCE / "kiosk.png"), full_page=True)
        assert words.split() and set(words.split()) <= {"4", "Y"}, words  # what was signed
        assert heard.split() and set(heard.split()) <= {"4", "Y"}, heard
        assert page.locator("#live").inner_text()  # the screen-reader region got the captions
        # "Call a person" goes through the core's handoff policy like a spoken request would.
        page.click("#person")
        page.locator("#handoff").wait_for(state="visible", timeout=60_000)
        assert "person" in page.inner_text("#handoff")
        page.screenshot(path=str(EVIDENCE / "kiosk_handoff.png"), full_page=True)
        # Idle reset / finish wipes the visitor's conversation from the screen.
        page.click("#end")
        assert page.inner_text("#reply-caption") == "" and page.inner_text("#letters") == ""
        assert page.locator("#welcome").is_visible()
