"""Starts and stops every phone transport of one gateway: the SIP endpoint (UDP), the
AudioSocket server (TCP) and, unless the main WebSocket server mounts `handle_twilio` and
`handle_chan_websocket` itself, a WebSocket listener for `/phone/twilio` and `/phone/asterisk`."""

from __future__ import annotations

from dataclasses import dataclass

from websockets.asyncio.server import Server

from gateway.ports import SessionFactory
from gateway.telephony import PhoneSettings
from gateway.transports.phone_audiosocket import AudioSocketServer
from gateway.transports.phone_sip import SipEndpoint
from gateway.transports.phone_ws import serve_phone_websockets


@dataclass
class PhoneServices:
    sip: SipEndpoint
    audiosocket: AudioSocketServer
    websocket: Server | None
    sip_port: int
    audiosocket_port: int
    websocket_port: int | None

    @classmethod
    async def start(cls, factory: SessionFactory, settings: PhoneSettings, *,
                    websocket_port: int | None = None) -> PhoneServices:
        """`websocket_port`: None = no separate listener (mounted elsewhere), 0 = any free port."""
        settings.validate()
        sip = SipEndpoint(factory, settings)
        sip_port = await sip.start()
        audiosocket = AudioSocketServer(factory, settings)
        try:
            as_port = await audiosocket.start()
            ws = None if websocket_port is None else await serve_phone_websockets(
                factory, settings, host=settings.sip_host, port=websocket_port)
        except BaseException:
            await sip.aclose()
            await audiosocket.aclose()
            raise
        ws_port = None if ws is None else int(ws.sockets[0].getsockname()[1])
        return cls(sip, audiosocket, ws, sip_port, as_port, ws_port)

    async def aclose(self) -> None:
        await self.sip.aclose()
        await self.audiosocket.aclose()
        if self.websocket is not None:
            self.websocket.close()
            await self.websocket.wait_closed()
