"""Ordered indexes over the retained task records, for queries.

Finished tasks (nearly all of the retained ones) are in sorted lists keyed by
creation time: one of every task, one per value of each indexed field (status,
method, workflow_id, user) and one per pair of a status and a value of each
other field. A filtered query with a limit slices the list that serves it,
newest first, so it costs about O(limit + log n), not O(retained); creation-time
ranges are bisected in the same lists. Active tasks (pending, running, paused,
stopping: bounded by the pool and its queue) are held in a plain dict instead
and sorted when a query asks for an active status: a task's moves between
active statuses then cost nothing, which matters on the execute hot path. A
condition no index serves filters the smallest index-narrowed walk.
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
#: Statuses held in sorted lists; the others (active ones) are sorted per query from the live dict.
_SORTED = frozenset({"complete", "failed", "cancelled"})


class TaskIndex:
    """Indexes over the manager's records; updated under the manager's lock.

    An entry carries its own key and the status it is indexed under
    (`index_key`, `indexed_status`), so the index holds no per-task dict but
    the one of active tasks.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._all: SortedList = SortedList()
        self._by: dict[str, dict[Any, SortedList]] = {f: {} for f in INDEXED}
        self._pairs: dict[str, dict[tuple[str, Any], SortedList]] = {f: {} for f in _FIXED}  # (status, value)
        self._live: dict[str, Entry] = {}  # active tasks by id: their status lists are built per query

    def add(self, entry: Entry) -> None:
        key: Key = (to_micros(entry.created), entry.task_id)
        entry.index_key = key
        self._all.add(key)
        for field in _FIXED:
            value = getattr(entry, field)
            if value is not None or field not in _OPTIONAL:
                self._by[field].setdefault(value, SortedList()).add(key)
        entry.indexed_status = None
        self._place(entry, entry.status.value)

    def changed(self, entry: Entry) -> None:
        status = entry.status.value
        if entry.index_key is not None and status != entry.indexed_status:
            self._place(entry, status)

    def _place(self, entry: Entry, status: str) -> None:
        """Move the entry from the status it is indexed under to `status`."""
        key, old = entry.index_key, entry.indexed_status
        if old in _SORTED:
            self._unsort(entry, old, key)
        elif old is not None:
            self._live.pop(entry.task_id, None)
        if status in _SORTED:
            self._by["status"].setdefault(status, SortedList()).add(key)
            for field in _FIXED:
                value = getattr(entry, field)
                if value is not None or field not in _OPTIONAL:
                    self._pairs[field].setdefault((status, value), SortedList()).add(key)
        else:
            self._live[entry.task_id] = entry
        entry.indexed_status = status

    def _unsort(self, entry: Entry, status: str, key: Key) -> None:
        _discard(self._by["status"], status, key)
        for field in _FIXED:
            value = getattr(entry, field)
            if value is not None or field not in _OPTIONAL:
                _discard(self._pairs[field], (status, value), key)

    def forget(self, entries: list[Entry]) -> None:
        for entry in entries:
            key = entry.index_key
            if key is None:
                continue
            entry.index_key = None
            self._all.discard(key)
            if entry.indexed_status in _SORTED:
                self._unsort(entry, entry.indexed_status, key)
            else:
                self._live.pop(entry.task_id, None)
            for field in _FIXED:
                value = getattr(entry, field)
                if value is not None or field not in _OPTIONAL:
                    _discard(self._by[field], value, key)

    def _status_index(self, status: Any, field: str | None = None, value: Any = None) -> SortedList | None:
        """The sorted keys of the tasks in `status` (and with `field` == `value`, when given)."""
        if status in _SORTED:
            if field is None:
                return self._by["status"].get(status)
            return self._pairs[field].get((status, value))
        keys = [e.index_key for e in self._live.values()
                if e.indexed_status == status and (field is None or getattr(e, field) == value)]
        return SortedList(keys) if keys else None

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
                if attr == "status":
                    found = [self._status_index(v) for v in values]
                    choices.append(({n}, [x for x in found if x is not None]))
                else:
                    by = self._by[attr]
                    choices.append(({n}, [by[v] for v in values if v in by]))
                wanted.setdefault(attr, (n, values))
        if "status" in wanted:
            n_status, statuses = wanted["status"]
            for field in _FIXED:
                if field in wanted:
                    n_field, values = wanted[field]
                    found = [self._status_index(st, field, v) for st in statuses for v in values]
                    choices.append(({n_status, n_field}, [x for x in found if x is not None]))
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
