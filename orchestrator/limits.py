"""Request body limit (`ORCHESTRATOR_MAX_BODY_BYTES`): 413 before a large body is read whole.

A pure ASGI middleware: a declared `Content-Length` above the limit is answered
at once without reading the body; a body without one (chunked) is counted as it
streams in and refused as soon as it passes the limit, so a refused body never
sits in memory whole.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (ORCHESTRATOR_MAX_BODY_BYTES)")


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body larger than {limit} bytes (ORCHESTRATOR_MAX_BODY_BYTES)",
                         "field": "Content-Length"}, status_code=413, headers={"Connection": "close"})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                if not value.strip().isdigit():
                    await JSONResponse({"detail": "Content-Length header is not a number",
                                        "field": "Content-Length"}, status_code=400)(scope, receive, send)
                    return
                if int(value) > limit:
                    await _too_large(limit)(scope, receive, send)
                    return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)

