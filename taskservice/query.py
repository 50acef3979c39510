"""Task queries for `GET /control/tasks` and `POST /control/tasks/query`.

Three styles, as users of async-task APIs expect:
- simple: `?status=running,complete&method=LongProcess&workflow_id=w1`, or seed 001's
  `?State=Completed,Cancellable=True` (a comma followed by `Name=` starts a new condition)
- deepObject: `?filter[created_at][gt]=2026-01-01T00:00:00Z&filter[status][ne]=failed`
- JSON body: `{"filter": {"created_at": {"op": "gt", "value": "..."}, "status": "complete"}}`
Conditions are joined by AND; results are newest first and paginated.

Field names are case-insensitive and include seed 001's (`Id`, `State`, `Cancellable`,
`CreationTime`, `StartingTime`, `CompletedTime`, `User`, `Progress`, `Error`); state values
may be spelled its way too (`Completed`, `NotStarted`, ...), in any case.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

FIELDS = {
    "task_id": "task_id", "id": "task_id", "method": "method", "workflow_id": "workflow_id",
    "status": "status", "state": "status", "progress": "progress", "user": "user",
    "created_at": "created", "started_at": "started", "finished_at": "finished",
    "creationtime": "created", "startingtime": "started", "completedtime": "finished",
    "cancellable": "cancellable", "error": "error",
}
TIME_FIELDS = {"created", "started", "finished"}
BOOL_FIELDS = {"cancellable"}
#: Every spelling of a state a client may send (lower-cased), and the status it means.
STATE_SPELLINGS = {
    "pending": "pending", "notstarted": "pending", "not_started": "pending", "queued": "pending",
    "waiting": "pending",
    "running": "running", "inprogress": "running",
    "stopping": "stopping", "paused": "paused",
    "complete": "complete", "completed": "complete", "succeeded": "complete", "success": "complete",
    "failed": "failed", "failure": "failed", "error": "failed",
    "cancelled": "cancelled", "canceled": "cancelled", "aborted": "cancelled",
}
OPERATORS = {"eq", "ne", "gt", "lt", "ge", "le", "like", "notlike", "in"}
_DEEP = re.compile(r"^filter\[([^\]]+)\](?:\[([^\]]+)\])?$")


class QueryError(ValueError):
    """A filter that names an unknown field or operator, or an unreadable value."""


Condition = tuple[str, str, Any]


def _parse_time(field: str, value: Any) -> float:
    if isinstance(value, (int, float)):
        if not abs(value) < 1e11:  # seconds since 1970: beyond year 5000, or NaN
            raise QueryError(f"filter on {field}: {value!r} is not a time in range")
        return to_micros(float(value))
    try:
        text = str(value).strip().replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise QueryError(f"filter on {field}: {value!r} is not an ISO 8601 time") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return to_micros(dt.timestamp())


def to_micros(ts: float) -> int:
    """Whole microseconds: the resolution of the timestamps the service reports."""
    return int(ts * 1_000_000 + 0.5) if ts >= 0 else -int(-ts * 1_000_000 + 0.5)


def condition(field: str, op: str, value: Any) -> Condition:
    """Validate one condition; time values are parsed, lists split on commas."""
    attr = FIELDS.get(field.lower())
    if attr is None:
        raise QueryError(f"unknown filter field {field!r}; known: {', '.join(sorted(set(FIELDS)))}")
    op = op.lower()
    if op not in OPERATORS:
        raise QueryError(f"unknown operator {op!r} for {field}; known: {', '.join(sorted(OPERATORS))}")
    if op in ("eq", "in") and isinstance(value, str) and "," in value:
        op, value = "in", [v.strip() for v in value.split(",") if v.strip()]
    if op == "in" and not isinstance(value, list):
        value = [value]
    if any(not isinstance(v, (str, int, float, bool)) and v is not None for v in (value if op == "in" else [value])):
        raise QueryError(f"filter on {field}: values must be strings or numbers (a list of them for 'in')")
    if attr in TIME_FIELDS and op not in ("like", "notlike"):
        value = [_parse_time(field, v) for v in value] if op == "in" else _parse_time(field, value)
    elif attr == "status" and op not in ("like", "notlike"):
        value = [_state(v) for v in value] if op == "in" else _state(value)
    elif attr in BOOL_FIELDS:
        value = [_boolean(field, v) for v in value] if op == "in" else _boolean(field, value)
    elif attr == "progress":
        try:
            value = [float(v) for v in value] if op == "in" else float(value)
        except (TypeError, ValueError) as exc:
            raise QueryError(f"filter on progress: {value!r} is not a number") from exc
    return attr, op, value


def _state(value: Any) -> str:
    """Our status word for any accepted spelling (`Completed` -> `complete`); others pass as given."""
    text = str(value).strip()
    return STATE_SPELLINGS.get(text.lower().replace(" ", ""), text)


def _boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "$true"):
        return True
    if text in ("false", "0", "no", "$false"):
        return False
    raise QueryError(f"filter on {field}: {value!r} is not true or false")


_NEXT_CONDITION = re.compile(r",\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


def split_simple(key: str, value: str) -> list[tuple[str, str]]:
    """`State=Completed,Cancellable=True` -> two conditions; `status=a,b` stays one list.

    Only a comma followed by a known field name and `=` starts a new condition.
    """
    pairs: list[tuple[str, str]] = []
    start = 0
    for match in _NEXT_CONDITION.finditer(value):
        if match.group(1).lower() in FIELDS:
            pairs.append((key, value[start:match.start()]))
            key, start = match.group(1), match.end()
    pairs.append((key, value[start:]))
    return pairs


def from_query_params(params: Iterable[tuple[str, str]]) -> list[Condition]:
    """Simple (`status=a,b`) and deepObject (`filter[f][op]=v`) conditions from a query string."""
    conds: list[Condition] = []
    deep: dict[str, dict[str, str]] = {}
    for key, value in params:
        match = _DEEP.match(key)
        if match:
            field, op = match.group(1), (match.group(2) or "value")
            deep.setdefault(field, {})[op] = value
        elif key.lower() in FIELDS:
            conds.extend(condition(k, "eq", v) for k, v in split_simple(key, value))
    for field, spec in deep.items():
        if "value" in spec:  # filter[f][op]=gt&filter[f][value]=x  (seed style)
            conds.append(condition(field, spec.get("op", "eq"), spec["value"]))
        else:  # filter[f][gt]=x
            for op, value in spec.items():
                conds.append(condition(field, op, value))
    return conds


def from_json(body: Mapping[str, Any]) -> list[Condition]:
    """Conditions from `{"field": value | {"op": ..., "value": ...} | {"gt": ...}}`."""
    conds: list[Condition] = []
    for field, spec in body.items():
        if isinstance(spec, Mapping):
            if "value" in spec:
                conds.append(condition(field, str(spec.get("op", "eq")), spec["value"]))
            else:
                conds.extend(condition(field, op, value) for op, value in spec.items())
        else:
            conds.append(condition(field, "in" if isinstance(spec, list) else "eq", spec))
    return conds


def _value(entry: Any, attr: str) -> Any:
    value = getattr(entry, attr, None)
    if attr == "status":
        return getattr(value, "value", value)
    if attr in TIME_FIELDS and value is not None:
        return to_micros(float(value))
    return value


def _test(actual: Any, op: str, expected: Any) -> bool:
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if op == "in":
        return actual in expected
    if op in ("like", "notlike"):
        hit = actual is not None and fnmatch.fnmatchcase(str(actual), str(expected).replace("%", "*"))
        return hit if op == "like" else not hit
    if actual is None:
        return False
    return {"gt": actual > expected, "lt": actual < expected,
            "ge": actual >= expected, "le": actual <= expected}[op]


def matcher(conds: list[Condition]) -> Callable[[Any], bool]:
    def match(entry: Any) -> bool:
        return all(_test(_value(entry, attr), op, value) for attr, op, value in conds)
    return match
