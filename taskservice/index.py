"""Ordered indexes over the retained task records, for queries.

One sorted list of keys per value of each indexed field (status, method,
workflow_id, user) plus one of every task, keyed by creation time: a filtered
query with a limit walks the smallest matching index newest first, so it
costs about O(limit + log n), not O(retained). A condition no index serves
filters that index-narrowed walk.
"""

from __future__ import annotations

import heapq
import itertools
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

Key = tuple[int, int, str]  # (created in microseconds, arrival number, task id): newest last


class TaskIndex:
    """Indexes over the manager's records; updated under the manager's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._seq = itertools.count()
        self._all: SortedList = SortedList()
        self._by: dict[str, dict[Any, SortedList]] = {f: {} for f in INDEXED}
        self._keys: dict[str, tuple[Key, tuple[Any, ...]]] = {}  # task id -> key, indexed values

    @staticmethod
    def _values(entry: Entry) -> tuple[Any, ...]:
        return (entry.status.value, entry.method, entry.workflow_id, entry.user)

    def add(self, entry: Entry) -> None:
        key: Key = (to_micros(entry.created), next(self._seq), entry.task_id)
        values = self._values(entry)
        self._keys[entry.task_id] = (key, values)
        self._all.add(key)
        for field, value in zip(INDEXED, values):
            self._by[field].setdefault(value, SortedList()).add(key)

    def changed(self, entry: Entry) -> None:
        known = self._keys.get(entry.task_id)
        if known is None:
            return
        key, old = known
        new = self._values(entry)
        if new == old:
            return
        for field, before, after in zip(INDEXED, old, new):
            if before != after:
                self._remove(field, before, key)
                self._by[field].setdefault(after, SortedList()).add(key)
        self._keys[entry.task_id] = (key, new)

    def _remove(self, field: str, value: Any, key: Key) -> None:
        index = self._by[field].get(value)
        if index is not None:
            index.discard(key)
            if not index:
                del self._by[field][value]

    def forget(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            known = self._keys.pop(task_id, None)
            if known is None:
                continue
            key, values = known
            self._all.discard(key)
            for field, value in zip(INDEXED, values):
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
            ids = [key[2] for key in index.islice(start, stop, reverse=True)] if stop > a else []
            return ids, total
        walk: Iterator[Key] = heapq.merge(*(index.islice(a, b, reverse=True) for index, (a, b) in zip(lists, bounds)),
                                          reverse=True)
        if residual:
            walk = (key for key in walk if match(key[2]))
        ids, total = [], 0
        for key in walk:
            if offset <= total < offset + limit:
                ids.append(key[2])
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
