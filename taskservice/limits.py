"""Request body limit: 413 before a large body is read whole.

A pure ASGI middleware: a declared `Content-Length` above the limit is
refused before any of the body is read; a body streamed without one is
counted chunk by chunk and refused as soon as it passes the limit, so a
refused body never sits in memory.
"""

from __future__ import annotations

from typing import Any

import orjson

Scope = dict[str, Any]


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes the limit."""


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
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(send)
                    return
                break
        received = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
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
        body = orjson.dumps({"detail": f"request body larger than {self.max_bytes} bytes ({self.setting})"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
