"""`gateway serve`: run the gateway on its embedded default stack."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from gateway.cli.groups import CommandGroups
from gateway.config import Settings, load_settings
from gateway.errors import ConfigError, GatewayError
from gateway.logs import configure_logging


def register(groups: CommandGroups) -> None:
    p = groups.top.add_parser("serve", help="run the gateway (WebSocket, /health, /metrics)")
    p.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default from settings: 8080)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host with security.mode = 'off' (logged as a warning)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)  # invalid settings: one line and status 2 (cli.main)
    from gateway.security.exposure import insecure_warning, is_loopback, refusal

    host = args.host or settings.server.host
    refused = refusal(settings.security, host, insecure=args.insecure)
    if refused is not None:
        raise ConfigError(refused)  # one line, status 2, before anything listens
    configure_logging(args.log_level, settings.server.log_format)
    from gateway.security import install_redaction

    install_redaction(settings.security.secrets())  # no configured secret ever reaches a log line
    if settings.security.mode == "off" and not is_loopback(host):
        logging.getLogger("gateway").warning("%s", insecure_warning(host, args.port or settings.server.port))
    try:
        asyncio.run(serve(settings, args.host or settings.server.host, args.port or settings.server.port))
    except ConfigError:
        raise  # found while starting (a missing tenants.file, say): reported like any bad setting
    except GatewayError as exc:
        print(f"gateway: {exc.code}: {exc}", file=sys.stderr)
        return 1
    return 0


async def serve(settings: Settings, host: str, port: int) -> None:
    from gateway.local import local_gateway

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log = logging.getLogger("gateway")
    log.info("starting on %s:%d: loading models and the knowledge base", host, port)
    async with local_gateway(settings, host=host, port=port, phone=True,
                             preload=settings.server.preload) as local:
        log.info("ready: %s (health %s/health, metrics %s/metrics); phone: SIP udp/%s, "
                 "AudioSocket tcp/%s, Twilio %s, Asterisk %s", local.url, local.http, local.http,
                 local.sip_port, local.audiosocket_port, local.url.replace("/ws", "/phone/twilio"),
                 local.url.replace("/ws", "/phone/asterisk"))
        log.info("pages: call %s/call, kiosk %s/kiosk, agent console %s/agent",
                 local.http, local.http, local.http)
        await stop.wait()
        log.info("shutting down")
