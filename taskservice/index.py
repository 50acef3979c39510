"""Ordered indexes over the retained task records, for queries.

Finished tasks (nearly all of the retained ones) are in sorted lists keyed by
creation time, one per pair of a final status and a value of each fixed field
(method, workflow_id, user): a task is in one list per field it has a value
of, usually one or two. The lists of one field partition the finished tasks,
so every other view is a merge of a few of them: a status is its lists over
every method, a method its lists over the final statuses, all tasks every
method list. A filtered query with a limit walks the lists that serve it,
newest first, so it costs about O(limit + log n) per list walked, not
O(retained); creation-time ranges are bisected in the same lists. Active tasks
(pending, running, paused, stopping: bounded by the pool and its queue) are
held in a plain dict instead and sorted when a query needs them: a task costs
the index nothing until it ends, and one sorted insert then, which matters on
the execute hot path. A condition no index serves filters the smallest
index-narrowed walk.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterable
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
_SORTED = ("complete", "failed", "cancelled")


class TaskIndex:
    """Indexes over the manager's records; updated under the manager's lock.

    An entry carries its own key and the status it is indexed under
    (`index_key`, `indexed_status`), so the index holds no per-task dict but
    the one of active tasks.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._pairs: dict[str, dict[tuple[str, Any], SortedList]] = {f: {} for f in _FIXED}  # (status, value)
        self._live: dict[str, Entry] = {}  # active tasks by id: their lists are built per query

    def add(self, entry: Entry) -> None:
        entry.index_key = (to_micros(entry.created), entry.task_id)
        entry.indexed_status = None
        self._place(entry, entry.status._value_)

    def changed(self, entry: Entry) -> None:
        status = entry.status._value_
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
            for field in _FIXED:
                value = getattr(entry, field)
                if value is not None or field not in _OPTIONAL:
                    pairs = self._pairs[field]
                    index = pairs.get((status, value))
                    if index is None:
                        index = pairs[(status, value)] = SortedList()
                    index.add(key)
        else:
            self._live[entry.task_id] = entry
        entry.indexed_status = status

    def _unsort(self, entry: Entry, status: str, key: Key) -> None:
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
            if entry.indexed_status in _SORTED:
                self._unsort(entry, entry.indexed_status, key)
            else:
                self._live.pop(entry.task_id, None)

    def _live_list(self, test: Callable[[Entry], bool]) -> list[SortedList]:
        """The active tasks that pass `test`, as one sorted list (none when there are none)."""
        keys = [e.index_key for e in self._live.values() if test(e)]
        return [SortedList(keys)] if keys else []

    def _lists(self, status: Any, field: str | None = None, value: Any = None) -> list[SortedList]:
        """Disjoint sorted lists holding exactly the tasks in `status` (with `field` == `value`, when given)."""
        if status in _SORTED:
            if field is not None:
                index = self._pairs[field].get((status, value))
                return [index] if index is not None else []
            return [x for (st, _), x in self._pairs["method"].items() if st == status]
        if field is None:
            return self._live_list(lambda e: e.indexed_status == status)
        return self._live_list(lambda e: e.indexed_status == status and getattr(e, field) == value)

    def _with_value(self, field: str, value: Any) -> list[SortedList]:
        """Disjoint sorted lists holding exactly the tasks with `field` == `value`, in any status."""
        pairs = self._pairs[field]
        found = [pairs[(st, value)] for st in _SORTED if (st, value) in pairs]
        return found + self._live_list(lambda e: getattr(e, field) == value)

    def _everything(self) -> list[SortedList]:
        return list(self._pairs["method"].values()) + self._live_list(lambda e: True)

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
                    choices.append(({n}, _flat(self._lists(v) for v in values)))
                else:
                    choices.append(({n}, _flat(self._with_value(attr, v) for v in values)))
                wanted.setdefault(attr, (n, values))
        if "status" in wanted:
            n_status, statuses = wanted["status"]
            for field in _FIXED:
                if field in wanted:
                    n_field, values = wanted[field]
                    found = _flat(self._lists(st, field, v) for st in statuses for v in values)
                    choices.append(({n_status, n_field}, found))
        if choices:  # the index that leaves nothing to filter, else the smallest walk
            covered, lists = min(choices, key=lambda c: (len(served | c[0]) < len(conds),
                                                         sum(len(x) for x in c[1])))
            exact = served | covered
        else:
            lists, exact = self._everything(), served
        bounds = [_span(index, lo, hi) for index in lists]
        walks = [index.islice(a, b, reverse=True) for index, (a, b) in zip(lists, bounds)]
        if len(exact) == len(conds):  # the indexes answer alone (their sets are disjoint)
            total = sum(b - a for a, b in bounds)
            if not lists or offset >= total:
                return [], total
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


def _flat(groups: Iterable[list[SortedList]]) -> list[SortedList]:
    return [x for group in groups for x in group]


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
