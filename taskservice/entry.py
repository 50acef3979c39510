"""One task's record as the manager holds it, and the helpers that shape it.

A record is a dict on the wire (`record()`); fields other parts add flow
through the stores untouched, because the stores keep the whole record as JSON
beside a few indexed columns.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from .models import ExecuteRequest, TaskStatus
from .query import to_micros
from .records import Row
from .redact import masked_callback

PENDING, RUNNING, STOPPING = TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.STOPPING
PAUSED = TaskStatus.PAUSED
COMPLETE, FAILED, CANCELLED = TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.CANCELLED
ACTIVE = frozenset({PENDING, RUNNING, STOPPING, PAUSED})
ACTIVE_VALUES = frozenset(s.value for s in ACTIVE)  # the same, as spelled in records


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC with a `Z`, as protobuf's Timestamp JSON expects."""
    global _ISO_SECOND
    if ts is None:
        return None
    second, micros = divmod(to_micros(ts), 1_000_000)
    cached = _ISO_SECOND
    if cached[0] != second:  # format the date and time once per second, not once per call
        cached = _ISO_SECOND = (second, (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{cached[1]}.{micros:06d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO_SECOND: tuple[int, str] = (-1, "")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes, the one spelling every stored record uses (orjson: non-finite floats become
    null, unknown types str; integers beyond 64 bits and the like through the standard library).

    orjson's result sits in a buffer of at least 4 KiB whatever its length; records and outputs are
    retained by the thousand, so they are copied into a bytes object of their own size.
    """
    try:
        return bytes(memoryview(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)))
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=str).encode()


def loads(raw: bytes) -> Any:
    """A stored record back as data (what `dumps` wrote, the standard library's spelling included)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def fingerprint(request: ExecuteRequest) -> bytes:
    """What makes two executes 'the same work': method, parameters and inputs."""
    if not request.parameters and not request.inputs:
        return request.method.encode()
    body = [request.method, request.parameters, [i.model_dump(mode="json") for i in request.inputs]]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def new_task_id() -> str:
    return uuid.uuid4().hex


class Entry:
    """One task's record. Slots keep 100,000 retained tasks well under 2 KB each."""

    __slots__ = (
        "task_id", "method", "workflow_id", "user", "status", "progress", "details", "error",
        "created", "started", "finished", "touched", "output", "output_inline", "fingerprint", "version",
        "cancel_event", "cancel_reason", "resource", "limit", "timeout", "job", "adoptable",
        "callback", "callback_info", "final", "interrupted", "closing", "spill", "index_key", "indexed_status",
        "cancellable", "pausable", "priority", "result", "paused_at", "paused_total",
    )

    def __init__(self, task_id: str, method: str, workflow_id: str | None, fp: bytes | None,
                 user: str | None = None) -> None:
        self.task_id = task_id
        self.method = method
        self.workflow_id = workflow_id
        self.user = user
        self.status = PENDING
        self.progress = 0.0
        self.details: dict[str, Any] | None = None
        self.error: str | None = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.touched = self.created
        self.output: bytes | None = None  # JSON of the DataReference (of the bare value when inline)
        self.output_inline = False
        self.final: bytes | None = None  # JSON of the whole record, once finished (it no longer changes)
        self.fingerprint = fp
        self.version = 0
        self.cancel_event: threading.Event | None = None  # made on demand: most tasks never wait on it
        self.cancel_reason: str | None = None
        self.resource: str | None = None
        self.limit: int | None = None
        self.timeout: float | None = None
        self.job: Callable[[], None] | None = None
        self.adoptable = False
        self.callback: dict[str, Any] | None = None
        self.callback_info: dict[str, Any] | None = None
        self.interrupted = False
        self.closing = False  # a final state is on its way to the store; not visible yet
        self.spill = True  # a big result goes to a file (see taskservice.outputs)
        self.index_key: tuple[int, str] | None = None  # set by taskservice.index
        self.indexed_status: str | None = None
        self.cancellable = True  # False: a stop is refused (423)
        self.pausable = False
        self.priority = 0  # waiting tasks start higher first
        self.result: Any = None  # the inline output value of a complete task, when small
        self.paused_at: float | None = None  # paused since (time.time())
        self.paused_total = 0.0  # seconds paused before: they do not count against the timeout

    @property
    def live(self) -> bool:
        """Active and not already ending: stops, progress and outcomes still apply."""
        return self.status in ACTIVE and not self.closing

    def record(self) -> dict[str, Any]:
        if self.final is not None:
            return loads(self.final)
        return self.build()

    def to_row(self) -> Row:
        """The entry as a record store keeps it."""
        return Row(task_id=self.task_id, status=self.status._value_, method=self.method,
                   workflow_id=self.workflow_id, user=self.user, created=to_micros(self.created),
                   started=micros_or_none(self.started), finished=micros_or_none(self.finished), touched=self.touched,
                   record=self.record_json(), output=self.output, output_inline=self.output_inline,
                   fingerprint=self.fingerprint)

    @classmethod
    def from_row(cls, row: Row) -> Entry:
        """An entry from a stored row: its record stays the JSON the store kept."""
        record = json.loads(row.record)
        entry = cls(row.task_id, row.method, row.workflow_id, row.fingerprint, row.user)
        try:
            entry.status = TaskStatus(row.status)
        except ValueError:  # a status this version does not know: treat it as unfinished
            entry.status = TaskStatus.RUNNING
        entry.created = row.created / 1_000_000
        entry.started = None if row.started is None else row.started / 1_000_000
        entry.finished = None if row.finished is None else row.finished / 1_000_000
        entry.touched = row.touched
        entry.progress = float(record.get("progress") or 0)
        entry.error = record.get("error")
        entry.interrupted = bool(record.get("interrupted"))
        entry.callback_info = record.get("callback_info")
        entry.cancellable = record.get("cancellable", True) is not False
        entry.pausable = bool(record.get("pausable"))
        entry.priority = int(record.get("priority") or 0)
        entry.output, entry.output_inline = row.output, row.output_inline
        if entry.status.finished:
            entry.final = row.record
        return entry

    def record_json(self) -> bytes:
        if self.final is not None:
            return self.final
        return dumps(self.build())

    def build(self) -> dict[str, Any]:
        rec = {
            "task_id": self.task_id,
            "method": self.method,
            "workflow_id": self.workflow_id,
            "user": self.user,
            "status": self.status._value_,
            "progress": int(self.progress),
            "details": dict(self.details) if self.details else {},
            "error": self.error,
            "interrupted": self.interrupted,
            "created_at": iso(self.created),
            "started_at": iso(self.started),
            "finished_at": iso(self.finished),
            "cancellable": self.cancellable,
            "pausable": self.pausable,
            "priority": self.priority,
            "callback": masked_callback(self.callback),
            "result": self.result,
        }
        if self.callback_info is not None:
            rec["callback_info"] = dict(self.callback_info)
        return rec


def micros_or_none(ts: float | None) -> int | None:
    return None if ts is None else to_micros(ts)
