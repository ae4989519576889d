"""SpaceTool: one endpoint of a Gradio app (a Hugging Face Space or any URL) as a Tool.

::

    upscale = Tool.from_space("http://127.0.0.1:7860/", api_name="/red_square")
    upscale(size=16)          # -> Media (image/webp), shown as an image

Built on ``gradio_client.Client(src, token=...)``: the inputs come from the
app's API description (``view_api``): each parameter's name, JSON type and
default; outputs that are files (images, sounds, videos, files, galleries)
come back as ``Media``, shown as displays; an endpoint with several outputs
returns a list. Errors in the app and calls that take longer than
``timeout`` raise ``ToolServerError``, which the agent shows the model.

Differences from smolagents' ``Tool.from_space``: the token is passed as
``token=`` (current gradio_client's keyword), every named endpoint is
reachable with ``api_name``, and files are returned as ``Media`` rather than
as paths into gradio's temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError, MissingExtraError, ToolServerError
from ._foreign import input_spec, python_name
from .base import Tool
from .media import Media

__all__ = ["SpaceTool", "tools_from_entry"]

FILE_COMPONENTS = frozenset({"Image", "Audio", "Video", "File", "Model3D", "Gallery", "ImageEditor", "AnnotatedImage", "SimpleImage"})
"""Gradio output components whose values are files (returned as ``Media``)."""


class SpaceTool(Tool):
    """A Gradio app's endpoint as a tool (use ``Tool.from_space``).

    Args:
        space_id_or_url: a Space id (``org/name``) or the app's URL.
        api_name: the endpoint (``/predict``); may be left out when the app
            has one named endpoint, or has ``/predict``.
        name: the tool's name (default: from the endpoint's name).
        description: what the tool does (default: the endpoint's description).
        token: a Hugging Face token for private Spaces.
        timeout: seconds one call may take.

    Raises:
        ConfigurationError: the app cannot be reached, or ``api_name`` names no endpoint.
        MissingExtraError: ``gradio_client`` is not installed.
    """

    def __init__(self, space_id_or_url: str, *, api_name: str | None = None, name: str | None = None,
                 description: str | None = None, token: str | None = None, timeout: float = 120.0) -> None:
        self.src = space_id_or_url
        self.timeout = timeout
        self.client = _connect(space_id_or_url, token)
        endpoints = _endpoints(self.client, space_id_or_url)
        self.api_name = _pick_endpoint(endpoints, api_name, space_id_or_url)
        endpoint = endpoints[self.api_name]
        self._parameters: list[tuple[str, str]] = []
        inputs: dict[str, dict[str, Any]] = {}
        for param in endpoint.get("parameters", []):
            original = param.get("parameter_name") or param.get("label") or f"arg{len(inputs)}"
            key = python_name(str(original), set(inputs) | {"self"})
            schema = dict(param.get("type") or {})
            if param.get("parameter_has_default"):
                schema["default"] = param.get("parameter_default")
            label = param.get("label") or original
            hint = (param.get("python_type") or {}).get("description") or ""
            inputs[key] = input_spec(schema, required=not param.get("parameter_has_default"),
                                     fallback_description=f"{label} ({param.get('component', 'input')}){': ' + hint if hint else ''}")
            self._parameters.append((key, str(original)))
        self._returns = [r.get("component", "") for r in endpoint.get("returns", [])]
        self.inputs = inputs  # type: ignore[misc]
        self.name = name or python_name(self.api_name.strip("/") or "space", tool=True)  # type: ignore[misc]
        self.description = (description or endpoint.get("description") or  # type: ignore[misc]
                            f"Calls the {self.api_name} endpoint of the Gradio app {space_id_or_url}.")
        self.output_type = _output_type(self._returns)  # type: ignore[misc]
        entry: dict[str, Any] = {"space": space_id_or_url, "api_name": self.api_name}
        entry.update({k: v for k, v in (("name", name), ("description", description)) if v})
        self.spec_entry = entry
        """The agent-spec entry that gives this tool back (a token is never written; use ``token_env``)."""
        super().__init__()

    def forward(self, **kwargs: Any) -> Any:
        """Call the endpoint and convert its outputs (files become ``Media``)."""
        arguments = {original: kwargs[key] for key, original in self._parameters if key in kwargs}
        try:
            job = self.client.submit(api_name=self.api_name, **arguments)
        except Exception as exc:  # gradio_client raises plain ValueErrors, httpx errors...
            raise ToolServerError(f"{self.name}: the Gradio app {self.src} refused the call: {_message(exc)}") from None
        try:
            result = job.result(timeout=self.timeout)
        except TimeoutError:
            job.cancel()
            raise ToolServerError(f"{self.name}: the Gradio app {self.src} did not answer within {self.timeout:g} s") from None
        except Exception as exc:
            raise ToolServerError(f"{self.name} failed in the Gradio app {self.src}: {_message(exc)}") from None
        if len(self._returns) > 1 and isinstance(result, (list, tuple)):
            return [_convert(value, component) for value, component in zip(result, self._returns)]
        return _convert(result, self._returns[0] if self._returns else "")


_ENTRY_KEYS = frozenset({"space", "api_name", "name", "description", "token_env", "timeout"})


def tools_from_entry(entry: Mapping[str, Any], context: Any = None) -> list[Tool]:
    """The tool of an agent spec's ``{space: ID_OR_URL, api_name: ..., token_env: VAR}`` entry.

    Raises:
        ConfigurationError: an unknown key, an unset ``token_env`` variable,
            an unreachable app or an unknown endpoint.
    """
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ConfigurationError(f"unknown key(s) {unknown} in a space tool entry; its keys: {sorted(_ENTRY_KEYS)}")
    token = None
    if entry.get("token_env"):
        token = os.environ.get(str(entry["token_env"]))
        if not token:
            raise ConfigurationError(f"the environment variable {entry['token_env']} (token_env) is not set")
    options = {k: entry[k] for k in ("api_name", "name", "description", "timeout") if entry.get(k) is not None}
    made = SpaceTool(str(entry["space"]), token=token, **options)
    made.spec_entry = dict(entry)
    return [made]


def _connect(src: str, token: str | None) -> Any:
    try:
        from gradio_client import Client
    except ImportError:
        raise MissingExtraError("gradio_client", "space", "Tool.from_space") from None
    try:
        return Client(src, token=token, verbose=False, analytics_enabled=False)
    except Exception as exc:  # unreachable host, not a Gradio app, private Space without token
        raise ConfigurationError(f"Tool.from_space: could not reach the Gradio app {src!r}: {_message(exc)}") from None


def _endpoints(client: Any, src: str) -> dict[str, dict[str, Any]]:
    try:
        info = client.view_api(return_format="dict", print_info=False)
    except Exception as exc:
        raise ConfigurationError(f"Tool.from_space: could not read the API description of {src!r}: {_message(exc)}") from None
    endpoints = dict(info.get("named_endpoints") or {})
    if not endpoints:
        raise ConfigurationError(f"Tool.from_space: the Gradio app {src!r} has no named API endpoints")
    return endpoints


def _pick_endpoint(endpoints: dict[str, Any], api_name: str | None, src: str) -> str:
    names = ", ".join(endpoints)
    if api_name is None:
        if len(endpoints) == 1:
            return next(iter(endpoints))
        if "/predict" in endpoints:
            return "/predict"
        raise ConfigurationError(f"Tool.from_space: the Gradio app {src!r} has several endpoints ({names}); choose one with api_name=")
    wanted = api_name if api_name.startswith("/") else f"/{api_name}"
    if wanted not in endpoints:
        raise ConfigurationError(f"Tool.from_space: the Gradio app {src!r} has no endpoint {api_name!r}; its endpoints: {names}")
    return wanted


def _output_type(components: list[str]) -> str:
    if len(components) != 1:
        return "array" if components else "any"
    return {"Textbox": "string", "Number": "number", "Checkbox": "boolean", "Markdown": "string"}.get(components[0], "any")


def _convert(value: Any, component: str) -> Any:
    """A file path (or gradio file dict) from a file component becomes ``Media``."""
    if component not in FILE_COMPONENTS:
        return value
    if isinstance(value, (list, tuple)):
        return [_convert(item, component) for item in value]
    path = value
    if isinstance(value, dict):
        path = next((value[k] for k in ("path", "image", "video", "name") if isinstance(value.get(k), str)), None)
        if isinstance(value.get("image"), dict) or isinstance(value.get("video"), dict):
            inner = value.get("image") or value.get("video")
            path = inner.get("path")
    if isinstance(path, str) and Path(path).is_file():
        return Media.from_file(path)
    return value


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= 500 else text[:497] + "..."
