"""Push instead of polling: `GET /control/events` (SSE) and `/control/ws` (WebSocket).

A subscriber first receives a snapshot of the current state, then every
change in order. Worker threads never touch the event loop directly: the
manager calls our listener under its lock and the listener hands the record
over with `call_soon_threadsafe`. Progress-only updates are coalesced so a
chatty task cannot flood a slow subscriber.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from sse_starlette.sse import EventSourceResponse

from .access import Access
from .apikeys import ANONYMOUS, Principal
from .ids import id_error, valid_task_id
from .manager import ACTIVE, ACTIVE_VALUES, TaskManager, TaskNotFound

THROTTLE = 0.1  # seconds between batches of progress updates
QUEUE_MAX = 10_000


class Subscription:
    """Changes of all tasks, or of one, as an async iterator of (kind, record)."""

    def __init__(self, manager: TaskManager, task_id: str | None = None, who: Principal = ANONYMOUS) -> None:
        self.manager = manager
        self.task_id = task_id
        self.who = who  # sees only the tasks it may see
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_MAX)
        self.lagged = False

    def _listener(self, record: dict[str, Any]) -> None:  # called under the manager's lock, any thread
        if (self.task_id is None or record["task_id"] == self.task_id) and self.who.may_see(record.get("user")):
            self.loop.call_soon_threadsafe(self._put, record)

    def _put(self, record: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.lagged = True

    def snapshot(self) -> list[dict[str, Any]]:
        """Subscribe and read the current state at once: no change falls in between."""
        with self.manager._lock:
            self.manager.add_listener(self._listener)
            records = self._current()
            if self.task_id is not None and not records:
                self.manager.remove_listener(self._listener)
                raise TaskNotFound(self.task_id)
            return records

    def _current(self) -> list[dict[str, Any]]:
        """The watched task's record, or every active task's."""
        with self.manager._lock:
            if self.task_id is not None:
                entry = self.manager.lookup(self.task_id)
                return [entry.record()] if entry is not None and self.who.may_see(entry.user) else []
            return [e.record() for e in self.manager.entries() if e.status in ACTIVE and self.who.may_see(e.user)]

    def close(self) -> None:
        self.manager.remove_listener(self._listener)

    async def changes(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Batches of changes, in order, with progress-only updates of one task coalesced."""
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            if self.lagged:
                self.lagged = False
                batch = self._current()  # we dropped changes: start again from the state
            yield _coalesce(batch)
            if any(r["status"] in ACTIVE_VALUES for r in batch):
                await asyncio.sleep(THROTTLE)


def _coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop a record when the next one for the same task has the same status."""
    out: list[dict[str, Any]] = []
    for i, record in enumerate(batch):
        later = next((r for r in batch[i + 1:] if r["task_id"] == record["task_id"]), None)
        if later is not None and later["status"] == record["status"]:
            continue
        out.append(record)
    return out


async def _send_changes(ws: WebSocket, sub: Subscription, task_id: str | None) -> None:
    async for batch in sub.changes():
        for record in batch:
            await ws.send_json({"type": "task", "task": record})
            if task_id is not None and record["status"] not in ACTIVE_VALUES:
                await ws.send_json({"type": "end", "task": record})
                await ws.close()
                return


async def _until_disconnect(ws: WebSocket) -> None:
    """Return once the client has gone; anything it sends is ignored."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _until_first(*coros: Any) -> None:
    """Run the coroutines together; when one returns (or raises), cancel the others."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, WebSocketDisconnect):
                raise exc


def events_router(manager: TaskManager, dependencies: list | None = None,
                  access: Access | None = None) -> APIRouter:
    """SSE and WebSocket routes; each caller sees only the tasks it may see (`access`)."""
    router = APIRouter(prefix="/control", tags=["events"])

    @router.get("/events", dependencies=dependencies or [])
    async def events(request: Request, task_id: str | None = Query(None)) -> EventSourceResponse:
        """Server-Sent Events: `snapshot` first, then `task` changes; `end` when a watched task ends."""
        if task_id is not None and not valid_task_id(task_id):
            raise RequestValidationError([id_error(task_id, ("query", "task_id"))])
        sub = Subscription(manager, task_id, request.scope.get("principal", ANONYMOUS))
        first = sub.snapshot()

        async def stream() -> AsyncIterator[dict[str, str]]:
            try:
                yield {"event": "snapshot", "data": json.dumps({"tasks": first})}
                if task_id is not None and first[0]["status"] not in ACTIVE_VALUES:
                    yield {"event": "end", "data": json.dumps(first[0])}
                    return
                async for batch in sub.changes():
                    for record in batch:
                        yield {"event": "task", "data": json.dumps(record)}
                        if task_id is not None and record["status"] not in ACTIVE_VALUES:
                            yield {"event": "end", "data": json.dumps(record)}
                            return
            finally:
                sub.close()

        return EventSourceResponse(stream(), ping=15)

    @router.websocket("/ws")
    async def websocket(ws: WebSocket, task_id: str | None = None) -> None:
        """The same stream as JSON messages: {"type": "snapshot"|"task"|"end", ...}."""
        who = access.ws_principal(ws) if access is not None else ANONYMOUS
        await ws.accept()
        sub = Subscription(manager, task_id, who)
        try:
            try:
                first = sub.snapshot()
            except TaskNotFound as exc:
                await ws.send_json({"type": "error", "error": str(exc)})
                await ws.close(code=4404)
                return
            await ws.send_json({"type": "snapshot", "tasks": first})
            if task_id is not None and first[0]["status"] not in ACTIVE_VALUES:
                await ws.send_json({"type": "end", "task": first[0]})
                await ws.close()
                return
            # Read the socket while sending: on an idle service no change ever comes, and
            # only a read notices that the client left (or that shutdown closed the socket).
            await _until_first(_send_changes(ws, sub, task_id), _until_disconnect(ws))
        except WebSocketDisconnect:
            pass
        finally:
            sub.close()

    return router
