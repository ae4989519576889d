"""resolve_model: one function that turns a model spec (a string) into a Model.

Accepted forms:

=============================  ==========================================
``"openai/gpt-4o-mini"``       LiteLLMModel; any litellm id (``provider/model``,
                               or a bare name litellm knows, e.g. ``gpt-4o``)
``"hf:ORG/NAME"``              InferenceClientModel (Hugging Face Inference)
``"transformers:PATH"``        TransformersModel (local weights; PATH or a Hub id)
``"openai-server:MODEL"``      OpenAIServerModel (the ``openai`` SDK against
                               ``api_base``, e.g. vLLM, Ollama, LM Studio)
``"scripted:FILE"``            ScriptedModel reading a JSON or YAML list
``"replay:FILE"``              ReplayModel serving a recorded cassette
a ``Model`` instance           returned as it is
``None`` or ``""``             the spec in ``$SMOLKERNEL_MODEL``
=============================  ==========================================

``"openai/..."`` always goes to LiteLLMModel (as the design says), also with
``api_base``; ask for ``openai-server:`` to use the ``openai`` SDK directly.
``api_base`` and ``api_key_env`` apply to the HTTP backends; local ones
(``transformers:``, ``scripted:``) ignore them.

Adding a form (e.g. ``replay:FILE``) is one builder function
``(rest, options) -> Model`` and one entry in ``_BUILDERS``; the error for
unknown specs lists the entries, so it stays true.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError, MissingAPIKeyError, UnknownModelError
from .base import Model

__all__ = ["resolve_model", "DEFAULT_MODEL_ENV"]

RECORD_ENV = "SMOLKERNEL_RECORD"
"""When set, every model built here records its calls to that cassette file."""

DEFAULT_MODEL_ENV = "SMOLKERNEL_MODEL"
"""The environment variable naming the default model spec."""


@dataclass
class _Options:
    """What a builder receives besides the spec's own part."""

    api_base: str | None = None
    api_key: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def _build_litellm(model_id: str, options: _Options) -> Model:
    from .litellm_model import LiteLLMModel

    return LiteLLMModel(model_id, api_base=options.api_base, api_key=options.api_key, **options.kwargs)


def _build_inference_client(model_id: str, options: _Options) -> Model:
    from .inference_client import InferenceClientModel

    return InferenceClientModel(model_id, token=options.api_key, api_base=options.api_base, **options.kwargs)


def _build_openai_server(model_id: str, options: _Options) -> Model:
    from .openai_server import OpenAIServerModel

    return OpenAIServerModel(model_id, api_base=options.api_base, api_key=options.api_key, **options.kwargs)


def _build_transformers(path: str, options: _Options) -> Model:
    from .transformers_model import TransformersModel

    return TransformersModel(path, **options.kwargs)


def _build_replay(path: str, options: _Options) -> Model:
    from .cassette import ReplayModel

    return ReplayModel(os.path.expanduser(path))


def _build_scripted(path: str, options: _Options) -> Model:
    from .scripted import ScriptedModel

    return ScriptedModel.from_file(os.path.expanduser(path), **options.kwargs)


_BUILDERS: dict[str, tuple[Callable[[str, _Options], Model], str]] = {
    "hf": (_build_inference_client, "hf:ORG/NAME (Hugging Face Inference)"),
    "transformers": (_build_transformers, "transformers:PATH (local weights)"),
    "openai-server": (_build_openai_server, "openai-server:MODEL (an OpenAI-compatible server at api_base)"),
    "scripted": (_build_scripted, "scripted:FILE (a JSON or YAML list of replies)"),
    "replay": (_build_replay, "replay:FILE (a cassette recorded with --record)"),
}
"""Spec prefix -> (builder, how the form is written, for error messages)."""

_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.*)$", re.DOTALL)
_LITELLM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.\-:@+]+)*$")


def resolve_model(
    spec: str | Model | None,
    *,
    api_base: str | None = None,
    api_key_env: str | None = None,
    record: str | None = None,
    **kwargs: Any,
) -> Model:
    """Return the Model a spec names (see the module docs for the forms).

    Args:
        spec: a spec string, a Model (returned unchanged), or ``None``/``""``
            for ``$SMOLKERNEL_MODEL``.
        api_base: the server's base URL, for the HTTP backends.
        api_key_env: the environment variable holding the API key.
        record: a cassette file to record every call to (default:
            ``$SMOLKERNEL_RECORD``, when set); replay with ``replay:FILE``.
        **kwargs: passed to the backend's constructor (timeout, temperature, ...).

    Raises:
        ConfigurationError: no spec and ``$SMOLKERNEL_MODEL`` is unset.
        MissingAPIKeyError: ``api_key_env`` names a variable that is not set.
        UnknownModelError: the spec is none of the accepted forms.
    """
    if isinstance(spec, Model):
        return spec
    text = _spec_text(spec)
    match = _PREFIX.match(text)
    if match:
        prefix, rest = match.group(1).lower(), match.group(2).strip()
        entry = _BUILDERS.get(prefix)
        if entry is None or not rest:
            problem = f"unknown model prefix {prefix!r}" if entry is None else f"{prefix}: needs a name after the colon"
            raise UnknownModelError(_unknown_message(text, problem))
        builder = entry[0]
    elif _LITELLM_ID.match(text):
        builder, rest = _build_litellm, text
    else:
        raise UnknownModelError(_unknown_message(text, "this is not a model id"))
    local = builder in (_build_transformers, _build_scripted, _build_replay)
    options = _Options(
        api_base=None if local else api_base,
        api_key=None if local else _read_key(api_key_env),
        kwargs=kwargs,
    )
    model = builder(rest, options)
    described = {"api_base": api_base, "api_key_env": api_key_env, **kwargs}
    model.model_spec = text  # type: ignore[attr-defined]  # so agent.to_spec() can name the model again
    model.model_spec_options = {k: v for k, v in described.items() if v is not None}  # type: ignore[attr-defined]
    cassette = record if record is not None else os.environ.get(RECORD_ENV)
    if cassette and builder is not _build_replay:
        from .cassette import RecordingModel

        recording = RecordingModel(model, os.path.expanduser(cassette))
        recording.model_spec, recording.model_spec_options = model.model_spec, model.model_spec_options  # type: ignore[attr-defined]
        model = recording
    return model


def _spec_text(spec: Any) -> str:
    if spec is not None and not isinstance(spec, str):
        raise UnknownModelError(f"a model must be a spec string or a Model instance, not {type(spec).__name__}")
    text = (spec or "").strip() or os.environ.get(DEFAULT_MODEL_ENV, "").strip()
    if not text:
        raise ConfigurationError(
            "no model is set. Name one, e.g. resolve_model('openai/gpt-4o-mini') or %model openai/gpt-4o-mini, "
            f"or set the {DEFAULT_MODEL_ENV} environment variable to a model spec"
        )
    return text


def _read_key(variable: str | None) -> str | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise MissingAPIKeyError(f"the API key variable {variable} is not set: set it (e.g. export {variable}=...)", hint="or name another one")
    return value


def _unknown_message(text: str, problem: str) -> str:
    forms = ["PROVIDER/MODEL (any litellm id, e.g. openai/gpt-4o-mini)"] + [form for _, form in _BUILDERS.values()]
    return f"cannot resolve model {text!r}: {problem}. Accepted forms: " + "; ".join(forms)
