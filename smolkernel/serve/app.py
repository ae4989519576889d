"""create_app: the FastAPI application of ``smolkernel serve``.

The app owns everything it uses: its store, its run service (pool and
workers) and its Prometheus registry, started and stopped by ``lifespan``;
two apps in one process share nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from contextlib import asynccontextmanager
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..exceptions import QueueFull, StoreUnavailable
from ..monitoring import Metrics
from .api import runs_router, service_router, sessions_router, start_run
from .runner import RunService
from .settings import ServeSettings
from .store import Store

__all__ = ["create_app", "make_store"]


def make_store(settings: ServeSettings) -> Store:
    """RedisStore when ``settings.redis_url`` is set, else the EmbeddedStore in ``data_dir``."""
    if settings.redis_url:
        from .store_redis import RedisStore

        return RedisStore(settings.redis_url, prefix=settings.redis_prefix)
    from .store_sqlite import EmbeddedStore

    return EmbeddedStore(settings.data_dir)


def create_app(settings: ServeSettings, *, store: Store | None = None, metrics: Metrics | None = None) -> FastAPI:
    """Build the service's ASGI app (serve it with uvicorn).

    Args:
        settings: what to serve and how.
        store: overrides the store chosen from ``settings``.
        metrics: overrides the app's own Metrics (and registry).
    """
    service_class: type[RunService] = RunService
    if settings.dask_address:
        from .dask_runs import DaskRunService

        service_class = DaskRunService
    service = service_class(settings, store or make_store(settings), metrics or Metrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="smolkernel serve",
        description=f"Runs of the agent {settings.agent_name!r} over HTTP.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.include_router(runs_router)
    app.include_router(sessions_router)
    app.include_router(service_router)
    _add_error_handlers(app)
    app.add_middleware(HotRoute, fastapi_app=app, method="POST", path="/v1/runs", endpoint=start_run)
    _limit_body_size(app, settings.max_body_bytes)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": str(exc.retry_after)})


def _limit_body_size(app: FastAPI, limit: int) -> None:
    app.add_middleware(BodyLimit, limit=limit)


class BodyLimit:
    """Refuse (413) requests whose ``Content-Length`` is over ``limit`` bytes.

    A plain ASGI middleware: ``@app.middleware("http")`` would wrap every
    request in Starlette's BaseHTTPMiddleware, whose task group and stream
    plumbing cost more CPU than the rest of a run's HTTP handling.
    """

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if value.isdigit() and int(value) > self.limit:
                        detail = f"the request body has {value.decode()} bytes; the limit is {self.limit}"
                        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


class HotRoute:
    """Serve one route by calling its endpoint directly, past routing and the inner middleware.

    ``POST /v1/runs`` is every run's way in. Starlette's exception middleware,
    FastAPI's exit-stack middleware and the router's matching cost about as
    much CPU as the endpoint itself; this calls the same endpoint (declared
    on the router too, for the OpenAPI docs) and maps its exceptions to the
    app's handlers, as the exception middleware would.
    """

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI, method: str, path: str, endpoint: Any):
        self.app = app
        self.fastapi_app = fastapi_app
        self.method, self.path, self.endpoint = method, path, endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        handlers = self.fastapi_app.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return handlers[kind]
        return None
