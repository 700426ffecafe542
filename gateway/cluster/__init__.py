"""Scale-out: the session registry, agent queue and cross-node events shared by gateway nodes."""

from __future__ import annotations

import socket

from gateway.cluster.base import (
    Cluster,
    ClusterEvent,
    ClusterSettings,
    ClusterUnavailable,
    QueuedTicket,
    SessionLocation,
    Subscription,
)
from gateway.cluster.local import LocalCluster, LocalHub

__all__ = ["Cluster", "ClusterEvent", "ClusterSettings", "ClusterUnavailable", "LocalCluster", "LocalHub",
           "QueuedTicket", "SessionLocation", "Subscription", "open_cluster"]


def open_cluster(settings: ClusterSettings) -> Cluster:
    """The configured cluster (not started: call `await cluster.start()`)."""
    node_id = settings.node_id or socket.gethostname()[:64]
    if settings.backend == "local":
        return LocalCluster(node_id, LocalHub(queue_max=settings.queue_max))
    from gateway.cluster.redis_cluster import RedisCluster

    return RedisCluster(node_id, settings.redis_url, prefix=settings.key_prefix,
                        heartbeat_s=settings.heartbeat_s, ttl_s=settings.ttl_s,
                        queue_max=settings.queue_max, timeout_s=settings.timeout_s)
