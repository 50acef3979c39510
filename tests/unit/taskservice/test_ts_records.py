"""Task records: the query index against a plain scan, the SQLite store across restarts, spilled results."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from taskservice import ExecuteRequest, Task, TaskManager, method
from taskservice.entry import Entry, TaskStatus
from taskservice.index import TaskIndex
from taskservice.manager import RESTART_ERROR
from taskservice.methods import discover
from taskservice.query import from_json, from_query_params, matcher
from tests.support import wait_until

FINISHED = {"complete", "failed", "cancelled"}


def req(method: str = "Work", task_id: str | None = None, workflow_id: str | None = None, **parameters) -> ExecuteRequest:
    return ExecuteRequest(method=method, task_id=task_id, workflow_id=workflow_id, parameters=parameters)


def wait_final(m: TaskManager, task_id: str) -> dict:
    return wait_until(lambda: (r := m.get_status(task_id)) and r["status"] in FINISHED and r,
                      what=f"{task_id} to finish")


# -- the index answers exactly what a scan of every record answers ----------------------------------

def _random_entries(n: int, seed: int = 7) -> list[Entry]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        e = Entry(f"t{i:04d}", rnd.choice(["A", "B", "C"]), rnd.choice([None, "w1", "w2"]), None,
                  rnd.choice([None, "alice", "bob"]))
        e.created = 1_700_000_000 + i * 0.5 + rnd.random() * 0.1
        e.status = rnd.choice(list(TaskStatus))
        e.progress = rnd.choice([0.0, 50.0, 100.0])
        out.append(e)
    return out


QUERIES = [
    {}, {"status": "complete"}, {"status": ["failed", "running"]}, {"method": "A", "status": "complete"},
    {"workflow_id": "w1"}, {"user": "alice", "method": ["A", "B"]},
    {"created_at": {"gt": 1_700_000_100, "le": 1_700_000_300}, "status": "pending"},
    {"created_at": {"ge": 1_700_000_050}}, {"progress": {"ge": 50}, "method": "C"},
    {"status": {"ne": "complete"}}, {"method": {"op": "like", "value": "A%"}, "workflow_id": "w2"},
    {"status": "nosuch"}, {"task_id": "t0007"}, {"workflow_id": None, "status": "failed"},
    {"status": ["complete", "failed"], "method": ["A", "C"]}, {"status": "complete", "user": "bob", "method": "B"},
    {"workflow_id": "w2", "status": {"ne": "pending"}}, {"status": ["running", "failed"]},
]


@pytest.mark.parametrize("spec", QUERIES, ids=[json.dumps(q) for q in QUERIES])
def test_index_matches_a_full_scan(spec):
    lock = threading.RLock()
    index = TaskIndex(lock)
    entries = _random_entries(600)
    for e in entries:
        index.add(e)
    by_id = {e.task_id: e for e in entries}
    # some change status after they were indexed, some are forgotten
    for e in entries[::7]:
        e.status = TaskStatus.COMPLETE
        index.changed(e)
    gone = [e.task_id for e in entries[::11]]
    index.forget(entries[::11])
    live = [e for e in entries if e.task_id not in set(gone)]
    conds = from_json(spec)
    match = matcher(conds)
    expected = [e.task_id for e in sorted(live, key=lambda e: e.created, reverse=True) if match(e)]
    for limit, offset in [(50, 0), (7, 3), (1000, 0), (5, len(expected) - 2 if expected else 0)]:
        ids, total = index.query(conds, limit, offset, lambda t: match(by_id[t]))
        assert total == len(expected)
        assert ids == expected[offset:offset + limit]


def test_manager_query_restricts_to_a_user(tmp_path):
    m = TaskManager(max_workers=2, data_dir=tmp_path)
    try:
        for i in range(12):
            m.submit(req(task_id=f"u{i:02d}"), lambda task: None, user=["alice", "bob", None][i % 3])
        for i in range(12):
            wait_final(m, f"u{i:02d}")
        records, total = m.query(from_query_params([("status", "complete")]), 1000, 0, user="bob")
        assert [r["task_id"] for r in records] == [f"u{i:02d}" for i in (10, 7, 4, 1)] and total == 4
        assert all(r["user"] == "bob" for r in records)
    finally:
        m.shutdown(2)


def test_manager_query_is_paginated_and_complete(tmp_path):
    m = TaskManager(max_workers=4, data_dir=tmp_path)
    try:
        for i in range(30):
            m.submit(req("Even" if i % 2 == 0 else "Odd", task_id=f"q{i:02d}", workflow_id="wf"), lambda task: i)
        for i in range(30):
            wait_final(m, f"q{i:02d}")
        seen, offset = [], 0
        while True:
            records, total = m.query(from_query_params([("method", "Even"), ("status", "complete")]), 4, offset)
            assert total == 15
            if not records:
                break
            seen += [r["task_id"] for r in records]
            offset += 4
        assert seen == [f"q{i:02d}" for i in range(28, -1, -2)]
        assert all(r["user"] is None and r["interrupted"] is False for r in m.query([], 100)[0])
    finally:
        m.shutdown(2)


# -- the SQLite store ---------------------------------------------------------------------------

def test_records_survive_a_new_manager_on_the_same_database(tmp_path):
    db = tmp_path / "tasks.sqlite3"
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)
    gate = threading.Event()
    m.submit(req(task_id="done", workflow_id="wf", x=1), lambda task: {"answer": 42}, user="alice")
    m.submit(req(task_id="bad"), lambda task: 1 / 0)
    m.submit(req(task_id="stuck"), lambda task: gate.wait(30))
    m.update_progress("stuck", 40, {"phase": "mid"})
    wait_final(m, "done"), wait_final(m, "bad")
    wait_until(lambda: _stored_status(db, "stuck") == "running", what="stuck written behind")
    # what a SIGKILL leaves: the database as written so far, no shutdown
    m2 = TaskManager(max_workers=2, data_dir=tmp_path / "other", state_db=db)
    try:
        done = m2.get_status("done")
        assert done["status"] == "complete" and done["user"] == "alice" and done["workflow_id"] == "wf"
        assert m2.get_output("done")["data"] == {"answer": 42}
        assert m2.get_status("bad")["status"] == "failed" and "division by zero" in m2.get_status("bad")["error"]
        stuck = m2.get_status("stuck")
        assert stuck["status"] == "failed" and stuck["interrupted"] is True and stuck["error"] == RESTART_ERROR
        assert stuck["details"] == {"phase": "mid"}
        records, total = m2.query(from_query_params([("status", "failed")]), 10, 0)
        assert total == 2 and {r["task_id"] for r in records} == {"bad", "stuck"}
        # the same id and work is still the same task after the restart
        assert m2.lookup("done").fingerprint == m.lookup("done").fingerprint
    finally:
        gate.set()
        m.shutdown(2)
        m2.shutdown(2)


def _stored_status(db: Path, task_id: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
    return None if row is None else row[0]


def test_a_final_state_is_in_the_database_before_it_is_visible(tmp_path):
    db = tmp_path / "tasks.sqlite3"
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)
    seen: list[tuple[str, str | None]] = []

    def listener(record: dict) -> None:
        if record["status"] in FINISHED:
            seen.append((record["status"], _stored_status(db, record["task_id"])))

    m.add_listener(listener)
    try:
        for i in range(20):
            m.submit(req(task_id=f"f{i}"), lambda task: None)
        for i in range(20):
            wait_final(m, f"f{i}")
        assert seen == [("complete", "complete")] * 20
    finally:
        m.shutdown(2)


def test_retention_bounds_the_database(tmp_path):
    db = tmp_path / "tasks.sqlite3"
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db, retention_max=5)
    for i in range(12):
        m.submit(req(task_id=f"r{i:02d}"), lambda task: None)
        wait_final(m, f"r{i:02d}")
    m.shutdown(2)
    with sqlite3.connect(db) as conn:
        kept = sorted(r[0] for r in conn.execute("SELECT task_id FROM tasks"))
    assert kept == [f"r{i:02d}" for i in range(7, 12)]


def test_tasks_made_in_the_same_microsecond_get_distinct_creation_times_and_rows(tmp_path, monkeypatch):
    import types

    import taskservice.entry as entry_module

    db = tmp_path / "tasks.sqlite3"
    base = int(time.time()) * 1_000_000
    still = types.SimpleNamespace(time=lambda: base / 1_000_000)  # a clock that stands still, for new records only
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)
    monkeypatch.setattr(entry_module, "time", still)
    try:
        for i in range(5):
            m.submit(req(task_id=f"s{i}"), lambda task: None)
        for i in range(5):
            wait_final(m, f"s{i}")
        created = [m.lookup(f"s{i}").index_key[0] for i in range(5)]
        assert created == [base + i for i in range(5)]
    finally:
        m.shutdown(2)
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT task_id, created FROM tasks"))
    assert stored == {f"s{i}": base + i for i in range(5)}
    monkeypatch.setattr(entry_module, "time", types.SimpleNamespace(time=lambda: base / 1_000_000 - 60))
    m2 = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)  # a clock behind the stored rows
    try:
        m2.submit(req(task_id="later"), lambda task: None)
        wait_final(m2, "later")
        assert m2.lookup("later").index_key[0] == base + 5
        assert all(m2.get_status(f"s{i}")["status"] == "complete" for i in range(5))
    finally:
        m2.shutdown(2)


def _old_table(db: Path, rows: list[tuple]) -> None:
    """A database as an earlier version wrote it: keyed by task id, creation times not unique."""
    with sqlite3.connect(db) as conn:
        conn.execute("""CREATE TABLE tasks (task_id TEXT PRIMARY KEY, status TEXT NOT NULL, method TEXT NOT NULL,
            workflow_id TEXT, user TEXT, created INTEGER NOT NULL, started INTEGER, finished INTEGER,
            touched REAL NOT NULL, record BLOB NOT NULL, output BLOB, output_inline INTEGER NOT NULL DEFAULT 0,
            fingerprint BLOB)""")
        conn.execute("CREATE INDEX tasks_status ON tasks (status)")
        for task_id, created in rows:
            record = {"task_id": task_id, "method": "Work", "status": "complete", "progress": 100, "details": {},
                      "error": None, "created_at": "2026-01-01T00:00:00.000000Z", "result": {"n": task_id}}
            conn.execute("INSERT INTO tasks VALUES (?, 'complete', 'Work', NULL, NULL, ?, ?, ?, ?, ?, ?, 1, NULL)",
                         (task_id, created, created, created, time.time(), json.dumps(record).encode(),
                          json.dumps({"n": task_id}).encode()))


def test_a_database_of_an_earlier_version_is_re_keyed_and_kept(tmp_path):
    db = tmp_path / "tasks.sqlite3"
    _old_table(db, [("a", 1_700_000_000_000_000), ("b", 1_700_000_000_000_000), ("c", 1_700_000_000_000_001)])
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)
    try:
        assert {t: m.get_status(t)["status"] for t in "abc"} == {"a": "complete", "b": "complete", "c": "complete"}
        assert m.get_output("b")["data"] == {"n": "b"}
        m.submit(req(task_id="new"), lambda task: None)
        wait_final(m, "new")
    finally:
        m.shutdown(2)
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT task_id, created FROM tasks"))
        pk = [c[1] for c in conn.execute("PRAGMA table_info(tasks)") if c[5]]
    assert pk == ["created"]
    assert len(set(stored.values())) == 4 and set(stored) == {"a", "b", "c", "new"}


def test_of_two_rows_of_one_task_id_the_newest_is_kept(tmp_path):
    db = tmp_path / "tasks.sqlite3"
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)
    m.submit(req(task_id="x"), lambda task: {"run": 2})
    wait_final(m, "x")
    m.shutdown(2)
    with sqlite3.connect(db) as conn:  # what a crash between dropping a task and writing new work leaves
        (created,) = conn.execute("SELECT created FROM tasks WHERE task_id = 'x'").fetchone()
        conn.execute("INSERT INTO tasks SELECT ?, task_id, status, method, workflow_id, user, started, finished, "
                     "touched, record, ?, output_inline, fingerprint FROM tasks WHERE task_id = 'x'",
                     (created - 10, json.dumps({"run": 1}).encode()))
    m2 = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)
    try:
        assert m2.get_output("x")["data"] == {"run": 2}
    finally:
        m2.shutdown(2)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT created FROM tasks WHERE task_id = 'x'").fetchall() == [(created,)]


def test_shutdown_writes_interrupted_records(tmp_path):
    db = tmp_path / "tasks.sqlite3"
    m = TaskManager(max_workers=2, data_dir=tmp_path, state_db=db)

    def long(task: Task):
        while not task.sleep(0.01):
            pass
        return "stopped"

    m.submit(req(task_id="long"), long)
    wait_until(lambda: m.get_status("long")["started_at"], what="started")
    assert m.shutdown(0.1) is True
    m2 = TaskManager(data_dir=tmp_path, state_db=db)
    try:
        rec = m2.get_status("long")
        assert rec["status"] == "failed" and rec["interrupted"] is True and "shut down" in rec["error"]
    finally:
        m2.shutdown(1)


# -- big results by reference ---------------------------------------------------------------------

def test_big_result_goes_to_a_file_small_stays_inline_once(tmp_path):
    m = TaskManager(max_workers=2, data_dir=tmp_path, inline_max_bytes=1000)
    try:
        big = {"values": list(range(1000))}
        m.submit(req(task_id="big"), lambda task: big)
        m.submit(req(task_id="kept"), lambda task: big, spill=False)
        m.submit(req(task_id="small"), lambda task: {"x": 1})
        for t in ("big", "kept", "small"):
            wait_final(m, t)
        ref = m.get_output("big")
        assert ref["protocol"] == "file" and ref["format"] == "json"
        assert ref["data"]["bytes"] > 1000 and ref["data"]["keys"] == ["values"]
        path = Path(ref["uri"].removeprefix("file://"))
        assert path.parent.name == "big" and json.loads(path.read_text()) == big
        assert m.get_output("kept")["protocol"] == "inline" and m.get_output("kept")["data"] == big
        small = m.get_output("small")
        assert small["protocol"] == "inline" and small["data"] == {"x": 1}
        assert json.loads(__import__("base64").b64decode(small["uri"])) == {"x": 1}
        assert m.lookup("small").output == b'{"x":1}'  # held once: the value's JSON, not data + base64
    finally:
        m.shutdown(2)


def test_spill_option_of_a_method():
    @method(spill=False)
    def execute_Keep(request, task):
        return None

    def execute_Default(request, task):
        return None

    mod = type("M", (), {"execute_Keep": staticmethod(execute_Keep), "execute_Default": staticmethod(execute_Default)})
    specs = discover(mod)
    assert specs["Keep"].options.spill is False and specs["Default"].options.spill is True
