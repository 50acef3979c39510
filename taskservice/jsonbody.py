"""Reading a JSON request body strictly and cheaply (orjson), with a nesting limit.

A body that is not UTF-8, not JSON, holds `NaN`/`Infinity` or numbers that
overflow to them, or nests deeper than `MAX_DEPTH` levels is refused with a
`BodyError` naming what is wrong: the route answers 422, never a 5xx.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

MAX_DEPTH = 64  # arrays and objects inside one another, the outermost counting as 1


class BodyError(ValueError):
    """A request body that cannot be accepted; `loc` and the message say why."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ("body",), kind: str = "json_invalid") -> None:
        super().__init__(message)
        self.loc = loc
        self.kind = kind

    def error(self) -> dict[str, Any]:
        """The FastAPI validation-error entry for this refusal."""
        return {"type": self.kind, "loc": self.loc, "msg": str(self), "input": None}


def parse(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `raw`; BodyError when it is not acceptable."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "utf-8" in text.lower():
            raise BodyError("body is not valid UTF-8") from None
        if "depth" in text.lower() or "recursion" in text.lower():
            raise BodyError(f"JSON nests deeper than {max_depth} levels", kind="json_too_deep") from None
        here = raw[exc.pos:exc.pos + 9] if isinstance(exc.pos, int) else b""
        if "infinity" in text.lower() or here.lstrip(b"-").startswith((b"NaN", b"Infinity")):
            raise BodyError("numbers must be finite (no NaN or Infinity)", kind="finite_number") from None
        raise BodyError(f"body is not valid JSON: {text}") from None
    # orjson refuses NaN, Infinity and numbers that overflow to them; only the depth is left to
    # check, and a body with no more brackets than the limit cannot nest deeper than it.
    if raw.count(b"[") + raw.count(b"{") > max_depth:
        check(value, max_depth)
    return value


def check(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting beyond `max_depth` and non-finite numbers (iteratively: no recursion)."""
    if _fault(value, max_depth, False) is not None:
        _fault(value, max_depth, True)  # again, tracking where, to name the field


def _fault(value: Any, max_depth: int, locate: bool) -> None:
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ("body",))]
    here: tuple[str | int, ...] = ("body",)
    while stack:
        item, depth, loc = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                return _refuse(locate, BodyError(f"JSON nests deeper than {max_depth} levels", loc, "json_too_deep"))
            stack.extend((v, depth + 1, (*loc, k) if locate else here) for k, v in item.items())
        elif isinstance(item, list):
            if depth > max_depth:
                return _refuse(locate, BodyError(f"JSON nests deeper than {max_depth} levels", loc, "json_too_deep"))
            stack.extend((v, depth + 1, (*loc, i) if locate else here) for i, v in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return _refuse(locate, BodyError("numbers must be finite (no NaN or Infinity)", loc, "finite_number"))
    return None


def _refuse(locate: bool, error: BodyError) -> Any:
    if locate:
        raise error
    return True
