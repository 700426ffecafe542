"""The asyncio shell every phone transport shares: one call = caller input pumped into the
session, session events turned into wire commands by `CallBridge`, reply frames paced on a
20 ms media clock. A transport supplies its inputs (an async iterator of PhoneInput) and a
`PhoneWire` that writes commands on its wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import GatewayError
from gateway.inputs import AudioIn, DtmfIn, Played
from gateway.ports import SessionPort
from gateway.telephony import (
    CallBridge,
    ClearPlayback,
    Hangup,
    MarkPlayed,
    PhoneCommand,
    PhoneDtmf,
    PhoneHangup,
    PhoneInput,
    PhoneMark,
    PlayFrame,
    SendMark,
    TelephonyFrame,
    Transfer,
)

log = logging.getLogger("gateway.phone")


class PhoneWire(Protocol):
    """Writes commands on one call's wire; raises ConnectionError once the far end is gone."""

    async def play(self, frame: TelephonyFrame) -> None: ...

    async def clear(self) -> None: ...

    async def mark(self, name: str) -> None: ...

    async def transfer(self, command: Transfer) -> bool:
        """Hand the caller to a person; True when that ended our part of the call."""
        ...

    async def hangup(self, reason: str) -> None: ...


@dataclass
class CallStats:
    frames_in: int = 0
    frames_out: int = 0
    dtmf: int = 0
    clears: int = 0
    transfers: int = 0
    end_reason: str = ""


class _CallOver(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def run_call(session: SessionPort, inputs: AsyncIterator[PhoneInput], wire: PhoneWire,
                   bridge: CallBridge) -> CallStats:
    """Run one call to its end (caller hang-up, session end, or a hang-up/transfer we asked for);
    the session is always closed, so its transcript is stored."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    stats = CallStats()
    ending: list[str] = []  # why we are ending the call, set before the wire is told

    def now_ms() -> int:
        return int((loop.time() - start) * 1000)

    async def dispatch(commands: list[PhoneCommand]) -> None:
        for cmd in commands:
            if isinstance(cmd, PlayFrame):
                stats.frames_out += 1
                await wire.play(cmd.frame)
            elif isinstance(cmd, ClearPlayback):
                stats.clears += 1
                await wire.clear()
            elif isinstance(cmd, SendMark):
                await wire.mark(cmd.name)
            elif isinstance(cmd, MarkPlayed):
                session.push(Played(cmd.turn_id))
            elif isinstance(cmd, Transfer):
                stats.transfers += 1
                ending.append(f"handoff-{cmd.reason}")  # the far end may drop while we hand off
                if await wire.transfer(cmd):
                    raise _CallOver(ending[0])
                ending.pop()
            elif isinstance(cmd, Hangup):
                raise _CallOver(cmd.reason)

    async def pump_inputs() -> None:
        async for item in inputs:
            if isinstance(item, TelephonyFrame):
                stats.frames_in += 1
                session.push(AudioIn(item.audio))
            elif isinstance(item, PhoneDtmf):
                stats.dtmf += 1
                session.push(DtmfIn(item.digit))
            elif isinstance(item, PhoneMark):
                await dispatch(bridge.on_mark(item.name))
            elif isinstance(item, PhoneHangup):
                raise _CallOver(item.reason)
        raise _CallOver("caller-gone")

    async def pump_events() -> None:
        async for event in session.events():
            await dispatch(bridge.on_event(event, now_ms()))
        raise _CallOver("session-ended")

    async def pace() -> None:
        step = bridge.frame_ms / 1000
        due = loop.time()
        while True:
            await dispatch(bridge.tick(now_ms()))
            due = max(due + step, loop.time() - step)  # fixed schedule, no drift, no catch-up burst
            await asyncio.sleep(due - loop.time())

    tasks = [asyncio.create_task(coro) for coro in (pump_inputs(), pump_events(), pace())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            exc = task.exception()
            if isinstance(exc, _CallOver):
                stats.end_reason = ending[0] if ending else exc.reason
            elif isinstance(exc, ConnectionError | OSError):
                stats.end_reason = ending[0] if ending else "caller-gone"
            elif exc is not None:
                stats.end_reason = getattr(exc, "code", "internal-error")
                log.error("phone call failed", exc_info=exc)
            break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close(stats.end_reason or "hangup")
        with contextlib.suppress(GatewayError, OSError, ConnectionError):
            await wire.hangup(stats.end_reason)
    return stats
