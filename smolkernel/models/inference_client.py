"""InferenceClientModel: Hugging Face Inference (providers, endpoints, TGI, any OpenAI-compatible URL)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from ..exceptions import MissingAPIKeyError, MissingExtraError, SmolkernelError
from ._chat_http import HTTPChatModel
from ._retry import Failure, failure_from_status, provider_message, transport_failure

__all__ = ["InferenceClientModel"]


class InferenceClientModel(HTTPChatModel):
    """A model served through ``huggingface_hub``'s ``AsyncInferenceClient``.

    Args:
        model_id: the model on the Hub, e.g. ``"Qwen/Qwen2.5-Coder-32B-Instruct"``.
        provider: the inference provider (``"hf-inference"``, ``"together"``,
            ``"auto"``, ...); ``None`` lets huggingface_hub choose.
        token: a Hugging Face token; defaults to ``$HF_TOKEN`` or the token
            saved by ``hf auth login``.
        api_base: a base URL (``base_url``) to talk to instead: a dedicated
            endpoint, a TGI or vLLM server, any OpenAI-compatible server.
        timeout: seconds per attempt.
        max_retries: retries of 429, 5xx, timeouts and refused connections,
            with exponential backoff (``retry_delay``, ``max_retry_delay``).
        **kwargs: parameters of ``chat_completion`` sent with every call
            (temperature, max_tokens, extra_body, ...).

    Raises (on the first call):
        MissingExtraError: huggingface_hub is not installed.
        MissingAPIKeyError: no token is available and no ``api_base`` is given.
    """

    def __init__(
        self,
        model_id: str,
        provider: str | None = None,
        token: str | None = None,
        api_base: str | None = None,
        *,
        timeout: float = 60,
        max_retries: int = 3,
        retry_delay: float = 0.5,
        max_retry_delay: float = 8.0,
        **kwargs: Any,
    ):
        super().__init__(
            model_id, timeout=timeout, max_retries=max_retries, retry_delay=retry_delay,
            max_retry_delay=max_retry_delay, completion_kwargs=kwargs,
        )
        self.provider = provider
        self.token = token
        self.api_base = api_base

    def _check_ready(self) -> None:
        try:
            from huggingface_hub import get_token
        except ImportError:
            raise MissingExtraError("huggingface_hub", "hf", "InferenceClientModel") from None
        if self.api_base is None and not (self.token or os.environ.get("HF_TOKEN") or get_token()):
            raise MissingAPIKeyError(
                f"InferenceClientModel({self.model_id!r}) needs a Hugging Face token: set the HF_TOKEN environment "
                "variable or run `hf auth login`"
            )

    def _make_client(self) -> Any:
        from huggingface_hub import AsyncInferenceClient

        if self.api_base:
            return AsyncInferenceClient(base_url=self.api_base, token=self.token, timeout=self.timeout)
        return AsyncInferenceClient(provider=self.provider, token=self.token, timeout=self.timeout)  # type: ignore[arg-type]

    async def _create(self, request: dict[str, Any], stream: bool) -> Any:
        # One client per call: the SDK keeps every streamed response open
        # until its client closes, so a long-lived client would leak them.
        client = self._make_client()
        try:
            if not stream:
                return await client.chat_completion(**request)
            chunks = await client.chat_completion(**request, stream=True, stream_options={"include_usage": True})
        except BaseException:
            await client.close()
            raise
        return _ClientStream(client, chunks)

    def _translate(self, exc: BaseException) -> Failure | SmolkernelError | None:
        return failure_from_hf_error(exc, timeout=self.timeout)

    def _describe(self) -> str:
        where = f" at {self.api_base}" if self.api_base else (f" via {self.provider}" if self.provider else "")
        return f"InferenceClientModel({self.model_id!r}){where}"


class _ClientStream:
    """A stream of chunks that closes its client when it is closed."""

    def __init__(self, client: Any, chunks: AsyncIterator[Any]):
        self._client = client
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._chunks.__aiter__()

    async def aclose(self) -> None:
        try:
            closer = getattr(self._chunks, "aclose", None)
            if closer is not None:
                await closer()
        finally:
            await self._client.close()


def failure_from_hf_error(exc: BaseException, *, timeout: float | None = None) -> Failure | None:
    """Translate an exception of ``huggingface_hub`` (or the HTTP stack below it).

    huggingface_hub 1.x talks through ``httpx``, 2.x through ``httpx2``:
    transport failures of either are recognised by :func:`transport_failure`.
    """
    from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

    if isinstance(exc, InferenceTimeoutError):
        after = f" after {timeout:g}s" if timeout else ""
        return Failure(f"the request timed out{after} (no reply from the server)", retryable=True)
    failure = transport_failure(exc, timeout=timeout)
    if failure is not None:
        return failure
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        response = exc.response
        try:
            body = response.text
        except Exception:  # a streamed response (httpx or httpx2): its body is not loaded
            body = ""
        message = provider_message(body, str(exc).splitlines()[0])
        return failure_from_status(response.status_code, message, response.headers)
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return Failure(f"the server sent a malformed reply (invalid JSON: {exc})")
    return None
