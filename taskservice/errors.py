"""Error answers that cannot fail themselves.

FastAPI's default 422 handler echoes each offending input; an input that is
bytes but not UTF-8, or a float that is NaN, made that handler crash with a
500. Here every echoed input is made JSON-safe (and dropped when large), so
bad input always gets its 4xx.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

ECHO_MAX = 512  # bytes of JSON an error may echo of the offending input


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response that never fails to encode (non-finite floats become null, others str)."""
    return JSONBytes(dumps(body), status_code, headers)


class JSONBytes(Response):
    """A Response of JSON bytes whose raw headers are made in one go (the hot paths answer with it)."""

    media_type = "application/json"

    def __init__(self, content: bytes, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.body = content
        self.background = None
        raw = [(b"content-length", b"%d" % len(content)), (b"content-type", b"application/json")]
        if headers:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.raw_headers = raw


def dumps(body: Any) -> bytes:
    """JSON bytes of `body` (orjson; integers beyond 64 bits and the like through the standard library)."""
    try:
        return orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(body, default=str, separators=(",", ":")).encode()


def problem(status_code: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """`{"detail": message, ...}` with `status_code`."""
    return json_response({"detail": message, **extra}, status_code, headers)


def safe_echo(value: Any) -> Any:
    """`value` as JSON-safe data, or None when it is too large to echo."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[:ECHO_MAX]).decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        raw = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None
    return orjson.loads(raw) if len(raw) <= ECHO_MAX else None


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """The errors of `exc` with `loc`, `msg`, `type` and a safe `input`."""
    out = []
    for err in exc.errors():
        entry = {"type": str(err.get("type", "value_error")), "loc": [str(p) if not isinstance(p, int) else p
                                                                      for p in err.get("loc", ())],
                 "msg": str(err.get("msg", "invalid value"))}
        if "input" in err:
            entry["input"] = safe_echo(err["input"])
        out.append(entry)
    return out


def install(app: FastAPI) -> None:
    """Register the safe 422 handler on `app`."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        return json_response({"detail": validation_errors(exc)}, 422)
