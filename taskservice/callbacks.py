"""Callbacks: send a task's final record (with its `result`) to a URL when it ends.

Delivery runs on a small pool of its own, retries with exponential backoff a
bounded number of times, and records the outcome in the task's
`callback_info`; a failing receiver never changes the task's own status.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import httpx

from . import egress
from .netpolicy import PolicyRefused
from .task import input_policy

if TYPE_CHECKING:
    from .manager import TaskManager

logger = logging.getLogger(__name__)

ATTEMPTS = 5
FIRST_DELAY = 0.2
TIMEOUT = 10.0

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback")


def deliver(manager: TaskManager, task_id: str, callback: dict[str, Any], record: dict[str, Any]) -> None:
    """Queue the delivery of `record` to `callback` (url, method, headers)."""
    _pool.submit(_send, manager, task_id, callback, record)


def _now_iso() -> str:
    """ISO 8601 UTC with a `Z`, like every other time in a record."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _send(manager: TaskManager, task_id: str, callback: dict[str, Any], record: dict[str, Any]) -> None:
    url, method = callback["url"], callback.get("method", "POST").upper()
    headers = dict(callback.get("headers") or {})  # may hold secrets: sent, never recorded or logged
    hosts = input_policy(manager).hosts
    delay, error = FIRST_DELAY, None
    info: dict[str, Any] = {"url": egress.redact(url), "status": "pending", "attempts": 0}
    with httpx.Client(timeout=TIMEOUT) as client:
        for attempt in range(1, ATTEMPTS + 1):
            info["attempts"] = attempt
            try:
                response = egress.request(client, method, url, hosts, json=record, headers=headers)
                if response.status_code < 400:
                    info.update(status="delivered", http_status=response.status_code, error=None,
                                delivered_at=_now_iso())
                    manager.record_callback(task_id, info)
                    return
                error = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this request; retrying won't help
            except PolicyRefused as exc:  # checked after resolution, each attempt; retrying won't help
                error = f"refused by SERVICE_ALLOWED_HOSTS: {exc}"
                break
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            info.update(status="retrying", error=error)
            manager.record_callback(task_id, dict(info))
            if attempt < ATTEMPTS:
                time.sleep(delay)
                delay *= 2
    info.update(status="failed", error=error)
    logger.warning("callback for task %s to %s failed after %d attempt(s): %s",
                   task_id, info["url"], info["attempts"], error)
    manager.record_callback(task_id, info)
