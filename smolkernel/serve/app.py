"""create_app: the FastAPI application of ``smolkernel serve``.

The app owns everything it uses: its store, its run service (pool and
workers) and its Prometheus registry, started and stopped by ``lifespan``;
two apps in one process share nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
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

    app = ServeApp(
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
    _limit_body_size(app, settings.max_body_bytes)
    app.hot_routes[("POST", "/v1/runs")] = start_run
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


def _too_large(scope: Scope, limit: int) -> str | None:
    """Why the request's body is refused (its ``Content-Length`` is over ``limit``), or None."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                return f"the request body has {value.decode()} bytes; the limit is {limit}"
            return None
    return None


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
        if scope["type"] == "http" and (refusal := _too_large(scope, self.limit)):
            await JSONResponse({"detail": refusal}, status_code=413)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ServeApp(FastAPI):
    """The FastAPI app, with hot routes served by calling their endpoint directly.

    ``POST /v1/runs`` is every run's way in. The middleware stack (error,
    telemetry and exception middleware, the exit stack) and the router's
    matching cost about as much CPU as the endpoint itself, a tenth of a
    run's. A hot route's endpoint, declared on its router too (for the
    OpenAPI docs), takes the ``Request`` and returns a ``Response``; its
    exceptions go to the app's exception handlers, as in the stack, and the
    body size limit applies as to every route.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.hot_routes: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.hot_routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if endpoint is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive)
        if refusal := _too_large(scope, self.state.settings.max_body_bytes):
            response: Response = JSONResponse({"detail": refusal}, status_code=413)
        else:
            try:
                response = await endpoint(request)
            except Exception as exc:
                handler = self._handler_for(exc)
                if handler is None:
                    raise
                response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Any:
        for kind in type(exc).__mro__:
            if kind in self.exception_handlers:
                return self.exception_handlers[kind]
        return None
