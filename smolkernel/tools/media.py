"""Media: an image, a sound or a file that a tool returned, shown as a display.

Tools from outside (an MCP server, a Gradio app) return binary content. A
``Media`` keeps its bytes and MIME type; it implements ``_repr_mimebundle_``,
so Jupyter (and the step's displays, and an HTML report) show an image as an
image and a sound as a player, while the model reads only its short ``repr``
(``<image/png, 1,234 bytes>``). ``save(path)`` writes the bytes to a file.
"""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path
from typing import Any

__all__ = ["Media"]

_INLINE_LIMIT = 20_000_000
"""Bytes above which a display shows a note instead of embedding the content."""


class Media:
    """Binary content with a MIME type (an image, a sound, a file).

    Args:
        data: the bytes.
        mime_type: e.g. ``image/png``; guessed from ``name`` when None.
        name: a file name or URI the content came from, if any.
    """

    def __init__(self, data: bytes, mime_type: str | None = None, *, name: str | None = None) -> None:
        self.data = bytes(data)
        guessed = mimetypes.guess_type(name)[0] if name else None
        self.mime_type = mime_type or guessed or "application/octet-stream"
        self.name = name

    @classmethod
    def from_base64(cls, text: str, mime_type: str | None = None, *, name: str | None = None) -> Media:
        """Media from base64 text (as MCP sends images and blobs).

        Raises:
            ValueError: ``text`` is not valid base64.
        """
        try:
            data = base64.b64decode(text, validate=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"the {mime_type or 'binary'} content is not valid base64: {exc}") from None
        return cls(data, mime_type, name=name)

    @classmethod
    def from_file(cls, path: str | Path, mime_type: str | None = None) -> Media:
        """Media read from a file (its type guessed from the name unless given)."""
        path = Path(path)
        return cls(path.read_bytes(), mime_type, name=path.name)

    @property
    def kind(self) -> str:
        """``image``, ``audio``, ``video``, ``text`` or ``application``."""
        return self.mime_type.split("/", 1)[0]

    def save(self, path: str | Path) -> Path:
        """Write the bytes to ``path``; returns the path."""
        target = Path(path)
        target.write_bytes(self.data)
        return target

    def to_base64(self) -> str:
        """The bytes as base64 text."""
        return base64.b64encode(self.data).decode("ascii")

    def __repr__(self) -> str:
        where = f" {self.name}" if self.name else ""
        return f"<{self.mime_type}{where}, {len(self.data):,} bytes>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Media) and (self.data, self.mime_type) == (other.data, other.mime_type)

    __hash__ = None  # type: ignore[assignment]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Jupyter's display protocol: the image or a player, with a text form."""
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        if len(self.data) > _INLINE_LIMIT:
            return bundle
        if self.mime_type in ("image/png", "image/jpeg", "image/gif"):
            bundle[self.mime_type] = self.to_base64()
        elif self.mime_type == "image/svg+xml":
            bundle[self.mime_type] = self.data.decode("utf-8", "replace")
        elif self.kind in ("image", "audio", "video"):
            tag = "img" if self.kind == "image" else self.kind
            source = f"data:{self.mime_type};base64,{self.to_base64()}"
            label = html.escape(repr(self))
            if tag == "img":
                bundle["text/html"] = f'<img src="{source}" alt="{label}"/>'
            else:
                bundle["text/html"] = f'<{tag} controls src="{source}" title="{label}"></{tag}>'
        return bundle
