"""The cluster on Redis (redis-py asyncio): session registry with heartbeats, per-tenant agent
queue, and cross-node events over pub/sub.

Keys (prefix `gw`): `gw:session:<id>` (location JSON, expires after ttl_s unless its node
heartbeats), `gw:tenant:<t>:sessions` (set of ids, pruned on read), `gw:nodes` (sorted set of
node -> last heartbeat), `gw:queue:<t>:urgent|normal` (lists of session ids), `gw:ticket:<id>`
(ticket JSON), `gw:owner:<id>` (the agent holding it). Queue changes run as Lua scripts so two
agents on two nodes never claim the same ticket. Pub/sub is a notice channel: an event published
while a node is cut off is not replayed to it (the queue and registry are the durable state).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.cluster.base import (
    ClusterEvent,
    ClusterUnavailable,
    QueuedTicket,
    SessionLocation,
    Subscribers,
    check_package,
    decode_event,
    encode_json,
)
from gateway.errors import GatewayError, LimitExceeded

log = logging.getLogger("gateway.cluster")
T = TypeVar("T")
TICKET_TTL_S = 3600
OWNER_TTL_S = 4 * 3600
MAX_LISTED = 1000
CLOSE_STEP_S = 5.0  # each step of aclose() at most this long

_ENQUEUE = """
local function pos(sid)
  local p = redis.call('LPOS', KEYS[1], sid)
  if p then return p + 1 end
  p = redis.call('LPOS', KEYS[2], sid)
  if p then return redis.call('LLEN', KEYS[1]) + p + 1 end
  return 0
end
local p = pos(ARGV[4])
if p > 0 then return p end
if redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[5])
if ARGV[2] == '1' then redis.call('RPUSH', KEYS[1], ARGV[4]) else redis.call('RPUSH', KEYS[2], ARGV[4]) end
return pos(ARGV[4])
"""

_CLAIM = """
local sid = ARGV[3]
if sid ~= '' then
  if redis.call('LREM', KEYS[1], 0, sid) + redis.call('LREM', KEYS[2], 0, sid) == 0 then return false end
  local t = redis.call('GET', ARGV[1] .. ':ticket:' .. sid)
  redis.call('DEL', ARGV[1] .. ':ticket:' .. sid)
  redis.call('SET', ARGV[1] .. ':owner:' .. sid, ARGV[2], 'EX', ARGV[4])
  return t
end
while true do
  sid = redis.call('LPOP', KEYS[1]) or redis.call('LPOP', KEYS[2])
  if not sid then return false end
  local t = redis.call('GET', ARGV[1] .. ':ticket:' .. sid)
  if t then
    redis.call('DEL', ARGV[1] .. ':ticket:' .. sid)
    redis.call('SET', ARGV[1] .. ':owner:' .. sid, ARGV[2], 'EX', ARGV[4])
    return t
  end
end
"""

# Counts the tenant's live sessions (pruning ids whose session key expired with a dead node) and
# registers the new one only below the cap, in one step: two nodes never both take the last slot.
_ADMIT = """
local live = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if sid ~= ARGV[4] then
    if redis.call('EXISTS', ARGV[1] .. ':session:' .. sid) == 1 then live = live + 1
    else redis.call('SREM', KEYS[1], sid) end
  end
