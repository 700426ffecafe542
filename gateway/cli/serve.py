"""`gateway serve`: run the gateway on its embedded default stack.

Shutdown always completes. On the first SIGTERM (or SIGINT) the node stops admitting (`/ready`
503, new sessions `busy`), live sessions get `server.shutdown_grace_s` to end, the rest are
closed with reason `gateway-shutdown`; then the store is flushed, the engines closed and the
process exits 0. A watchdog thread ends the process (status 3) if all that has not finished
`CLOSE_BUDGET_S` after the grace period; a second signal ends it at once (status 3). Either way
every record already handed to the store is in its journal and written at the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time

from gateway.cli.groups import CommandGroups
from gateway.config import Settings, load_settings
from gateway.errors import ConfigError, GatewayError
from gateway.logs import configure_logging

log = logging.getLogger("gateway")
CLOSE_BUDGET_S = 15.0  # after the grace period: closing sessions, flushing the store, engines
THREAD_JOIN_S = 3.0  # after the loop has stopped: leftover worker threads get this long
EXIT_FORCED = 3


def register(groups: CommandGroups) -> None:
    p = groups.top.add_parser("serve", help="run the gateway (WebSocket, /health, /ready, /metrics)")
    p.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default from settings: 8080)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host with security.mode = 'off' (logged as a warning)")
    p.set_defaults(func=run)


class Watchdog:
    """A daemon thread that ends the process if shutdown has not completed by its deadline (a
    stuck executor thread, a handler that never returns): the one thing that cannot hang."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, args=(seconds,), name="shutdown-watchdog",
                                            daemon=True)
            self._thread.start()

    def disarm(self) -> None:
        self._done.set()

    def _watch(self, seconds: float) -> None:
        if not self._done.wait(seconds):
            exit_now(f"shutdown did not complete within {seconds:.0f} s")


def exit_now(why: str) -> None:
    me = threading.current_thread()
    alive = sorted(t.name for t in threading.enumerate() if t.is_alive() and t is not me)
    log.error("%s; exiting now (threads still running: %s)", why, ", ".join(alive)[:500])
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(EXIT_FORCED)


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
    watchdog = Watchdog()
    try:
        asyncio.run(serve(settings, args.host or settings.server.host, args.port or settings.server.port,
                          watchdog))
    except ConfigError:
        raise  # found while starting (a missing tenants.file, say): reported like any bad setting
    except GatewayError as exc:
        print(f"gateway: {exc.code}: {exc}", file=sys.stderr)
        return 1
    _join_leftover_threads()
    watchdog.disarm()
    return 0


def _join_leftover_threads() -> None:
    """Worker threads still running once the loop has stopped would hold the interpreter's exit
    (it joins them): they get THREAD_JOIN_S, then the process exits 0 without them (everything
    was flushed and closed by then)."""
    me = threading.current_thread()
    deadline = time.monotonic() + THREAD_JOIN_S
    for thread in threading.enumerate():
        if thread is not me and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    stray = [t.name for t in threading.enumerate() if t is not me and not t.daemon and t.is_alive()]
    if stray:
        log.warning("worker threads still running after shutdown (%s); exiting without them",
                    ", ".join(stray)[:500])
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(0)


async def serve(settings: Settings, host: str, port: int, watchdog: Watchdog | None = None) -> None:
    from gateway.local import local_gateway

    watchdog = watchdog or Watchdog()
    grace = settings.server.shutdown_grace_s
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if stop.is_set():
            exit_now(f"second {name} while shutting down")
        log.info("%s: shutting down (grace %.0f s)", name, grace)
        stop.set()
        watchdog.arm(grace + CLOSE_BUDGET_S)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal, sig.name)
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
        gateway = local.gateway
        log.info("shutting down: no new sessions; %d live sessions get up to %.0f s to end",
                 len(gateway.sessions), grace)
        left = await gateway.drain(grace)
        if left:
            log.warning("%d sessions still live after %.0f s: closing them", left, grace)
        # Sessions end before the WebSocket server closes: its handlers then return at once.
        await gateway.close_sessions(timeout_s=5.0)
        log.info("closing the store (flush), the engines and the listeners")
    log.info("stopped")
