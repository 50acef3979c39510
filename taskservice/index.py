"""Ordered indexes over the retained task records, for queries.

One sorted list of keys per value of each indexed field (status, method,
workflow_id, user) plus one of every task, keyed by creation time: a filtered
query with a limit walks the smallest matching index newest first, so it
costs about O(limit + log n), not O(retained). A condition no index serves
filters that index-narrowed walk.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedList

from .query import Condition, to_micros

if TYPE_CHECKING:
    from .entry import Entry

#: Record fields with an index, as the query module names them (attribute names of an Entry).
INDEXED = ("status", "method", "workflow_id", "user")
#: Time conditions an index can serve as a range.
_RANGE_OPS = frozenset({"gt", "ge", "lt", "le"})

Key = tuple[int, str]  # (created in microseconds, task id): newest last
#: Fields whose value is fixed when the task is made; only the status moves a task between indexes.
_FIXED = ("method", "workflow_id", "user")
#: Fields often empty: a task without a value is in no index of that field (saves memory per task).
_OPTIONAL = frozenset({"workflow_id", "user"})


class TaskIndex:
    """Indexes over the manager's records; updated under the manager's lock.

    An entry carries its own key and the status it is indexed under
    (`index_key`, `indexed_status`), so the index holds no per-task dict.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._all: SortedList = SortedList()
        self._by: dict[str, dict[Any, SortedList]] = {f: {} for f in INDEXED}

    def add(self, entry: Entry) -> None:
        key: Key = (to_micros(entry.created), entry.task_id)
        entry.index_key = key
        entry.indexed_status = entry.status.value
        self._all.add(key)
        self._by["status"].setdefault(entry.indexed_status, SortedList()).add(key)
        for field in _FIXED:
            value = getattr(entry, field)
            if value is not None or field not in _OPTIONAL:
                self._by[field].setdefault(value, SortedList()).add(key)

    def changed(self, entry: Entry) -> None:
        key = entry.index_key
        status = entry.status.value
        if key is None or status == entry.indexed_status:
            return
        self._remove("status", entry.indexed_status, key)
        self._by["status"].setdefault(status, SortedList()).add(key)
        entry.indexed_status = status

    def _remove(self, field: str, value: Any, key: Key) -> None:
        index = self._by[field].get(value)
        if index is not None:
            index.discard(key)
            if not index:
                del self._by[field][value]

    def forget(self, entries: list[Entry]) -> None:
        for entry in entries:
            key = entry.index_key
            if key is None:
                continue
            entry.index_key = None
            self._all.discard(key)
            self._remove("status", entry.indexed_status, key)
            for field in _FIXED:
                value = getattr(entry, field)
                if value is not None or field not in _OPTIONAL:
                    self._remove(field, value, key)

    def query(self, conds: list[Condition], limit: int, offset: int,
              match: Callable[[str], bool]) -> tuple[list[str], int]:
        """Ids of the tasks matching every condition, newest first, and how many match in all.

        `match(task_id)` tests every condition on a record; it is called only
        where the index cannot answer alone.
        """
        with self._lock:
            return self._query(conds, limit, offset, match)

    def _query(self, conds: list[Condition], limit: int, offset: int,
               match: Callable[[str], bool]) -> tuple[list[str], int]:
        lo, hi = 0, None  # created range, microseconds, inclusive
        choices: list[tuple[int, int, list[SortedList]]] = []  # (size, condition number, indexes)
        served: set[int] = set()
        for n, (attr, op, value) in enumerate(conds):
            if attr == "created" and op in _RANGE_OPS and isinstance(value, int):
                if op in ("gt", "ge"):
                    lo = max(lo, value + 1 if op == "gt" else value)
                else:
                    bound = value - 1 if op == "lt" else value
                    hi = bound if hi is None else min(hi, bound)
                served.add(n)
            elif attr in INDEXED and op in ("eq", "in"):
                values = value if op == "in" else [value]
                if attr in _OPTIONAL and None in values:
                    continue  # tasks without a value are in no index of this field
                by = self._by[attr]
                lists = [by[v] for v in dict.fromkeys(values) if _hashable(v) and v in by]
                choices.append((sum(len(x) for x in lists), n, lists))
        if choices:
            _, chosen, lists = min(choices, key=lambda c: c[0])
            exact = served | {chosen}
        else:
            chosen, lists, exact = -1, [self._all], served
        bounds = [_span(index, lo, hi) for index in lists]
        residual = len(exact) < len(conds)
        if not residual and len(lists) <= 1:  # the index answers alone: slice it
            if not lists:
                return [], 0
            (index,), ((a, b),) = lists, bounds
            total = b - a
            stop = b - offset
            start = max(a, stop - limit)
            ids = [key[1] for key in index.islice(start, stop, reverse=True)] if stop > a else []
            return ids, total
        walk: Iterator[Key] = heapq.merge(*(index.islice(a, b, reverse=True) for index, (a, b) in zip(lists, bounds)),
                                          reverse=True)
        if residual:
            walk = (key for key in walk if match(key[1]))
        ids, total = [], 0
        for key in walk:
            if offset <= total < offset + limit:
                ids.append(key[1])
            total += 1
        return ids, total


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _span(index: SortedList, lo: int, hi: int | None) -> tuple[int, int]:
    """Positions of the keys created within [lo, hi] microseconds."""
    a = index.bisect_left((lo,)) if lo else 0
    b = len(index) if hi is None else index.bisect_left((hi + 1,))
    return a, max(a, b)
