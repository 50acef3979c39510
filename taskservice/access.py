"""Who is calling, and which tasks they may see.

`SERVICE_API_KEYS` maps tokens to users and roles, `SERVICE_API_KEY` is an
admin key (see `taskservice.apikeys`). A `user` sees, lists, stops and
queries only the tasks it started; anyone else's answers 404 as if it did
not exist. An `admin` sees every task. With no key configured the service is
open and every caller is the anonymous admin.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, WebSocketException
from starlette.requests import HTTPConnection

from .apikeys import ANONYMOUS, KeyRing, Principal
from .manager import TaskManager, TaskNotFound

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


class Access:
    """Authentication of requests and the ownership rule, for one app."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    @property
    def enabled(self) -> bool:
        return self.keys.enabled

    def principal(self, conn: HTTPConnection) -> Principal:
        """The caller of an HTTP request; 401 without a valid bearer token."""
        if not self.keys.enabled:
            return ANONYMOUS
        found = self.keys.from_authorization(_authorization(conn))
        if found is None:
            raise HTTPException(401, "missing or invalid bearer token", headers=UNAUTHORIZED)
        return found

    def ws_principal(self, conn: HTTPConnection) -> Principal:
        """The caller of a WebSocket; the handshake is refused (close 1008) without a valid token."""
        if not self.keys.enabled:
            return ANONYMOUS
        found = self.keys.from_authorization(_authorization(conn))
        if found is None:
            raise WebSocketException(1008, "missing or invalid bearer token")
        return found

    @staticmethod
    def owned(manager: TaskManager, who: Principal, task_id: str) -> None:
        """TaskNotFound unless `who` may see task `task_id` (admins see all)."""
        if who.is_admin:
            return
        entry = manager.lookup(task_id)
        if entry is None or not who.may_see(getattr(entry, "user", None)):
            raise TaskNotFound(task_id)


def visible(who: Principal, record: dict[str, Any]) -> bool:
    """Whether `who` may see a task record."""
    return who.may_see(record.get("user"))


def _authorization(conn: HTTPConnection) -> bytes | None:
    for name, value in conn.scope["headers"]:
        if name == b"authorization":
            return value
    return None
