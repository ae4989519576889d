"""TransformersModel: local weights run in this process with ``transformers``."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import MissingExtraError, ModelCallError
from ._completions import StopCutter, request_messages, request_tools
from .base import ChatMessage, MessageLike, Model, StreamDelta, TokenUsage, ToolCall, apply_stop

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["TransformersModel"]

_END = object()


@dataclass
class _Generation:
    """The token figures of one generation."""

    input_tokens: int
    output_ids: list[int]


class TransformersModel(Model):
    """A causal language model loaded from local weights (or the local Hub cache).

    Args:
        model_id_or_path: a directory written by ``save_pretrained``, or a Hub id
            already in the local cache.
        device: where to run, e.g. ``"cpu"`` or ``"cuda"``.
        max_new_tokens: the most tokens one reply may have.
        model_kwargs: extra arguments for ``AutoModelForCausalLM.from_pretrained``
            (``dtype``, ``trust_remote_code``, ``device_map="auto"``, ...). With
            ``device_map`` the weights stay where accelerate put them and
            ``device`` is not used.
        **kwargs: generation parameters (``do_sample``, ``temperature``, ...);
            decoding is greedy unless you ask otherwise.

    The prompt is the tokenizer's chat template, or a plain ``role: text``
    layout when the tokenizer has none. Stop sequences end generation
    (transformers' own ``StopStringCriteria``, which matches on token ids
    without decoding at every step, built once per set of stop sequences)
    and are cut from the reply. Tool calls written in
    the text (Hermes ``<tool_call>``, Llama ``<function=...>``, JSON...) are
    read for the offered tools. Token counts come from
    the tokenizer. Generation runs in a worker thread, so the event loop
    stays free; the weights load on the first call.

    Raises (on the first call):
        MissingExtraError: torch or transformers is not installed.
    """

    def __init__(
        self,
        model_id_or_path: str,
        *,
        device: str = "cpu",
        max_new_tokens: int = 256,
        model_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.model_id = str(model_id_or_path)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.model_kwargs = dict(model_kwargs or {})
        self.generate_kwargs: dict[str, Any] = kwargs
        """Generation parameters passed to ``model.generate`` on every call."""
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._stop_criteria: dict[tuple[str, ...], Any] = {}

    # -- loading and prompting -------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                try:
                    from transformers import AutoModelForCausalLM, AutoTokenizer
                except ImportError:
                    raise MissingExtraError("transformers", "transformers", "TransformersModel") from None
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_id)
                model = AutoModelForCausalLM.from_pretrained(self.model_id, **self.model_kwargs)
                if "device_map" not in self.model_kwargs:  # accelerate has already placed the weights
                    model = model.to(self.device)
                self._model = model.eval()
            return self._model, self._tokenizer

    @property
    def input_device(self) -> Any:
        """Where the prompt's tensors go: ``device``, or the first device of a ``device_map`` model."""
        return self._load()[0].device if "device_map" in self.model_kwargs else self.device

    @property
    def tokenizer(self) -> Any:
        """The tokenizer (loads the model on first use)."""
        return self._load()[1]

    def render_prompt(self, messages: Sequence[MessageLike], tools: Sequence[Tool] | None = None) -> str:
        """The prompt text the model sees for ``messages``: chat template or the fallback layout."""
        tokenizer = self.tokenizer
        dicts = request_messages(messages)
        schemas = request_tools(tools)
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(dicts, tools=schemas, add_generation_prompt=True, tokenize=False)
        return _fallback_prompt(dicts, schemas)

    def _encode(self, prompt: str) -> Any:
        templated = bool(getattr(self._tokenizer, "chat_template", None))
        # A chat template writes its own special tokens; the fallback layout does not.
        return self._tokenizer(prompt, return_tensors="pt", add_special_tokens=not templated)

    # -- generation --------------------------------------------------------------

    def _generate_ids(self, prompt: str, stop: Sequence[str] | None, streamer: Any = None, cancel: threading.Event | None = None) -> _Generation:
        """Run ``model.generate`` (blocking; called in a worker thread)."""
        model, tokenizer = self._load()
        inputs = self._encode(prompt).to(self.input_device)
        prompt_length = inputs["input_ids"].shape[1]
        options: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": False, **self.generate_kwargs}
        options.setdefault("pad_token_id", tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
        criteria = ([self._stop_criterion(tuple(stop))] if stop else []) + ([_cancel_criterion(cancel)] if cancel is not None else [])
        if criteria:
            from transformers import StoppingCriteriaList

            options["stopping_criteria"] = StoppingCriteriaList(criteria)
        try:
            import torch

            with torch.no_grad():
                output = model.generate(**inputs, streamer=streamer, **options)
        except Exception as exc:
            raise ModelCallError(f"TransformersModel({self.model_id!r}) failed to generate: {type(exc).__name__}: {exc}") from exc
        finally:
            if streamer is not None:
                streamer.end()  # harmless twice; unblocks the reader if generate raised
        return _Generation(input_tokens=int(prompt_length), output_ids=output[0, prompt_length:].tolist())

    def _stop_criterion(self, stop: tuple[str, ...]) -> Any:
        """transformers' own ``StopStringCriteria`` for ``stop``, built once and reused.

        It matches stop strings on token ids without decoding at every step;
        building it reads and sorts the whole vocabulary (about half a second
        for a 50k vocabulary), which ``generate(stop_strings=...)`` would redo
        on every call.
        """
        criterion = self._stop_criteria.get(stop)
        if criterion is None:
            from transformers import StopStringCriteria

            criterion = _gated(StopStringCriteria(self._tokenizer, list(stop)))
            if len(self._stop_criteria) >= 8:
                self._stop_criteria.pop(next(iter(self._stop_criteria)))
            self._stop_criteria[stop] = criterion
        return criterion

    def _message(self, text: str, generation: _Generation, tools: Sequence[Tool] | None) -> ChatMessage:
        usage = TokenUsage(input_tokens=generation.input_tokens, output_tokens=len(generation.output_ids))
        calls = _parse_tool_calls(text, [tool.name for tool in tools or []])
        return ChatMessage(role="assistant", content=text, tool_calls=calls, token_usage=usage)

    async def agenerate(
        self, messages: Sequence[MessageLike], *, stop: Sequence[str] | None = None, tools: Sequence[Tool] | None = None
    ) -> ChatMessage:
        """Generate a reply in a worker thread; usage counts the tokenizer's tokens.

        Raises:
            MissingExtraError: torch or transformers is not installed.
            ModelCallError: generation failed.
        """
        stop = [s for s in stop or [] if s]
        prompt = await asyncio.to_thread(self.render_prompt, messages, tools)
        generation = await asyncio.to_thread(self._generate_ids, prompt, stop)
        text = self._tokenizer.decode(generation.output_ids, skip_special_tokens=True)
        return self._message(apply_stop(text, stop), generation, tools)

    async def astream(
        self, messages: Sequence[MessageLike], *, stop: Sequence[str] | None = None, tools: Sequence[Tool] | None = None
    ) -> AsyncIterator[StreamDelta]:
        """Yield text as it is generated (``TextIteratorStreamer``); the last delta has the usage."""
        stop = [s for s in stop or [] if s]
        prompt = await asyncio.to_thread(self.render_prompt, messages, tools)  # loads the model first
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(self._generate_ids, prompt, stop, streamer, cancel))
        cutter = StopCutter(stop)
        text = ""
        try:
            pieces = iter(streamer)
            while (piece := await asyncio.to_thread(next, pieces, _END)) is not _END:
                emitted = cutter.feed(piece)
                text += emitted
                if emitted:
                    yield StreamDelta(content=emitted)
            generation = await task
        finally:
            cancel.set()  # a consumer that stops early also stops the generation
        rest = cutter.flush()
        message = self._message(text + rest, generation, tools)
        yield StreamDelta(content=rest or None, tool_calls=message.tool_calls or None, token_usage=message.token_usage)


