"""Pure pieces of the WebRTC transport: reply buffer, frame sampler, screen change, SDP check,
settings, and the static page routes."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from gateway.errors import ConfigError, GatewayError
from gateway.transports.webrtc import WebRtcSettings
from gateway.transports.webrtc_media import FrameSampler, ReplyBuffer, offer_kinds, screen_changed
from gateway.web_routes import WEB, static_file, web_routes

FRAME = 1920  # 20 ms of pcm16 at 48 kHz


def test_reply_buffer_frames_pads_and_marks_turn_ends():
    buf = ReplyBuffer(FRAME, max_bytes=FRAME * 10)
    assert buf.push(b"\x01" * (FRAME + 100))
    buf.end(7)
    first, audible, ended = buf.pull()
    assert (len(first), audible, ended) == (FRAME, True, [])
    second, audible, ended = buf.pull()
    assert second[:100] == b"\x01" * 100 and second[100:] == bytes(FRAME - 100)
    assert audible and ended == [7]  # the mark right after the last audio ends with that frame
    silence, audible, ended = buf.pull()
    assert silence == bytes(FRAME) and not audible and ended == [] and buf.size == 0


def test_reply_buffer_is_bounded_and_clears():
    buf = ReplyBuffer(FRAME, max_bytes=FRAME * 3)
    assert all(buf.push(b"\x02" * FRAME) for _ in range(3))
    assert not buf.push(b"\x02" * FRAME)
    assert buf.dropped_bytes == FRAME and buf.size == FRAME * 3
    buf.end(1)
    buf.clear()
    assert buf.size == 0 and buf.pull() == (bytes(FRAME), False, [])


def test_frame_sampler_keeps_at_most_fps_in_media_time():
    sampler = FrameSampler(10.0)
    kept = [t for i in range(90) if (t := sampler.take(1000.0 + i / 30)) is not None]  # 3 s at 30 fps
    assert kept[0] == 0 and 29 <= len(kept) <= 31
    assert all(b - a >= 99 for a, b in itertools.pairwise(kept))
    assert sampler.skipped == 90 - len(kept)
    # A stall in the stream (no frames for 2 s) does not cause a burst afterwards.
    after = [t for i in range(6) if (t := sampler.take(1005.0 + i / 30)) is not None]
    assert len(after) == 2 and after[0] == 5000  # 200 ms of frames at 10 fps: two, not a backlog


def test_screen_changed_threshold():
    base = np.full((18, 32), 100, np.float32)
    assert screen_changed(None, base, 6.0)
    assert not screen_changed(base, base + 2, 6.0)
    moved = base.copy()
    moved[:, :8] = 255  # a quarter of the screen changed a lot
    assert screen_changed(base, moved, 6.0)


@pytest.mark.parametrize("sdp", ["", "garbage", "v=0\r\nm=audio abc\r\n", "\x00" * 50])
def test_offer_kinds_rejects_malformed_sdp(sdp):
    with pytest.raises(GatewayError) as err:
        offer_kinds(sdp)
    assert err.value.code == "webrtc-bad-offer"


def test_offer_kinds_reads_media_order():
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
           "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
           "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n")
    assert offer_kinds(sdp) == ["audio", "video"]


@pytest.mark.parametrize("change", [{"ice_servers": ("http://stun.example",)}, {"max_peers": 0},
                                    {"sign_fps": 0.5}, {"reply_buffer_s": 0.0}, {"jpeg_quality": 100}])
def test_settings_validate(change):
    with pytest.raises(ConfigError):
        WebRtcSettings(**change).validate()


def test_default_settings_contact_no_ice_server():
    settings = WebRtcSettings()
    settings.validate()
    assert settings.rtc_configuration().iceServers == []


@pytest.mark.parametrize("name", ["../pyproject.toml", "..", "app.js/../../errors.py", "%2e%2e",
                                  "APP.JS", "app.js\x00.css", ".hidden.js", "a" * 70 + ".js", "app.py"])
def test_static_lookup_refuses_anything_outside_the_folder(name):
    assert static_file(name) is None


def test_routes_serve_pages_with_content_types():
    routes = web_routes()
    assert {"/call", "/kiosk", "/agent", "/static/app.js", "/static/style.css"} <= set(routes)
    assert not any(".." in path for path in routes)

    async def get(path: str) -> Response | None:
        return await routes[path](Request(path, Headers()))

    response = asyncio.run(get("/call"))
    assert response is not None
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<title>" in response.body
    js = asyncio.run(get("/static/app.js"))
    assert js is not None
    assert js.headers["Content-Type"].startswith("text/javascript")
    assert (WEB / "app.js").read_bytes() == js.body
