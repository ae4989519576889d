"""OpenAIServerModel: any OpenAI-compatible server (OpenAI, vLLM, Ollama, TGI, LM Studio, ...)."""

from __future__ import annotations

import os
from typing import Any

from ..exceptions import MissingAPIKeyError, MissingExtraError, SmolkernelError
from ._chat_http import HTTPChatModel, PerLoop
from ._completions import is_local_url
from ._retry import Failure, failure_from_openai_error

__all__ = ["OpenAIServerModel"]

LOCAL_PLACEHOLDER_KEY = "not-needed"
"""Sent to local servers when no key is configured (the SDK insists on one)."""


class OpenAIServerModel(HTTPChatModel):
    """A model behind an OpenAI-compatible chat-completions API, via the ``openai`` SDK.

    Args:
        model_id: the model's name on the server, e.g. ``"gpt-4o-mini"`` or
            ``"Qwen/Qwen2.5-7B-Instruct"``.
        api_base: the server's base URL, e.g. ``"http://localhost:8000/v1"``;
            ``None`` means OpenAI's own API.
        api_key: the key; defaults to ``$OPENAI_API_KEY``, and for a server on
            this machine to a placeholder when that is unset.
        timeout: seconds per attempt.
        max_retries: retries of 429, 5xx, timeouts and refused connections,
            with exponential backoff (``retry_delay``, ``max_retry_delay``).
        client_kwargs: extra arguments for ``openai.AsyncOpenAI`` (headers, ...).
        transport: ``"fast"`` (default) sends non-streamed calls through a lean
            built-in HTTP/1.1 client (about a tenth of the SDK's CPU per call,
            which matters when many agents run at once); ``"sdk"`` sends every
            call through the ``openai`` SDK. Streamed calls, and any call when
            ``client_kwargs`` are given, always use the SDK.
        **kwargs: request parameters sent with every call (temperature, max_tokens, ...).

    Raises (on the first call):
        MissingExtraError: the ``openai`` package is not installed.
        MissingAPIKeyError: no key is configured and the server is not local.
    """

    def __init__(
        self,
        model_id: str,
        api_base: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60,
        max_retries: int = 3,
        retry_delay: float = 0.5,
        max_retry_delay: float = 8.0,
        client_kwargs: dict[str, Any] | None = None,
        transport: str = "fast",
        **kwargs: Any,
    ):
        if transport not in ("fast", "sdk"):
            raise ValueError(f"transport must be 'fast' or 'sdk', not {transport!r}")
        super().__init__(
            model_id, timeout=timeout, max_retries=max_retries, retry_delay=retry_delay,
            max_retry_delay=max_retry_delay, completion_kwargs=kwargs,
        )
        self.api_base = api_base
        self.api_key = api_key
        self.client_kwargs = dict(client_kwargs or {})
        self._clients: PerLoop[Any] = PerLoop(self._make_client)
        self.transport = "sdk" if client_kwargs else transport
        self._fast_clients: PerLoop[Any] = PerLoop(self._make_fast_client)

    def _resolved_key(self) -> str:
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            return key
        if is_local_url(self.api_base):
            return LOCAL_PLACEHOLDER_KEY
        where = f"the server at {self.api_base}" if self.api_base else "OpenAI"
        raise MissingAPIKeyError(f"{self._describe()} has no API key for {where}: set the OPENAI_API_KEY environment variable")

    def _check_ready(self) -> None:
        if self.transport == "sdk":  # the fast path needs no SDK (importing it takes seconds)
            _import_openai()
        self._resolved_key()

    def _make_client(self) -> Any:
        openai = _import_openai()

        # The SDK's own retries are off: ours are the same for every backend.
        return openai.AsyncOpenAI(
            api_key=self._resolved_key(), base_url=self.api_base, timeout=self.timeout, max_retries=0, **self.client_kwargs
        )

    def _make_fast_client(self) -> Any:
        from ._fast_http import FastJSONClient

        return FastJSONClient(
            self.api_base or "https://api.openai.com/v1", headers={"Authorization": f"Bearer {self._resolved_key()}"}, timeout=self.timeout
        )

    async def _create(self, request: dict[str, Any], stream: bool) -> Any:
        if not stream and self.transport == "fast":
            return await self._fast_clients.get().post_json("/chat/completions", request)
        client = self._clients.get()
        if stream:
            return await client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
        return await client.chat.completions.create(**request)

    def _translate(self, exc: BaseException) -> Failure | SmolkernelError | None:
        from ._fast_http import failure_from_fast_error

        fast = failure_from_fast_error(exc, timeout=self.timeout)
        return fast if fast is not None else failure_from_openai_error(exc, timeout=self.timeout)

    def _describe(self) -> str:
        where = f" at {self.api_base}" if self.api_base else ""
        return f"OpenAIServerModel({self.model_id!r}){where}"

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop."""
        client = self._clients.pop_current()
        if client is not None:
            await client.close()
        fast = self._fast_clients.pop_current()
        if fast is not None:
            await fast.aclose()


def _import_openai() -> Any:
    """The ``openai`` SDK (streamed calls, ``transport="sdk"``).

    Raises:
        MissingExtraError: it is not installed.
    """
    try:
        import openai
    except ImportError:
        raise MissingExtraError("openai", "openai", "OpenAIServerModel") from None
    return openai