def _gated(criterion: Any) -> Any:
    """``criterion`` (a StopStringCriteria), consulted only after a token that can end a stop string.

    The library's criterion runs a dozen tensor operations at every step; on a
    small model that is a visible share of the step. Its own tables say which
    tokens can end a stop string (a valid end length); after any other token
    its answer is "not done", so it is skipped. When the tables do not have
    the expected layout, every step consults the criterion.
    """
    import torch
    from transformers import StoppingCriteria

    can_end = _tokens_that_end(criterion)
    not_done: dict[Any, Any] = {}

    class StopStrings(StoppingCriteria):
        inner = criterion

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if can_end is not None and input_ids.shape[0] == 1:
                last = int(input_ids[0, -1])
                if last >= len(can_end) or not can_end[last]:
                    if input_ids.device not in not_done:
                        not_done[input_ids.device] = torch.zeros(1, dtype=torch.bool, device=input_ids.device)
                    return not_done[input_ids.device]
            return criterion(input_ids, scores, **kwargs)

    return StopStrings()


def _tokens_that_end(criterion: Any) -> list[bool] | None:
    """Per token id, whether it can end one of the criterion's stop strings (None: layout not as expected)."""
    try:
        table = criterion.embedding_vec
        stops, positions, ends = criterion.num_stop_strings, criterion.max_valid_positions, criterion.max_valid_end_lens
        if table.dim() != 2 or table.shape[1] != stops * (positions + ends) + 1:
            return None
        return (table[:, stops * positions : stops * (positions + ends)] > 0).any(dim=1).tolist()
    except AttributeError:
        return None


def _cancel_criterion(cancel: threading.Event) -> Any:
    """A stopping criterion that ends generation once ``cancel`` is set (a stream's consumer left)."""
    import torch
    from transformers import StoppingCriteria

    class StopOnCancel(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

    return StopOnCancel()


def _fallback_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    """A plain prompt layout for tokenizers without a chat template."""
    lines = []
    if tools:
        described = "\n".join(json.dumps(tool["function"]) for tool in tools)
        lines.append(f'system: To call a tool, answer with {{"name": ..., "arguments": {{...}}}}. Tools:\n{described}')
    for message in messages:
        content = message.get("content") or ""
        for call in message.get("tool_calls") or []:
            content += "\n" + json.dumps({"name": call["function"]["name"], "arguments": call["function"]["arguments"]})
        lines.append(f"{message['role']}: {content}")
    lines.append("assistant:")
    return "\n".join(lines)


def _parse_tool_calls(text: str, tool_names: list[str]) -> list[ToolCall]:
    """Tool calls the model wrote in its text, in any format ``parse_tool_calls`` reads, for the offered tools only."""
    if not tool_names:
        return []
    from ..agents.parsing import parse_tool_calls
    from ..exceptions import AgentParsingError

    try:
        calls = parse_tool_calls(text)
    except AgentParsingError:
        return []
    return [call for call in calls if call.name in tool_names]
