"""The task index (taskservice/index.py) answers exactly what a full scan with the matcher answers.

Active tasks live in a dict and finished ones in sorted lists, so the test moves
tasks through every status (and back, as a recovery does), forgets some, and
compares each query's ids and total with a brute-force scan, newest first.
"""

from __future__ import annotations

import random
import threading

import pytest

from taskservice.entry import Entry
from taskservice.index import TaskIndex
from taskservice.models import TaskStatus
from taskservice.query import matcher

STATUSES = [s.value for s in TaskStatus]
METHODS = ["Noop", "Train", "Move"]
WORKFLOWS = [None, "w1", "w2"]


def scan(entries: dict[str, Entry], conds, limit: int, offset: int) -> tuple[list[str], int]:
    match = matcher(conds)
    hits = sorted((e for e in entries.values() if match(e)), key=lambda e: (e.index_key[0], e.task_id),
                  reverse=True)
    return [e.task_id for e in hits[offset:offset + limit]], len(hits)


def queries(t_mid: int) -> list[list]:
    out: list[list] = []
    for st in STATUSES:
        out.append([("status", "eq", st)])
        for m in METHODS:
            out.append([("status", "eq", st), ("method", "eq", m)])
        out.append([("status", "eq", st), ("workflow_id", "eq", "w1")])
    out += [
        [("status", "in", ["running", "complete"])],
        [("status", "in", ["pending", "paused", "stopping"]), ("method", "in", ["Noop", "Move"])],
        [("status", "eq", "running"), ("created", "gt", t_mid)],
        [("status", "eq", "complete"), ("created", "le", t_mid)],
        [("method", "eq", "Train")],
        [("workflow_id", "eq", "w2"), ("status", "ne", "failed")],
        [("progress", "ge", 50)],
        [],
    ]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_matches_a_full_scan_through_status_moves_and_forgets(seed: int) -> None:
    rng = random.Random(seed)
    index = TaskIndex(threading.RLock())
    entries: dict[str, Entry] = {}
    t0 = 1_800_000_000.0
    for n in range(400):
        e = Entry(f"t{n:04d}", rng.choice(METHODS), rng.choice(WORKFLOWS), None)
        e.created = t0 + n * 0.001 + rng.random() * 0.0005
        e.status = TaskStatus(rng.choice(["pending", "running"]))
        entries[e.task_id] = e
        index.add(e)
    for _ in range(3):  # rounds of moves (active -> active, active -> final, final -> active)
        for e in rng.sample(list(entries.values()), 250):
            e.status = TaskStatus(rng.choice(STATUSES))
            e.progress = rng.choice([0.0, 50.0, 100.0])
            index.changed(e)
        gone = rng.sample(list(entries.values()), 30)
        index.forget(gone)
        for e in gone:
            del entries[e.task_id]
        t_mid = int((t0 + 0.2) * 1_000_000)
        for conds in queries(t_mid):
            for limit, offset in ((50, 0), (7, 3), (1000, 0), (5, 10_000)):
                match = matcher(conds)

                def test(task_id: str) -> bool:
                    entry = entries.get(task_id)
                    return entry is not None and match(entry)

                assert index.query(conds, limit, offset, test) == scan(entries, conds, limit, offset), conds


def test_moves_between_active_statuses_leave_no_trace_in_the_sorted_lists() -> None:
    index = TaskIndex(threading.RLock())
    e = Entry("a", "Noop", None, None)
    index.add(e)
    for st in ("running", "paused", "stopping", "running"):
        e.status = TaskStatus(st)
        index.changed(e)
    assert index.query([("status", "eq", "running")], 10, 0, lambda _: True) == (["a"], 1)
    assert index.query([("status", "eq", "pending")], 10, 0, lambda _: True) == ([], 0)
    e.status = TaskStatus.COMPLETE
    index.changed(e)
    assert index.query([("status", "eq", "running")], 10, 0, lambda _: True) == ([], 0)
    assert index.query([("status", "eq", "complete"), ("method", "eq", "Noop")], 10, 0, lambda _: True) == (["a"], 1)
    index.forget([e])
    assert index.query([("status", "eq", "complete")], 10, 0, lambda _: True) == ([], 0)
    assert index.query([], 10, 0, lambda _: True) == ([], 0)


def test_an_offset_past_every_task_answers_empty_with_the_total() -> None:
    index = TaskIndex(threading.RLock())
    for n, (method, status) in enumerate([("Noop", "complete"), ("Move", "complete"), ("Noop", "running")]):
        e = Entry(f"t{n}", method, None, None)
        index.add(e)
        e.status = TaskStatus(status)
        index.changed(e)
    everything = lambda _: True  # noqa: E731
    assert index.query([("status", "eq", "complete")], 5, 10**30, everything) == ([], 2)
    assert index.query([], 5, 10**30, everything) == ([], 3)
    assert index.query([], 2, 1, everything)[1] == 3
