"""The /call page in real headless Chromium: join with a fake microphone speaking a question, see
the transcript and the reply caption, and hear the reply on the inbound WebRTC track."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLES
from tests.webrtc.browser import EVIDENCE, chromium, need_chromium, padded_wav

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_call_page_speaks_and_hears_the_answer(webrtc_gateway, tmp_path):
    need_chromium()
    wav = padded_wav(SAMPLES / "audio" / "en_question_returns.wav", tmp_path / "question.wav")
    console: list[str] = []
    with chromium(tmp_path / "profile", wav) as context:
        page = context.new_page()
        page.on("console", lambda m: console.append(m.text))
        page.goto(webrtc_gateway.http + "/call")
        page.select_option("#language", "en")
        page.click("#join")
        page.wait_for_function("document.body.dataset.state === 'connected'", timeout=20_000)
        caller = page.locator("#transcript li.caller").first
        caller.wait_for(timeout=60_000)
        assert "return" in caller.inner_text().lower()
        page.wait_for_function(
            "document.querySelector('#reply-caption').textContent.includes('30 days')", timeout=60_000)
        # Reply audio reached the page's AudioContext analyser from the inbound track.
        page.wait_for_function("window.gatewayCall.level.audibleMs >= 1000", timeout=30_000)
        level = page.evaluate("window.gatewayCall.level")
        EVIDENCE.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(EVIDENCE / "call.png"), full_page=True)
        assert level["max"] > 0.02, level
        assert page.locator("#problem").is_hidden(), page.locator("#problem").inner_text()
        # The upload button sends a screenshot (WebSocket `image`); it becomes a screen turn.
        page.set_input_files("#upload", str(SAMPLES / "screens" / "order_en.png"))
        page.wait_for_function("[...document.querySelectorAll('#transcript li.caller')]"
                               ".some(li => li.textContent.includes('[screenshot]'))", timeout=60_000)
        page.wait_for_function("document.querySelectorAll('#transcript li.bot').length >= 2", timeout=60_000)
        page.screenshot(path=str(EVIDENCE / "call_upload.png"), full_page=True)
        page.click("#hangup")
        page.wait_for_function("document.body.dataset.state === 'ended'", timeout=10_000)
    peers = webrtc_gateway.call(_live_peers(webrtc_gateway))
    assert peers == 0, f"peers still open after hang-up: {peers}; console: {console[-5:]}"


def test_call_page_explains_a_refused_microphone(webrtc_gateway, tmp_path):
    need_chromium()
    wav = padded_wav(SAMPLES / "audio" / "silence_2s.wav", tmp_path / "quiet.wav", lead_s=0, tail_s=1)
    with chromium(tmp_path / "profile", wav, allow_media=False) as context:
        page = context.new_page()
        page.goto(webrtc_gateway.http + "/call")
        page.click("#join")
        problem = page.locator("#problem")
        problem.wait_for(state="visible", timeout=20_000)
        assert "permission was denied" in problem.inner_text()
        assert page.is_enabled("#join") and not page.is_enabled("#hangup")  # can try again
    peers = webrtc_gateway.call(_live_peers(webrtc_gateway))
    assert peers == 0


async def _live_peers(gw):
    import asyncio

    for _ in range(50):
        if not gw.media.live:
            break
        await asyncio.sleep(0.1)
    return len(gw.media.live)
