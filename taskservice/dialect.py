"""How status words are spoken to clients: ours, or AI-Effect's three.

AI-Effect's orchestrator (IRESI-EU/ai-effect-wp3) validates every execute and
status answer against `complete | running | failed` and fails the node on any
other word. With `SERVICE_STATUS_DIALECT=ai-effect` a waiting, pausing or
stopping task reads `running`, and a cancelled one `failed` with an error that
says it was cancelled. Records are stored in our words either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import TaskStatus

_AI_EFFECT_WORDS = {
    TaskStatus.PENDING.value: TaskStatus.RUNNING.value,
    TaskStatus.STOPPING.value: TaskStatus.RUNNING.value,
    TaskStatus.PAUSED.value: TaskStatus.RUNNING.value,
    TaskStatus.CANCELLED.value: TaskStatus.FAILED.value,
}


@dataclass(frozen=True)
class Dialect:
    """Rewrites a record or execute answer for one kind of client; `plain` ones leave it as it is."""

    name: str
    plain: bool

    def record(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.plain:
            return body
        status = body.get("status")
        word = _AI_EFFECT_WORDS.get(status) if isinstance(status, str) else None
        if word is None:
            return body
        body = dict(body)
        body["status"] = word
        if status == TaskStatus.CANCELLED.value:
            reason = body.get("error")
            body["error"] = f"cancelled: {reason}" if reason else "cancelled: the task was stopped before it finished"
        return body


OURS = Dialect("ours", plain=True)
AI_EFFECT = Dialect("ai-effect", plain=False)


def dialect_for(name: str) -> Dialect:
    """The dialect named by `SERVICE_STATUS_DIALECT`."""
    return {"ours": OURS, "ai-effect": AI_EFFECT}[name]
