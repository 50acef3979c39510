"""Strict JSON for request bodies: orjson refuses NaN, Infinity, invalid UTF-8 and nesting deeper
than 1024 levels, so such bodies are a 422 naming the body instead of values no JSON answer can
carry (the cause of 500s while encoding the 422 itself).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from orchestrator.gcpause import paused_gc

MAX_DEPTH = 1024  # orjson's own nesting limit; deeper bodies are refused


class _NotANumber(float):
    """Marks where a lenient parse met NaN or Infinity."""


def _non_finite_path(raw: bytes) -> str | None:
    """The dotted path of the first NaN/Infinity in `raw`, if a lenient parse finds one."""
    def mark(text: str) -> float:
        return _NotANumber("nan")

    def walk(value: Any, path: str) -> str | None:
        if isinstance(value, _NotANumber) or (isinstance(value, float) and not math.isfinite(value)):
            return path or "body"
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for k, v in items:
            found = walk(v, f"{path}.{k}" if path and isinstance(k, str) else f"{path}[{k}]" if path else str(k))
            if found:
                return found
        return None

    try:
        return walk(json.loads(raw, parse_constant=mark), "")
    except (ValueError, RecursionError):
        return None


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                self._json = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:  # FastAPI answers a json.JSONDecodeError with a 422
                where = _non_finite_path(raw) if b"N" in raw or b"I" in raw or b"e" in raw else None
                if where is None:
                    raise
                raise json.JSONDecodeError(f"{where}: NaN and Infinity are not JSON numbers", exc.doc,
                                           exc.pos) from None
        return self._json


BIG_BODY = 1 << 20  # bytes of a declared Content-Length: a bulk request, run with the collector paused


def _declared_length(request: Request) -> int:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else 0


class StrictJSONRoute(APIRoute):
    """An APIRoute whose handler parses the body with orjson.

    A request with a big body (a 10,000-node submission: 100,000 objects and more) is handled,
    once its body is in, with the garbage collector paused until the objects made from the body
    are freed (see `gcpause`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            req = StrictJSONRequest(request.scope, request.receive)
            if _declared_length(request) < BIG_BODY:
                return await handler(req)
            await req.body()
            with paused_gc():
                try:
                    return await handler(req)
                finally:
                    req.__dict__.pop("_json", None)

        return strict


def _safe(value: Any) -> Any:
    """A JSON-encodable copy of an error's input or context (no NaN, bytes or objects)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    return str(value)


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape (`detail`: a list of errors, each with `loc`), always encodable."""
    errors = []
    for err in exc.errors():
        err = dict(err)
        if "input" in err:
            err["input"] = _safe(err["input"])
        if "ctx" in err:
            err["ctx"] = _safe(err["ctx"])
        err.pop("url", None)
        errors.append(err)
    return JSONResponse({"detail": errors}, status_code=422)