end
if live >= tonumber(ARGV[5]) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[4])
return 1
"""


def _ticket(raw: str | bytes) -> QueuedTicket:
    return QueuedTicket(**json.loads(raw))


def _location(raw: str | bytes) -> SessionLocation:
    return SessionLocation(**json.loads(raw))


class RedisCluster(Subscribers):
    def __init__(self, node_id: str, url: str, *, prefix: str = "gw", heartbeat_s: float = 2.0,
                 ttl_s: float = 10.0, queue_max: int = 64, timeout_s: float = 1.0) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        super().__init__()
        self.node_id = node_id
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self.ttl_s = ttl_s
        self.queue_max = queue_max
        # One immediate retry replaces a pooled connection that died with a Redis restart;
        # beyond that, fail fast and let the caller degrade.
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           retry=Retry(NoBackoff(), 1), decode_responses=True,
                                           health_check_interval=0)
        self._local: dict[str, SessionLocation] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._available = True
        self._enqueue = self._redis.register_script(_ENQUEUE)
        self._claim = self._redis.register_script(_CLAIM)
        self._admit = self._redis.register_script(_ADMIT)

    @property
    def available(self) -> bool:
        return self._available

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        from redis.exceptions import RedisError

        try:
            result = await op()
        except (RedisError, OSError) as exc:
            if self._available:
                log.warning("cluster: Redis unavailable (%s)", type(exc).__name__)
            self._available = False
            raise ClusterUnavailable(f"shared state (Redis) unavailable: {type(exc).__name__}") from None
        if not self._available:
            log.warning("cluster: Redis available again")
        self._available = True
        return result

    async def start(self) -> None:
        with contextlib.suppress(ClusterUnavailable):  # a node may start before Redis; it catches up
            await self._beat()
        self._tasks = [asyncio.create_task(self._heartbeat_loop(), name="cluster-heartbeat"),
                       asyncio.create_task(self._listen_loop(), name="cluster-events")]

    async def aclose(self) -> None:
        """Stops the loops and leaves the registry, each step bounded: a client library stuck
        closing a socket (a suite run once hung here, in a fixture's teardown) must not hold a
        node's shutdown."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, stuck = await asyncio.wait(self._tasks, timeout=CLOSE_STEP_S)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("cluster: %s had failed: %r", task.get_name(), task.exception())
            if stuck:
                log.warning("cluster: %d background task(s) did not stop within %.1f s",
                            len(stuck), CLOSE_STEP_S)
        self._tasks = []
        with contextlib.suppress(GatewayError, TimeoutError):
            async with asyncio.timeout(CLOSE_STEP_S):
                await self._call(lambda: self._forget_node())
        try:
            async with asyncio.timeout(CLOSE_STEP_S):
                await self._redis.aclose()
        except TimeoutError:
            log.warning("cluster: the Redis client did not close within %.1f s", CLOSE_STEP_S)

    async def _forget_node(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._k("nodes"), self.node_id)
            for loc in self._local.values():
                pipe.delete(self._k("session", loc.session_id))
                pipe.srem(self._k("tenant", loc.tenant, "sessions"), loc.session_id)
            await pipe.execute()

    # ------------------------------------------------------------------ registry

    async def _beat(self) -> None:
        ttl = max(1, round(self.ttl_s))

        async def op() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(self._k("nodes"), {self.node_id: time.time()})
                # Every beat rewrites all local sessions: after a Redis restart (empty), the
                # registry is whole again within one heartbeat.
                for loc in list(self._local.values()):
                    pipe.set(self._k("session", loc.session_id), encode_json(loc), ex=ttl)
                    pipe.sadd(self._k("tenant", loc.tenant, "sessions"), loc.session_id)
                await pipe.execute()

        await self._call(op)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            with contextlib.suppress(ClusterUnavailable):
                await self._beat()

    async def register(self, location: SessionLocation) -> bool:
        self._local[location.session_id] = location

        async def op() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self._k("session", location.session_id), encode_json(location),
                         ex=max(1, round(self.ttl_s)))
                pipe.sadd(self._k("tenant", location.tenant, "sessions"), location.session_id)
                await pipe.execute()

        try:
            await self._call(op)
            return True
        except ClusterUnavailable:
            return False

    async def admit(self, location: SessionLocation, cap: int) -> bool:
        keys = [self._k("tenant", location.tenant, "sessions"), self._k("session", location.session_id)]
        args: list[str | int] = [self.prefix, encode_json(location), max(1, round(self.ttl_s)),
                                 location.session_id, cap]
        admitted = int(await self._call(lambda: self._admit(keys=keys, args=args))) == 1
        if admitted:
            self._local[location.session_id] = location  # the heartbeat keeps it alive
        return admitted

    async def unregister(self, session_id: str) -> bool:
        loc = self._local.pop(session_id, None)

        async def op() -> None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._k("session", session_id))
                if loc is not None:
                    pipe.srem(self._k("tenant", loc.tenant, "sessions"), session_id)
                await pipe.execute()

        try:
            await self._call(op)
            return True
        except ClusterUnavailable:
            return False  # its key expires by itself after ttl_s

    async def locate(self, session_id: str) -> SessionLocation | None:
        raw = await self._call(lambda: self._redis.get(self._k("session", session_id)))
        return None if raw is None else _location(raw)

    async def sessions(self, tenant: str) -> list[SessionLocation]:
        members_key = self._k("tenant", tenant, "sessions")

        async def op() -> list[SessionLocation]:
            ids = sorted(str(i) for i in await self._redis.srandmember(members_key, MAX_LISTED) or [])
            if not ids:
                return []
            raws = await self._redis.mget([self._k("session", i) for i in ids])
            gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
            if gone:
                await self._redis.srem(members_key, *gone)
            found = [_location(raw) for raw in raws if raw is not None]
            return sorted(found, key=lambda s: s.started_at)

        return await self._call(op)

    async def nodes(self) -> list[str]:
        cutoff = time.time() - self.ttl_s
        key = self._k("nodes")

        async def op() -> list[str]:
            await self._redis.zremrangebyscore(key, "-inf", cutoff)
            return sorted(str(n) for n in await self._redis.zrange(key, 0, -1))

        return await self._call(op)

    # ------------------------------------------------------------------ agent queue

    def _queue_keys(self, tenant: str) -> list[str]:
        return [self._k("queue", tenant, "urgent"), self._k("queue", tenant, "normal")]

    async def enqueue(self, ticket: QueuedTicket) -> int:
        check_package(ticket.package)
        if not ticket.queued_at:
            ticket = dataclasses.replace(ticket, queued_at=time.time())
        keys = [*self._queue_keys(ticket.tenant), self._k("ticket", ticket.session_id)]
        args: list[str | int] = [encode_json(ticket), "1" if ticket.urgent else "0", self.queue_max,
                                 ticket.session_id, TICKET_TTL_S]
        position = int(await self._call(lambda: self._enqueue(keys=keys, args=args)))
        if position < 0:
            raise LimitExceeded(f"agent queue is full ({self.queue_max} waiting)", code="agent-queue-full")
        return position

    async def claim(self, tenant: str, agent_id: str, session_id: str | None = None) -> QueuedTicket | None:
        args: list[str | int] = [self.prefix, agent_id, session_id or "", OWNER_TTL_S]
        raw: Any = await self._call(lambda: self._claim(keys=self._queue_keys(tenant), args=args))
        return _ticket(raw) if raw else None

    async def waiting(self, tenant: str) -> list[QueuedTicket]:
        async def op() -> list[QueuedTicket]:
            urgent, normal = self._queue_keys(tenant)
            ids = [str(i) for key in (urgent, normal) for i in await self._redis.lrange(key, 0, MAX_LISTED)]
            if not ids:
                return []
            raws = await self._redis.mget([self._k("ticket", i) for i in ids])
            return [_ticket(r) for r in raws if r is not None]

        return await self._call(op)

    async def owner(self, session_id: str) -> str | None:
        result: Any = await self._call(lambda: self._redis.get(self._k("owner", session_id)))
        return None if result is None else str(result)

    async def release(self, session_id: str) -> None:
        await self._call(lambda: self._redis.delete(self._k("owner", session_id)))

    async def cancel(self, tenant: str, session_id: str) -> None:
        async def op() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in self._queue_keys(tenant):
                    pipe.lrem(key, 0, session_id)
                pipe.delete(self._k("ticket", session_id), self._k("owner", session_id))
                await pipe.execute()

        await self._call(op)

    # ------------------------------------------------------------------ events

    async def publish(self, event: ClusterEvent) -> None:
        await self._call(lambda: self._redis.publish(self._k("events"), encode_json(event)))

    async def _listen_loop(self) -> None:
        from redis.exceptions import RedisError

        backoff = 0.1
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._k("events"))
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except (RedisError, OSError):
                self._available = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, raw: str) -> None:
        try:
            event = decode_event(raw)
        except GatewayError:
            log.warning("cluster: dropped a malformed event")
            return
        if event.target in ("*", self.node_id):
            self.deliver(event)
