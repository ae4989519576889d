"""The HTTP API: one router per resource (runs, sessions, service).

Every route but ``/healthz`` needs ``Authorization: Bearer KEY`` when keys
are configured; a run or session is visible only to the key that made it
(others get the same 404 as for an unknown id).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..exceptions import StoreUnavailable
from ._json import dumpb, dumps
from .records import run_view
from .runner import RunService, SessionNotFound
from .store import FINAL_STATUSES
from .status_page import STATUS_PAGE

__all__ = ["runs_router", "sessions_router", "service_router", "owner_of"]

SSE_KEEPALIVE_SECONDS = 10.0


class RunRequest(BaseModel):
    """The body of ``POST /v1/runs``."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(min_length=1, description="What the agent should do.")
    session_id: str | None = Field(None, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$", description="Runs with the same id share memory.")
    variables: dict[str, Any] | None = Field(None, description="Values the agent's code can use by name.")
    wait: bool = Field(False, description="Answer when the run is finished (200) instead of at once (202).")
    cache: bool = Field(False, description="Answer from the result cache when the same task was run; store the result otherwise.")
    cache_ttl: float | None = Field(None, gt=0, description="Seconds the cached result lives (default: the server's).")


def service_of(request: Request) -> RunService:
    """The app's RunService."""
    return request.app.state.service


async def owner_of(request: Request) -> str | None:
    """The caller's owner id (a hash of its key); None when the server needs no key.

    ``?access_token=`` is accepted too, for browsers' EventSource, which cannot set headers.
    A coroutine, so that FastAPI calls it in the event loop rather than in a worker thread.

    Raises:
        HTTPException: 401 without a valid key.
    """
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else request.query_params.get("access_token", "")
    if not token or not any(hmac.compare_digest(token.encode(), k.encode()) for k in keys):
        raise HTTPException(401, "a valid API key is required: send 'Authorization: Bearer KEY'", headers={"WWW-Authenticate": "Bearer"})
    return hashlib.sha256(token.encode()).hexdigest()[:16]


async def _owned_run(service: RunService, run_id: str, owner: str | None) -> dict[str, Any]:
    run = await service.store.get_run(run_id) if len(run_id) <= 64 else None
    if run is None or run.get("owner") != owner:
        raise HTTPException(404, f"no run {run_id!r}")
    return run


runs_router = APIRouter(prefix="/v1/runs", tags=["runs"])


class JSONBytes(Response):
    """A JSON response encoded by orjson (see ``_json``), with no model validation on the way out."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumpb(content)


_RUN_REQUEST_BODY = {"required": True, "content": {"application/json": {"schema": RunRequest.model_json_schema()}}}


@runs_router.post(
    "", status_code=202, response_model=None, openapi_extra={"requestBody": _RUN_REQUEST_BODY},
    responses={200: {"description": "finished (wait or cache hit)"}, 429: {"description": "queue full"}},
)
async def start_run(request: Request) -> Response:
    """Start a run in the background (202), or wait for it (200 with the finished run).

    The body is a ``RunRequest``. This route reads and answers it itself: it is
    every run's way in, and FastAPI's dependency solving, body handling and
    response validation cost more CPU than the rest of the request together.
    Invalid bodies get the same 422 as FastAPI's own validation gives.
    """
    owner = await owner_of(request)
    try:
        body = RunRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]) from None
    service = service_of(request)
    limit = service.settings.max_task_chars
    if len(body.task) > limit:
        raise HTTPException(413, f"the task has {len(body.task)} characters; the limit is {limit}")
    try:
        run = await service.submit(
            body.task, owner=owner, session_id=body.session_id, variables=body.variables, cache=body.cache, cache_ttl=body.cache_ttl
        )
    except SessionNotFound:
        raise HTTPException(404, f"no session {body.session_id!r} for this key") from None
    if body.wait and run["status"] not in FINAL_STATUSES:
        run = await service.wait(run["run_id"], service.settings.wait_timeout) or run
    status = 200 if run["status"] in FINAL_STATUSES else 202
    return JSONBytes(run_view(run), status_code=status, headers={"Location": f"/v1/runs/{run['run_id']}"})


@runs_router.get("/{run_id}")
async def get_run(run_id: str, request: Request, owner: str | None = Depends(owner_of)) -> dict[str, Any]:
    """A run's status and, once finished, its output, steps, tokens, cost and duration."""
    return run_view(await _owned_run(service_of(request), run_id, owner))


@runs_router.post("/{run_id}/cancel")
async def cancel_run(run_id: str, request: Request, owner: str | None = Depends(owner_of)) -> dict[str, Any]:
    """Cancel a queued or running run; answers with the run once it stopped (or after 5 s)."""
    service = service_of(request)
    run = await _owned_run(service, run_id, owner)
    if run["status"] not in ("succeeded", "failed", "cancelled"):
        await service.cancel(run_id)
        run = await service.wait(run_id, 5.0) or run
    return run_view(run)


@runs_router.get("/{run_id}/events", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def run_events(
    run_id: str, request: Request, owner: str | None = Depends(owner_of), last_event_id: str | None = Header(None)
) -> StreamingResponse:
    """The run's events as server-sent events; resumable with ``Last-Event-ID``; ends with ``run_finished``."""
    service = service_of(request)
    await _owned_run(service, run_id, owner)
    try:
        after = int(last_event_id or request.query_params.get("last_event_id") or 0)
    except ValueError:
        raise HTTPException(400, f"Last-Event-ID must be an event id (a number), not {last_event_id!r}") from None
    return StreamingResponse(_sse(service, run_id, after, request), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(service: RunService, run_id: str, after: int, request: Request) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    while True:
        try:
            events = await service.store.read_events(run_id, after, SSE_KEEPALIVE_SECONDS)
        except StoreUnavailable:
            return  # the browser reconnects with Last-Event-ID
        if not events:
            if await request.is_disconnected():
                return
            yield ": keep-alive\n\n"
            continue
        for number, kind, data in events:
            yield f"id: {number}\nevent: {kind}\ndata: {dumps(data)}\n\n"
            after = number
            if kind == "run_finished":
                return


sessions_router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


@sessions_router.get("/{session_id}")
async def get_session(session_id: str, request: Request, owner: str | None = Depends(owner_of)) -> dict[str, Any]:
    """A session's memory: its runs, the interactions its agent remembers, its figures."""
    session = await service_of(request).store.get_session(session_id) if len(session_id) <= 128 else None
    if session is None or session.get("owner") != owner:
        raise HTTPException(404, f"no session {session_id!r}")
    return {k: v for k, v in session.items() if k != "owner"}


service_router = APIRouter(tags=["service"])


@service_router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Liveness (no key needed): 200 while the store answers, 503 when it does not."""
    service = service_of(request)
    body: dict[str, Any] = {"status": "ok", "store": service.store.kind, **service.load()}
    try:
        await service.store.ping()
    except StoreUnavailable as exc:
        return JSONResponse({**body, "status": "store unavailable", "detail": str(exc)}, status_code=503)
    return JSONResponse(body)


@service_router.get("/metrics", response_class=Response)
async def metrics(request: Request, owner: str | None = Depends(owner_of)) -> Response:
    """Prometheus metrics of this process."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(service_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)


@service_router.get("/v1/status")
async def status(request: Request, owner: str | None = Depends(owner_of)) -> dict[str, Any]:
    """Runs in flight and recent runs of the caller's key, with totals (feeds the status page)."""
    service = service_of(request)
    recent = await service.store.recent_runs(owner, 50)
    finished = [r for r in recent if r["status"] in ("succeeded", "failed", "cancelled")]
    costs = [r["cost"] for r in finished if r.get("cost") is not None]
    totals = {
        "runs": len(finished),
        "succeeded": sum(r["status"] == "succeeded" for r in finished),
        "failed": sum(r["status"] == "failed" for r in finished),
        "cancelled": sum(r["status"] == "cancelled" for r in finished),
        "input_tokens": sum(r["token_usage"]["input_tokens"] for r in finished),
        "output_tokens": sum(r["token_usage"]["output_tokens"] for r in finished),
        "cost": sum(costs) if costs else None,
    }
    brief = ("run_id", "status", "task", "error", "cost", "duration", "created", "cached")
    return {
        "agent": service.settings.agent_name,
        "load": service.load(),
        "in_flight": [{k: r.get(k) for k in brief} for r in recent if r["status"] in ("queued", "running")],
        "recent": [{k: r.get(k) for k in brief} for r in finished[:20]],
        "totals": totals,
    }


@service_router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def status_page() -> HTMLResponse:
    """The HTML status page (its script reads /v1/status)."""
    return HTMLResponse(STATUS_PAGE)
