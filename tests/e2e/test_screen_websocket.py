"""A screenshot shown mid-conversation over a real WebSocket becomes a turn the reply uses."""

from __future__ import annotations

import pytest

from gateway.client import GatewayClient
from tests.conftest import SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_screenshot_mid_conversation_is_used_by_the_reply(live_gateway):
    async with GatewayClient(live_gateway.url, language="en") as client:
        await client.send_text("Hi, I have a question about my order.")
        await client.wait_for("turn.timing", timeout=60)
        await client.send_image((SAMPLES / "screens" / "order_en.png").read_bytes(), "image/png")
        final = await client.wait_for("transcript.final", timeout=60, count=2)
        await client.wait_for("turn.timing", timeout=60, count=2)
    assert final["modality"] == "screen"
    assert "A1029" in final["text"] and "Shipped" in final["text"]
    assert "jane.doe@example.com" not in final["text"]  # PII masked before the core sees it
    reply = client.result.replies()[final["turn_id"]]
    # something only the screenshot said: its order number, status or total
    assert any(seen in reply for seen in ("A1029", "Shipped", "shipped", "69.88")), reply
    assert client.result.errors == []


@pytest.mark.parametrize("data,code", [
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image-unsupported-format"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image-truncated"),
    (b"definitely not an image", "image-unsupported-format"),
])
async def test_bad_images_are_refused_and_the_session_goes_on(live_gateway, data, code):
    async with GatewayClient(live_gateway.url, language="en") as client:
        await client.send_image(data)
        error = await client.wait_for("error", timeout=30)
        await client.send_text("What are your shipping options?")
        await client.wait_for("turn.timing", timeout=60)
    assert error["code"] in (code, "image-corrupt")
    assert len(client.result.replies()) == 1
