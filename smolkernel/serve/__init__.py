"""``smolkernel serve``: agents as an HTTP service (FastAPI + uvicorn).

Runs are accepted into a bounded worker pool, executed in the background,
polled, streamed as server-sent events and cancelled; sessions share memory;
runs, events, sessions and cached results live in an embedded SQLite store
or in Redis (shared by replicas). See ``create_app`` and ``ServeSettings``.
Needs the ``serve`` extra: ``pip install "smolkernel[serve]"``.
"""

from .._lazy import lazy_attributes

__all__ = ["create_app", "ServeSettings", "RunService", "RunPool", "Store", "EmbeddedStore", "RedisStore"]

__getattr__ = lazy_attributes(
    __name__,
    {
        "create_app": ".app",
        "ServeSettings": ".settings",
        "RunService": ".runner",
        "RunPool": ".pool",
        "Store": ".store",
        "EmbeddedStore": ".store_sqlite",
        "RedisStore": ".store_redis",
    },
)
