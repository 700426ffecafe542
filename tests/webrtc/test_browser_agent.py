"""The /agent page in real headless Chromium: a caller asks for a person; the page shows the
queue, takes the call, shows the context package and transcript, and its typed reply reaches
the caller as a reply."""

from __future__ import annotations

import shutil

import pytest

from gateway.client import GatewayClient
from tests.webrtc.browser import CHROMIUM, EVIDENCE, need_chromium

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_agent_takes_a_waiting_call_and_replies(webrtc_gateway, tmp_path):
    need_chromium()
    from playwright.async_api import async_playwright

    async with GatewayClient(webrtc_gateway.url, language="en", tenant="kiosk-agent-test") as caller, \
            async_playwright() as p:
        await caller.send_text("I want to talk to a person")
        await caller.wait_for("handoff", timeout=60)
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, bypass_csp=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
            viewport={"width": 1280, "height": 900})
        try:
            page = await context.new_page()
            await page.goto(webrtc_gateway.http + "/agent")
            await page.fill("#tenant", "kiosk-agent-test")
            await page.click("#login button")
            row = page.locator("#queue tr").first
            await row.wait_for(timeout=15_000)
            assert caller.result.session_id in await row.inner_text()
            await page.click("#next")
            await page.locator("#taken").wait_for(state="visible", timeout=15_000)
            assert caller.result.session_id == await page.inner_text("#taken-id")
            assert "I want to talk to a person" in await page.inner_text("#transcript")
            assert (await page.inner_text("#package")).strip().startswith("{")
            await page.fill("#say", "Hello, this is Sam from support.")
            await page.press("#say", "Enter")
            said = {"text": "Hello, this is Sam from support."}
            await caller.wait_for("reply.text", timeout=60, where=said)
            await caller.send_text("Thanks Sam")  # the caller's live turn reaches the page
            await page.wait_for_function(
                "document.querySelector('#transcript').textContent.includes('Thanks Sam')", timeout=30_000)
            EVIDENCE.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(EVIDENCE / "agent.png"), full_page=True)
            assert await page.locator("#problem").is_hidden()
        finally:
            await context.close()
            shutil.rmtree(tmp_path / "profile", ignore_errors=True)
