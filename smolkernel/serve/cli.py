"""``smolkernel serve``: the command line of the HTTP service."""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, MissingExtraError

__all__ = ["add_serve_command", "load_agent_factory"]


def load_agent_factory(ref: str) -> tuple[Callable[[], Any], str, str]:
    """Turn ``--agent`` into (factory, fingerprint, name).

    ``ref`` is an agent spec file (``agent.yaml`` / ``.json``) or a folder
    holding one, read by ``AgentSpec`` (every run gets ``spec.build()``), or
    ``package.module:function``, a function returning a new agent on every call.

    Raises:
        ConfigurationError: the file is missing or invalid (``AgentSpecError`` names
            the field and line), or the function cannot be imported.
    """
    path = _spec_path(ref)
    if path is not None:
        from ..spec import AgentSpec

        spec = AgentSpec.from_file(path)
        fingerprint = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True, default=repr).encode()).hexdigest()
        return spec.build, fingerprint, spec.name or path.stem
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(f"--agent {ref!r} is neither an existing spec file nor 'package.module:function'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot import the agent factory {ref!r}: {exc}") from None
    if not callable(factory):
        raise ConfigurationError(f"{ref!r} is not callable; give a function that returns a new agent")
    return factory, hashlib.sha256(ref.encode()).hexdigest(), attribute


def _spec_path(ref: str) -> Path | None:
    """The spec file (or folder) ``--agent`` names, or None for ``package.module:function``."""
    path = Path(ref).expanduser()
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        if not path.exists():
            raise ConfigurationError(f"agent spec file {ref!r} does not exist")
        return path
    return None


def _dask_spec(ref: str, address: str) -> dict[str, Any]:
    """The spec to ship to the workers of ``--dask``, after checking that the scheduler answers.

    Raises:
        ConfigurationError: ``ref`` is a function (it cannot be shipped), the
            spec is invalid, ``distributed`` is missing or the scheduler does not answer.
    """
    import asyncio

    path = _spec_path(ref)
    if path is None:
        raise ConfigurationError(
            f"--dask needs an agent spec file (agent.yaml): the function {ref!r} cannot be sent to Dask workers; "
            "save the agent as a spec (agent.to_spec().save('agent.yaml')) or serve it without --dask"
        )
    from ..spec import AgentSpec
    from .dask_runs import connect_scheduler

    spec = AgentSpec.from_file(path).to_dict(self_contained=True)

    async def probe() -> None:
        client = await connect_scheduler(address)
        await client.close()

    asyncio.run(probe())
    return spec


def add_serve_command(subparsers: Any) -> None:
    """Register ``smolkernel serve``."""
    parser = subparsers.add_parser("serve", help="serve an agent over HTTP", description="Serve an agent as an HTTP API (OpenAPI at /docs).")
    parser.add_argument("--agent", required=True, help="agent spec file (agent.yaml) or package.module:function")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis", metavar="URL", help="keep runs, sessions, events and the cache in Redis (shared by replicas)")
    parser.add_argument("--data-dir", metavar="DIR", help="folder of the embedded store (without --redis)")
    parser.add_argument("--concurrency", type=int, default=8, help="runs at once in this process")
    parser.add_argument("--queue-size", type=int, default=64, help="runs waiting beyond that; more get 429")
    parser.add_argument("--cache-ttl", type=float, default=3600.0, help="seconds a cached result lives")
    parser.add_argument("--run-timeout", type=float, help="stop and fail runs longer than this many seconds")
    parser.add_argument("--rerun-interrupted", action="store_true", help="after a crash, run again the runs that were running")
    parser.add_argument("--heartbeat", type=float, default=2.0, metavar="SECONDS",
                        help="with --redis: how often this replica says it is alive; after 5 missed beats others take over its runs")
    parser.add_argument("--dask", metavar="ADDRESS", help="run on the workers of the Dask scheduler at ADDRESS (tcp://host:8786); needs a spec file as --agent")
    parser.add_argument("--log-level", default="info")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    spec = None
    try:
        if args.dask:
            spec = _dask_spec(args.agent, args.dask)
        factory, fingerprint, name = load_agent_factory(args.agent)
        factory().close()  # fail now, with the reason, rather than on every run
    except ConfigurationError as exc:
        print(f"smolkernel serve: {exc}", file=sys.stderr)
        return 2
    try:
        import uvicorn

        from .app import create_app
        from .settings import ServeSettings
    except ImportError as exc:
        print(MissingExtraError(getattr(exc, "name", None) or "fastapi", "serve", "smolkernel serve"), file=sys.stderr)
        return 2
    from ..monitoring import configure_tracing_from_env

    try:
        configure_tracing_from_env()
    except ConfigurationError as exc:
        print(f"smolkernel serve: {exc}", file=sys.stderr)
        return 2
    settings = ServeSettings(
        agent_factory=factory, agent_fingerprint=fingerprint, agent_name=name, redis_url=args.redis,
        concurrency=args.concurrency, queue_size=args.queue_size, cache_ttl=args.cache_ttl,
        run_timeout=args.run_timeout, rerun_interrupted=args.rerun_interrupted, heartbeat_seconds=args.heartbeat,
        dask_address=args.dask, agent_spec=spec,
    )
    if args.data_dir:
        settings.data_dir = Path(args.data_dir)
    # keep idle connections longer than load balancers do (60 s), so they never reuse one the server just closed
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=10, timeout_keep_alive=75)
    return 0
