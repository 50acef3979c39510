"""Routes that answer with their own Response, past FastAPI's per-request machinery.

`execute` and `status` are the template's hot paths: they parse their input
by hand and answer prebuilt JSON, so FastAPI's per-request work around an
endpoint (solving dependencies, parsing query parameters for them, two
AsyncExitStacks, a second exception wrapper) is pure overhead, about a third
of a bare FastAPI ping. A `DirectRoute` keeps everything else of an
`APIRoute` (matching, OpenAPI, tags, docs) but runs its endpoint as
`await endpoint(request)`; the route's dependencies must take only the
Request (the template's authentication does) and run first, in order.
Exceptions go to the app's exception handlers as from any route
(Starlette's `ExceptionMiddleware`). `bench/service.py` measures the effect.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Request], Awaitable[None]]


class DirectRoute(APIRoute):
    """An APIRoute whose endpoint takes the Request and returns a Response; see the module docstring."""

    def __init__(self, path: str, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        guards = [_guard_of(dep.dependency) for dep in self.dependencies]
        self.app = _direct_app(endpoint, guards)


def _guard_of(dependency: Any) -> Guard:
    """A route dependency as a guard: a coroutine function of the Request alone."""
    params = list(inspect.signature(dependency).parameters.values())
    if not inspect.iscoroutinefunction(dependency) or len(params) != 1:
        raise TypeError(f"a DirectRoute dependency must be `async def f(request)`, not {dependency!r}")
    return dependency


def _direct_app(endpoint: Endpoint, guards: list[Guard]) -> Callable[..., Awaitable[None]]:
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"a DirectRoute endpoint must be `async def f(request) -> Response`, not {endpoint!r}")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive, send)
        for guard in guards:
            await guard(request)
        response = await endpoint(request)
        await response(scope, receive, send)

    return app


async def read_body(request: Request) -> bytes:
    """The whole request body, read from `receive` without Request.stream's async generator.

    Kept on the request as Starlette does, so a later `await request.body()` (an exception
    handler echoing the input) gets it too.
    """
    chunks: list[bytes] = []
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            request._body = body
            return body
