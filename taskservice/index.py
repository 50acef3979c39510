"""Ordered indexes over the retained task records, for queries.

One sorted list of keys per value of each indexed field (status, method,
workflow_id, user), per pair of a status and a value of each other field, and
one of every task, keyed by creation time: a filtered query with a limit
slices the index that serves it newest first, so it costs about
O(limit + log n), not O(retained); creation-time ranges are bisected in the
same lists. A condition no index serves filters the smallest index-narrowed
walk.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
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
        self._pairs: dict[str, dict[tuple[str, Any], SortedList]] = {f: {} for f in _FIXED}  # (status, value)

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
                self._pairs[field].setdefault((entry.indexed_status, value), SortedList()).add(key)

    def changed(self, entry: Entry) -> None:
        key = entry.index_key
        status = entry.status.value
        if key is None or status == entry.indexed_status:
            return
        self._remove("status", entry.indexed_status, key)
        self._by["status"].setdefault(status, SortedList()).add(key)
        for field in _FIXED:
            value = getattr(entry, field)
            if value is not None or field not in _OPTIONAL:
                _discard(self._pairs[field], (entry.indexed_status, value), key)
                self._pairs[field].setdefault((status, value), SortedList()).add(key)
        entry.indexed_status = status

    def _remove(self, field: str, value: Any, key: Key) -> None:
        _discard(self._by[field], value, key)

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
                    _discard(self._pairs[field], (entry.indexed_status, value), key)

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
        served: set[int] = set()
        wanted: dict[str, tuple[int, list[Any]]] = {}  # field -> (condition number, values)
        choices: list[tuple[set[int], list[SortedList]]] = []  # (conditions served, indexes to walk)
        for n, (attr, op, value) in enumerate(conds):
            if attr == "created" and op in _RANGE_OPS and isinstance(value, int):
                if op in ("gt", "ge"):
                    lo = max(lo, value + 1 if op == "gt" else value)
                else:
                    bound = value - 1 if op == "lt" else value
                    hi = bound if hi is None else min(hi, bound)
                served.add(n)
            elif attr in INDEXED and op in ("eq", "in"):
                values = list(dict.fromkeys(value if op == "in" else [value]))
                if (attr in _OPTIONAL and None in values) or not all(_hashable(v) for v in values):
                    continue  # tasks without a value are in no index of this field
                by = self._by[attr]
                choices.append(({n}, [by[v] for v in values if v in by]))
                wanted.setdefault(attr, (n, values))
        if "status" in wanted:
            n_status, statuses = wanted["status"]
            for field in _FIXED:
                if field in wanted:
                    n_field, values = wanted[field]
                    pairs = self._pairs[field]
                    lists = [pairs[(st, v)] for st in statuses for v in values if (st, v) in pairs]
                    choices.append(({n_status, n_field}, lists))
        if choices:  # the index that leaves nothing to filter, else the smallest walk
            covered, lists = min(choices, key=lambda c: (len(served | c[0]) < len(conds),
                                                         sum(len(x) for x in c[1])))
            exact = served | covered
        else:
            lists, exact = [self._all], served
        bounds = [_span(index, lo, hi) for index in lists]
        walks = [index.islice(a, b, reverse=True) for index, (a, b) in zip(lists, bounds)]
        if len(exact) == len(conds):  # the indexes answer alone (their sets are disjoint)
            total = sum(b - a for a, b in bounds)
            if len(lists) == 1:
                (index,), ((a, b),) = lists, bounds
                stop = b - offset
                start = max(a, stop - limit)
                return ([key[1] for key in index.islice(start, stop, reverse=True)] if stop > a else []), total
            merged = heapq.merge(*walks, reverse=True)
            return [key[1] for key in itertools.islice(merged, offset, offset + limit)], total
        ids, total = [], 0
        for key in heapq.merge(*walks, reverse=True):
            if match(key[1]):
                if offset <= total < offset + limit:
                    ids.append(key[1])
                total += 1
        return ids, total


def _discard(indexes: dict[Any, SortedList], value: Any, key: Key) -> None:
    index = indexes.get(value)
    if index is not None:
        index.discard(key)
        if not index:
            del indexes[value]


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
