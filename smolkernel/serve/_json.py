"""JSON for the service's records, store and responses.

orjson (in the ``serve`` extra) when it is installed, the standard library
otherwise. Runs write a dozen small documents each (records, events,
responses), and orjson encodes them several times faster. Both write the
same JSON for what the service stores: non-string keys become strings, and
values JSON cannot hold are turned into text by :func:`json_safe` first.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "dumpb", "loads", "json_safe"]

try:
    import orjson
except ImportError:  # pragma: no cover - the serve extra installs it
    orjson = None

if orjson is not None:
    _OPTIONS = orjson.OPT_NON_STR_KEYS
    loads = orjson.loads

    def dumpb(value: Any) -> bytes:
        """``value`` as UTF-8 JSON bytes."""
        return orjson.dumps(value, option=_OPTIONS)

    def dumps(value: Any) -> str:
        """``value`` as a JSON text."""
        return orjson.dumps(value, option=_OPTIONS).decode()

    def _encodes(value: Any) -> bool:
        try:
            orjson.dumps(value, option=_OPTIONS)
            return True
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return False

else:
    loads = json.loads

    def dumps(value: Any) -> str:
        """``value`` as a JSON text."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def dumpb(value: Any) -> bytes:
        """``value`` as UTF-8 JSON bytes."""
        return dumps(value).encode()

    def _encodes(value: Any) -> bool:
        try:
            json.dumps(value, allow_nan=False)
            return True
        except (TypeError, ValueError, RecursionError):
            return False


def json_safe(value: Any) -> Any:
    """``value`` when it survives JSON, else its ``repr``."""
    if value is None or isinstance(value, (str, bool)):
        return value
    return value if _encodes(value) else repr(value)
