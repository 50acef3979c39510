"""Async client of a node service's control interface (template or AI-Effect style).

Every call returns a `Reply`; transport faults (refused connection, timeouts,
5xx, 408, 429) come back as `Reply(transient=True)` instead of raising, so the runner
decides about retries in one place. Faults that a retry cannot cure are said
plainly: a host the egress policy refuses (`Reply.refused`) and a 2xx answer
that is not the expected JSON object or is too large (`Reply.invalid`, a fault
of the service, named in `error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from orchestrator import fastjson
from orchestrator.egress import services_policy
from orchestrator.http11 import HTTPClient, HTTPError, ResponseTooLarge
from taskservice.models import TaskStatus
from taskservice.netpolicy import HostPolicy, PolicyRefused

_DONE = {"complete": TaskStatus.COMPLETE, "completed": TaskStatus.COMPLETE, "succeeded": TaskStatus.COMPLETE,
         "success": TaskStatus.COMPLETE, "done": TaskStatus.COMPLETE,
         "failed": TaskStatus.FAILED, "error": TaskStatus.FAILED,
         "cancelled": TaskStatus.CANCELLED, "canceled": TaskStatus.CANCELLED,
         "stopping": TaskStatus.STOPPING, "paused": TaskStatus.PAUSED}


def normalize_status(value: Any) -> TaskStatus:
    """Map any service's status word onto the one enum (unknown words count as running)."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _DONE:
            return _DONE[v]
        if v == "pending" or v == "queued":
            return TaskStatus.PENDING
    return TaskStatus.RUNNING


@dataclass
class Reply:
    status_code: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    transient: bool = False
    error: str = ""
    invalid: bool = False  # a 2xx answer that is not the expected JSON object (or too large)
    refused: bool = False  # the egress policy refused the host; nothing was sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300 and not self.invalid

    def detail(self) -> str:
        if self.error:
            return self.error
        d = self.body.get("detail") or self.body.get("error") or self.body
        return f"HTTP {self.status_code}: {d}"


class ControlClient:
    """One shared HTTP client (see `orchestrator.http11`) for every node task a worker drives."""

    def __init__(self, timeout: float = 10.0, idle_timeout: float = 4.0, *, policy: HostPolicy | None = None,
                 max_response_bytes: int | None = None) -> None:
        self.timeout = timeout
        self.http = HTTPClient(timeout=timeout, idle_timeout=idle_timeout, policy=policy,
                               max_response_bytes=max_response_bytes)

    @classmethod
    def from_settings(cls, settings: Any, timeout: float | None = None) -> ControlClient:
        """A client with the egress policy and response limit of `settings` (`orchestrator.settings`)."""
        return cls(settings.http_timeout if timeout is None else timeout, settings.http_idle_timeout,
                   policy=services_policy(settings), max_response_bytes=settings.max_response_bytes)

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _headers(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def _call(self, method: str, url: str, *, api_key: str | None, timeout: float | None = None,
                    json: Any = None, params: dict[str, str] | None = None) -> Reply:
        service = url.split("/control/", 1)[0]
        path = urlsplit(url).path
        try:
            code, raw = await self.http.request(method, url, json_body=json, params=params,
                                                headers=self._headers(api_key), timeout=timeout)
        except PolicyRefused as exc:
            return Reply(0, {}, False, f"service at {service} refused by ORCHESTRATOR_ALLOWED_SERVICES: {exc}",
                         refused=True)
        except ResponseTooLarge as exc:
            return Reply(0, {}, False, f"service at {service} answered {method} {path} with a {exc}", invalid=True)
        except HTTPError as exc:  # refused, reset, timeout, ...
            return Reply(0, {}, True, str(exc))
        try:
            body = fastjson.loads(raw) if raw else {}
        except ValueError:
            body = None
        if 200 <= code < 300 and not isinstance(body, dict):
            return Reply(code, {}, False, f"service at {service} answered {method} {path} with HTTP {code} "
                         f"but not a JSON object: {raw[:200].decode(errors='replace')!r}", invalid=True)
        if body is None:
            body = {"text": raw[:500].decode(errors="replace")}
        elif not isinstance(body, dict):
            body = {"value": body}
        return Reply(code, body, code >= 500 or code in (408, 429))  # 408/429: busy, not a verdict

    async def execute(self, base: str, body: dict[str, Any], api_key: str | None) -> Reply:
        return await self._call("POST", f"{base}/control/execute", api_key=api_key, json=body)

    async def status(self, base: str, task_id: str, wait: float, api_key: str | None) -> Reply:
        params = {"wait": f"{wait:.3f}"} if wait > 0 else None
        reply = await self._call("GET", f"{base}/control/status/{quote(task_id, safe='')}", api_key=api_key,
                                 params=params, timeout=self.timeout + wait)
        if reply.ok and not isinstance(reply.body.get("status"), str):
            reply.invalid = True
            reply.error = (f"service at {base} answered GET /control/status with HTTP {reply.status_code} "
                           f"but no status word: {str(reply.body)[:200]!r}")
        return reply

    async def output(self, base: str, task_id: str, api_key: str | None) -> Reply:
        return await self._call("GET", f"{base}/control/output/{quote(task_id, safe='')}", api_key=api_key)

    async def stop(self, base: str, task_id: str, api_key: str | None) -> Reply:
        return await self._call("POST", f"{base}/control/stop/{quote(task_id, safe='')}", api_key=api_key)
