"""LiteLLMModel: any provider litellm knows (OpenAI, Anthropic, Gemini, Ollama, Bedrock, ...)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from ..exceptions import MissingAPIKeyError, MissingExtraError, SmolkernelError, UnknownModelError
from ._chat_http import HTTPChatModel
from ._completions import is_local_url
from ._retry import Failure, failure_from_openai_error
from .base import TokenUsage

__all__ = ["LiteLLMModel"]

LOCAL_PLACEHOLDER_KEY = "not-needed"
"""Sent to a server on this machine when no key is configured."""


def import_litellm() -> Any:
    """Import litellm on first use, with its price map read from the package.

    litellm downloads its price map on import unless
    ``LITELLM_LOCAL_MODEL_COST_MAP`` is set; smolkernel sets it (unless you
    did) because no machine here reaches the network. litellm's "Give
    Feedback / Get Help" banner on every error is switched off too, so
    notebook outputs show only smolkernel's message.

    Raises:
        MissingExtraError: litellm is not installed.
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError:
        raise MissingExtraError("litellm", "litellm", "LiteLLMModel") from None
    litellm.suppress_debug_info = True
    return litellm


class LiteLLMModel(HTTPChatModel):
    """A model reached through litellm, named by a litellm id.

    Args:
        model_id: a litellm id such as ``"openai/gpt-4o-mini"``,
            ``"anthropic/claude-3-5-sonnet-latest"`` or ``"ollama/llama3"``.
        api_base: the provider's base URL, for self-hosted or proxy servers.
        api_key: the key; by default litellm reads the provider's variable
            (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ...).
        timeout: seconds per attempt.
        max_retries: retries of 429, 5xx, timeouts and refused connections,
            with exponential backoff (``retry_delay``, ``max_retry_delay``).
        **kwargs: parameters sent with every call (temperature, max_tokens, ...).

    Token usage carries the cost in dollars when litellm's price map knows
    the model, else ``None``.

    Raises (on the first call):
        MissingExtraError: litellm is not installed.
        UnknownModelError: litellm cannot tell the provider from ``model_id``.
        MissingAPIKeyError: the provider's key variable is not set.
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
        **kwargs: Any,
    ):
        super().__init__(
            model_id, timeout=timeout, max_retries=max_retries, retry_delay=retry_delay,
            max_retry_delay=max_retry_delay, completion_kwargs=kwargs,
        )
        self.api_base = api_base
        self.api_key = api_key
        self._key_variables: list[str] = []
        self._ready = False

    def _check_ready(self) -> None:
        if self._ready:
            return
        litellm = import_litellm()
        try:
            litellm.get_llm_provider(self.model_id, api_base=self.api_base)
        except Exception as exc:  # litellm raises BadRequestError for ids it cannot place
            raise UnknownModelError(
                f"litellm cannot tell which provider serves {self.model_id!r}; "
                "use a 'provider/model' id such as 'openai/gpt-4o-mini' or 'anthropic/claude-3-5-sonnet-latest'"
            ) from exc
        self._key_variables = _missing_key_variables(litellm, self.model_id, self.api_base)
        if self.api_key is None and self._key_variables and not is_local_url(self.api_base):
            names = " or ".join(self._key_variables)
            raise MissingAPIKeyError(f"LiteLLMModel({self.model_id!r}) needs an API key: set the {names} environment variable")
        self._ready = True

    def check(self) -> None:
        """Raise now when the provider is unknown or its API key is missing.

        With a key given, or a server on this machine (which needs none), there
        is nothing to check that the first call would not: litellm (3-4 s to
        import) is then left for that call.
        """
        if self.api_key is not None or is_local_url(self.api_base):
            return
        self._check_ready()

    def _effective_key(self) -> str | None:
        if self.api_key is None and self._key_variables and is_local_url(self.api_base):
            return LOCAL_PLACEHOLDER_KEY  # litellm's OpenAI client insists on some key
        return self.api_key

    async def _create(self, request: dict[str, Any], stream: bool) -> Any:
        litellm = import_litellm()
        options: dict[str, Any] = {"timeout": self.timeout, "num_retries": 0, "max_retries": 0}
        if self.api_base:
            options["api_base"] = self.api_base
        key = self._effective_key()
        if key is not None:
            options["api_key"] = key
        if stream:
            options.update(stream=True, stream_options={"include_usage": True})
        if "tools" in request and importlib.util.find_spec("mcp") is None:
            # litellm 1.106 imports the optional `mcp` package whenever tools are
            # given, to look for MCP gateway tools (we never send those); its own
            # switch skips that check, so tool calling works without `mcp`.
            options["_skip_mcp_handler"] = True
        return await litellm.acompletion(**request, **options)

    def _translate(self, exc: BaseException) -> Failure | SmolkernelError | None:
        failure = failure_from_openai_error(exc, timeout=self.timeout)
        if failure is not None and failure.status_code == 401:
            where = " or ".join(self._key_variables) or "the provider's key variable"
            failure.message += f" (the provider rejected the API key: check {where} or the api_key you passed)"
        return failure

    def _cost(self, usage: TokenUsage) -> float | None:
        litellm = import_litellm()
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=self.model_id, prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens
            )
        except Exception:  # a model litellm has no price for
            return None
        return float(prompt_cost + completion_cost)

    def _describe(self) -> str:
        where = f" at {self.api_base}" if self.api_base else ""
        return f"LiteLLMModel({self.model_id!r}){where}"


def _missing_key_variables(litellm: Any, model_id: str, api_base: str | None) -> list[str]:
    """Names of unset key variables the provider needs (not base URLs and the like)."""
    try:
        report = litellm.validate_environment(model=model_id, api_base=api_base)
    except Exception:  # detection is a courtesy; the call itself will say what is wrong
        return []
    missing = report.get("missing_keys") or []
    return [name for name in missing if "KEY" in name.upper() or "TOKEN" in name.upper()]
