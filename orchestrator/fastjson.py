"""JSON on the per-node path (control calls, stored outputs): orjson, with the standard library for
what orjson refuses (integers beyond 64 bits, NaN and Infinity literals), so any answer the standard
library took is still taken. orjson encodes and parses in a fraction of the time, which a worker
pays several times per node."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text."""
    return dumps_bytes(value).decode()


def dumps_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # a big integer, a non-string key, a type orjson does not know
        return json.dumps(value, separators=(",", ":")).encode()


def loads(raw: bytes | str) -> Any:
    """Parse JSON; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # NaN/Infinity or a big integer; else the same ValueError
