"""One WebSocket listener for the phone protocols that ride on WebSocket:
`/phone/twilio` (Twilio-style media streams) and `/phone/asterisk` (chan_websocket).

The main gateway server can mount `handle_twilio`/`handle_chan_websocket` on its own port
instead; this listener serves them alone (tests, benches, a dedicated phone port).
"""

from __future__ import annotations

from websockets.asyncio.server import Server, ServerConnection, serve

from gateway.ports import SessionFactory
from gateway.telephony import DEFAULT_SETTINGS, PhoneSettings
from gateway.transports.phone_chan_websocket import handle_chan_websocket
from gateway.transports.phone_twilio import handle_twilio

TWILIO_PATH = "/phone/twilio"
ASTERISK_PATH = "/phone/asterisk"
MAX_MESSAGE = 64 * 1024  # a 20 ms Twilio frame is ~250 bytes; chan_websocket frames are 160


async def serve_phone_websockets(factory: SessionFactory, settings: PhoneSettings = DEFAULT_SETTINGS, *,
                                 host: str = "127.0.0.1", port: int = 0) -> Server:
    async def route(ws: ServerConnection) -> None:
        path = ws.request.path.split("?", 1)[0] if ws.request is not None else ""
        if path == TWILIO_PATH:
            await handle_twilio(ws, factory, settings)
        elif path == ASTERISK_PATH:
            await handle_chan_websocket(ws, factory, settings)
        else:
            await ws.close(1008, "unknown path")

    return await serve(route, host, port, max_size=MAX_MESSAGE, compression=None)
