"""The wire contract of the control interface, as Pydantic models.

These are the single description of every payload a template service sends
or receives; `service.proto` mirrors them and a test keeps the two in step.
The orchestrator imports the same models, so both halves share one status
vocabulary.
"""

from __future__ import annotations

import base64
import json
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .ids import TASK_ID_MAX, TASK_ID_PATTERN, TASK_ID_RULE, valid_task_id


class TaskStatus(str, Enum):
    """Lifecycle of a task (and of a workflow node): one enum, used everywhere.

    Per-task code reads a member's `_value_` (a plain attribute) rather than `.value` (a
    property lookup, several times slower).
    """

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    PAUSED = "paused"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATUSES

    def __str__(self) -> str:  # f-strings and logs show the wire spelling
        return self.value


FINISHED_STATUSES = frozenset({TaskStatus.COMPLETE, TaskStatus.FAILED, TaskStatus.CANCELLED})


def inline_reference(value: Any) -> dict[str, Any]:
    """An inline DataReference as a plain dict, for hot paths that skip validation.

    `uri` holds the base64 of the JSON text (what AI-Effect's orchestrator
    validates and decodes); `data` holds the same value, ready to use.
    """
    raw = json.dumps(value, separators=(",", ":"), default=str).encode()
    return {"protocol": "inline", "uri": base64.b64encode(raw).decode("ascii"), "format": "json", "data": value}


class DataReference(BaseModel):
    """Where a piece of data lives: `inline`, `file`, `http(s)`, `s3`, ...

    Small JSON results may travel inline in `data`; large ones by reference.
    """

    model_config = ConfigDict(extra="allow")

    protocol: str
    uri: str
    format: str
    data: Any = None

    @classmethod
    def inline(cls, value: Any) -> DataReference:
        """Small JSON carried in the reference itself (see `inline_reference`)."""
        return cls(**inline_reference(value))

    def inline_value(self) -> Any:
        """The value of an inline reference: `data`, else the decoded base64 `uri`."""
        if self.data is not None:
            return self.data
        raw = base64.b64decode(self.uri, validate=True)
        return json.loads(raw) if self.format.lower() == "json" else raw.decode()


class Callback(BaseModel):
    """Where to send the task record when the task reaches a terminal state.

    The URL's host must be allowed by `SERVICE_ALLOWED_HOSTS`; `headers` (an
    `Authorization`, say) are sent with it and never shown by any route.
    """

    url: str = Field(min_length=1, max_length=2048, pattern=r"^[hH][tT][tT][pP][sS]?://[!-~]+$",
                     description="an http(s) URL")
    method: Literal["POST", "PUT", "PATCH", "post", "put", "patch"] = "POST"
    headers: dict[Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")],
                  Annotated[str, Field(max_length=8192, pattern=r"^[\t\x20-\x7e]*$")]] = Field(
        default_factory=dict, max_length=64)


class ExecuteRequest(BaseModel):
    """Body of `POST /control/execute`. Ids are made when absent.

    `priority` orders the tasks waiting for a limited method or resource:
    higher first, first come first served among equals.
    """

    method: str = Field(min_length=1, max_length=200)
    task_id: str | None = Field(default=None, max_length=TASK_ID_MAX, pattern=TASK_ID_PATTERN,
                                description=f"Made when absent; {TASK_ID_RULE}")
    workflow_id: str | None = Field(default=None, max_length=TASK_ID_MAX, pattern=TASK_ID_PATTERN,
                                    description=TASK_ID_RULE)
    inputs: list[DataReference] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    callback: Callback | None = None
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)

    @field_validator("task_id", "workflow_id")
    @classmethod
    def _not_a_path_step(cls, value: str | None) -> str | None:
        if value is not None and not valid_task_id(value):
            raise ValueError(f"must be {TASK_ID_RULE}")
        return value


class ExecuteResponse(BaseModel):
    """Answer of `POST /control/execute` (also what quick methods may return)."""

    status: TaskStatus
    task_id: str | None = None
    output: DataReference | None = None
    error: str | None = None


class TaskRecord(BaseModel):
    """Answer of `GET /control/status/{task_id}`.

    `result` is the inline value of a complete task's output (when small);
    `callback` is the callback it was given, secret-looking header values masked.
    """

    task_id: str
    method: str
    workflow_id: str | None = None
    user: str | None = None
    status: TaskStatus
    progress: float = 0
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    user: str | None = None
    interrupted: bool = False  # ended by a shutdown or restart, not by its work
    cancellable: bool = True
    pausable: bool = False
    priority: int = 0
    callback: Callback | None = None
    result: Any = None


class OutputResponse(BaseModel):
    """Answer of `GET /control/output/{task_id}`."""

    task_id: str
    output: DataReference
