"""What a task's output becomes: a stored DataReference, inline when small, a file when big.

An inline JSON value is stored once (its JSON text); the wire form with both
`data` and the base64 `uri` that AI-Effect's orchestrator decodes is built
when the output is served. A value whose JSON exceeds the service's
`SERVICE_INLINE_MAX_BYTES` is written to `output.json` in the task's folder
and returned as a `file` reference with a small summary in `data`, unless the
method was declared with `@method(spill=False)`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .entry import dumps
from .models import DataReference, ExecuteResponse

SPILL_NAME = "output.json"
_INLINE_KEYS = frozenset({"protocol", "uri", "format", "data"})


def summary(value: Any, size: int) -> dict[str, Any]:
    """A few facts about a spilled value, small enough to travel inline."""
    info: dict[str, Any] = {"bytes": size, "type": type(value).__name__}
    if isinstance(value, dict):
        info["keys"] = list(value)[:20]
        info["length"] = len(value)
    elif isinstance(value, (list, str)):
        info["length"] = len(value)
    return info


def store_output(value: Any, *, inline_max: int, spill: bool,
                 path_for: Callable[[str], Path]) -> tuple[bytes, bool]:
    """Whatever a method returned, as (stored JSON, is-an-inline-value).

    `path_for(name)` gives a file in the task's folder, for a spilled value.
    """
    if isinstance(value, ExecuteResponse):
        value = value.output
    if isinstance(value, DataReference):
        ref = value.model_dump(mode="json", exclude_none=True)
    elif isinstance(value, dict) and {"protocol", "uri", "format"} <= value.keys():
        ref = DataReference.model_validate(value).model_dump(mode="json", exclude_none=True)
    else:
        ref = None
    if ref is not None:
        is_value = (ref["protocol"].lower() == "inline" and ref["format"].lower() == "json"
                    and ref.get("data") is not None and ref.keys() <= _INLINE_KEYS)
        if not is_value:
            return dumps(ref), False
        value = ref["data"]
    raw = dumps(value)
    if spill and len(raw) > inline_max:
        path = path_for(SPILL_NAME)
        path.write_bytes(raw)
        ref = DataReference(protocol="file", uri=path.as_uri(), format="json", data=summary(value, len(raw)))
        return dumps(ref.model_dump(mode="json", exclude_none=True)), False
    return raw, True


def wire_output(stored: bytes, inline: bool) -> bytes:
    """The DataReference JSON as served: an inline value gets its `uri` (base64) and `data`."""
    if not inline:
        return stored
    return (b'{"protocol":"inline","uri":"' + base64.b64encode(stored) + b'","format":"json","data":'
            + stored + b"}")
