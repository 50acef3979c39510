"""Request body limit: 413 before a large body is read whole.

A pure ASGI middleware: a declared `Content-Length` above the limit is
refused before any of the body is read; a body streamed without one is
counted chunk by chunk and refused as soon as it passes the limit, so a
refused body never sits in memory. Both APIs use it (the template's
`SERVICE_MAX_BODY_BYTES`, the orchestrator's `ORCHESTRATOR_MAX_BODY_BYTES`).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException

Scope = dict[str, Any]


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit: an HTTP error, so that a framework reading the
    body (FastAPI turns other errors there into a 400) answers it as the 413 it is."""

    def __init__(self, max_bytes: int, setting: str) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes ({setting})")


class BodyLimit:
    """Answer 413 to request bodies above `max_bytes`."""

    def __init__(self, app: Any, max_bytes: int, setting: str = "SERVICE_MAX_BODY_BYTES") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.strip().isdigit():
                    await _answer(send, 400, {"detail": "Content-Length header is not a number",
                                              "field": "Content-Length"})
                    return
                if int(value) > self.max_bytes:
                    await self._refuse(send)
                    return
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked:
            # the server delivers no more than a declared length, and a request with neither header
            # has no body: nothing to count (the hot paths skip the wrapping below)
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes, self.setting)
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        await _answer(send, 413, {"detail": f"request body larger than {self.max_bytes} bytes ({self.setting})",
                                  "field": "Content-Length"})


async def _answer(send: Any, status: int, detail: dict[str, str]) -> None:
    """A small JSON answer that closes the connection (the rest of the body is never read)."""
    body = orjson.dumps(detail)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
