"""TaskManager, driven directly (no HTTP): lifecycle, progress, cancellation,
concurrency, timeouts, retention and the seed's explicit API (issue 2)."""

from __future__ import annotations

import threading
import time

import pytest

from taskservice import ExecuteRequest, Task, TaskCancelled, TaskConflict, TaskManager, TaskNotFound
from tests.support import wait_until

FINISHED = {"complete", "failed", "cancelled"}


@pytest.fixture
def manager(tmp_path):
    m = TaskManager(max_workers=4, data_dir=tmp_path)
    yield m
    m.shutdown(2.0)


def req(method: str = "Work", task_id: str | None = None, **parameters) -> ExecuteRequest:
    return ExecuteRequest(method=method, task_id=task_id, parameters=parameters)


def status_of(m: TaskManager, task_id: str) -> str | None:
    rec = m.get_status(task_id)
    return None if rec is None else rec["status"]


def wait_status(m: TaskManager, task_id: str, *statuses: str, timeout: float = 5.0) -> dict:
    return wait_until(lambda: (r := m.get_status(task_id)) and r["status"] in statuses and r,
                      timeout=timeout, what=f"{task_id} in {statuses}")


def blocking_job(gate: threading.Event, started: threading.Event | None = None, result=None):
    def job(task: Task):
        if started is not None:
            started.set()
        while not gate.is_set():
            if task.sleep(0.005):
                raise TaskCancelled("stopped")
        return result
    return job


def cooperative_job(started: threading.Event, seen_cancel: threading.Event | None = None):
    def job(task: Task):
        started.set()
        while not task.cancelled:
            task.sleep(0.01)
        if seen_cancel is not None:
            seen_cancel.set()
        raise TaskCancelled("stopped")
    return job


# -- registration ------------------------------------------------------------------------

def test_task_is_registered_before_it_runs(manager):
    gate = threading.Event()
    rec = manager.submit(req(task_id="t1"), blocking_job(gate))
    assert rec["task_id"] == "t1"
    assert rec["status"] in ("pending", "running")
    status = manager.get_status("t1")
    assert status is not None and status["method"] == "Work"
    for key in ("task_id", "method", "status", "progress", "details", "error", "created_at", "started_at",
                "finished_at"):
        assert key in status
    gate.set()
    done = wait_status(manager, "t1", "complete")
    assert done["progress"] == 100
    assert done["finished_at"].endswith("Z") and done["created_at"].endswith("Z")


def test_id_is_made_when_absent(manager):
    rec = manager.submit(req(), lambda task: {"ok": True})
    assert rec["task_id"]
    wait_status(manager, rec["task_id"], "complete")
    out = manager.get_output(rec["task_id"])
    assert out["protocol"] == "inline" and out["data"] == {"ok": True}


def test_pending_task_is_visible_while_pool_is_full(tmp_path):
    m = TaskManager(max_workers=1, data_dir=tmp_path)
    gate = threading.Event()
    try:
        m.submit(req(task_id="a"), blocking_job(gate))
        rec = m.submit(req(task_id="b"), blocking_job(gate))
        assert rec["status"] == "pending"
        assert status_of(m, "b") == "pending"
        assert m.stats()["pending"] == 1
        gate.set()
        wait_status(m, "b", "complete")
    finally:
        gate.set()
        m.shutdown(2)


def test_duplicate_task_id_is_a_conflict(manager):
    gate = threading.Event()
    manager.submit(req(task_id="dup"), blocking_job(gate))
    with pytest.raises(TaskConflict):
        manager.submit(req(task_id="dup"), blocking_job(gate))
    gate.set()


# -- progress ------------------------------------------------------------------------------

def test_progress_and_details_from_many_threads(manager):
    gate = threading.Event()
    threads_n, updates = 8, 200

    def job(task: Task):
        def writer(i: int) -> None:
            for j in range(updates):
                task.progress(j * 100 / updates, **{f"w{i}": j})

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        task.progress(42, phase="done-writing")
        gate.wait(5)
        return None

    manager.submit(req(task_id="p"), job)
    rec = wait_until(lambda: (r := manager.get_status("p"))["details"].get("phase") == "done-writing" and r,
                     what="all progress written")
    assert rec["status"] == "running"
    assert rec["progress"] == 42
    assert rec["details"] == {**{f"w{i}": updates - 1 for i in range(threads_n)}, "phase": "done-writing"}
    gate.set()
    wait_status(manager, "p", "complete")


def test_progress_is_clamped_to_0_100(manager):
    gate = threading.Event()
    manager.submit(req(task_id="c"), blocking_job(gate))
    manager.update_progress("c", 150)
    assert manager.get_status("c")["progress"] == 100
    manager.update_progress("c", -5)
    assert manager.get_status("c")["progress"] == 0
    gate.set()


def test_progress_after_finish_is_ignored(manager):
    manager.submit(req(task_id="f"), lambda task: None)
    wait_status(manager, "f", "complete")
    manager.update_progress("f", 10, {"late": True})
    rec = manager.get_status("f")
    assert rec["progress"] == 100 and "late" not in rec["details"]


# -- cancellation -------------------------------------------------------------------------

def test_running_task_becomes_stopping_then_cancelled(manager):
    started, seen = threading.Event(), threading.Event()
    manager.submit(req(task_id="s"), cooperative_job(started, seen))
    assert started.wait(5)
    rec = manager.stop("s")
    assert rec["status"] == "stopping"
    t0 = time.monotonic()
    done = wait_status(manager, "s", "cancelled", "failed", "complete")
    assert done["status"] == "cancelled"
    assert seen.is_set(), "the work itself saw the cancellation token"
    assert time.monotonic() - t0 < 1.0
    assert done["finished_at"] is not None
    assert manager.get_output("s") is None


def test_work_that_returns_after_stop_is_still_cancelled(manager):
    started = threading.Event()

    def job(task: Task):
        started.set()
        while not task.cancelled:
            time.sleep(0.005)
        return {"partial": True}

    manager.submit(req(task_id="r"), job)
    assert started.wait(5)
    manager.stop("r")
    assert wait_status(manager, "r", *FINISHED)["status"] == "cancelled"


def test_stopping_a_pending_task_cancels_it_at_once(tmp_path):
    m = TaskManager(max_workers=1, data_dir=tmp_path)
    gate = threading.Event()
    ran = threading.Event()
    try:
        m.submit(req(task_id="busy"), blocking_job(gate))
        m.submit(req(task_id="waiting"), lambda task: ran.set())
        assert status_of(m, "waiting") == "pending"
        rec = m.stop("waiting")
        assert rec["status"] == "cancelled"
        assert status_of(m, "waiting") == "cancelled"
        gate.set()
        wait_status(m, "busy", "complete")
        time.sleep(0.05)
        assert not ran.is_set(), "a cancelled pending task must never run"
    finally:
        gate.set()
        m.shutdown(2)


def test_stop_finished_is_conflict_and_unknown_is_not_found(manager):
    manager.submit(req(task_id="done"), lambda task: 1)
    wait_status(manager, "done", "complete")
    with pytest.raises(TaskConflict) as exc:
        manager.stop("done")
    assert exc.value.status is not None and exc.value.status.value == "complete"
    with pytest.raises(TaskNotFound):
        manager.stop("nope")


def test_stop_right_after_scheduling_still_ends_the_task(tmp_path):
    """A stop that lands after a task was scheduled but before its pool thread
    picked it up must still end it (cancelled) and free its resource."""
    m = TaskManager(max_workers=2, data_dir=tmp_path)
    real_pool = m._pool
    held: list = []

    class SlowPool:  # the pool thread picks the job up late, as on a busy machine
        def submit(self, fn, *args):
            held.append((fn, args))

        def shutdown(self, *a, **kw):
            real_pool.shutdown(*a, **kw)

    m._pool = SlowPool()
    try:
        m.submit(req(task_id="late"), lambda task: None, resource="stage", limit=1)
        assert m.stop("late")["status"] in ("stopping", "cancelled")
        for fn, args in held:
            real_pool.submit(fn, *args)
        rec = wait_until(lambda: (r := m.get_status("late")) and r["status"] in FINISHED and r, timeout=3,
                         what="late task to end")
        assert rec["status"] == "cancelled"
        m._pool = real_pool
        m.submit(req(task_id="next"), lambda task: None, resource="stage", limit=1)  # resource was freed
    finally:
        m._pool = real_pool
        m.shutdown(2)


# -- concurrency ----------------------------------------------------------------------------

def test_resource_limit_conflict_names_the_running_task(manager):
    gate = threading.Event()
    manager.submit(req(task_id="first"), blocking_job(gate), resource="stage-1", limit=1)
    with pytest.raises(TaskConflict) as exc:
        manager.submit(req(task_id="second"), blocking_job(gate), resource="stage-1", limit=1)
    assert "first" in str(exc.value)
    assert exc.value.running_task_ids == ["first"]
    assert manager.get_status("second") is None, "a refused task is not registered"
    # another resource is independent
    manager.submit(req(task_id="other"), blocking_job(gate), resource="stage-2", limit=1)
    gate.set()
    wait_status(manager, "first", "complete")
    manager.submit(req(task_id="third"), lambda task: None, resource="stage-1", limit=1)
    wait_status(manager, "third", "complete")


def test_queued_tasks_wait_pending_and_run_in_fifo_order(manager):
    order: list[str] = []
    gates = {name: threading.Event() for name in ("q1", "q2", "q3", "q4")}

    def job_for(name):
        def job(task):
            order.append(name)
            gates[name].wait(5)
        return job

    recs = [manager.submit(req(task_id=n), job_for(n), resource="hw", limit=1, queue=True) for n in gates]
    assert recs[0]["status"] == "running"
    assert [r["status"] for r in recs[1:]] == ["pending"] * 3
    wait_until(lambda: order == ["q1"], what="q1 starts")
    for name in ("q1", "q2", "q3", "q4"):
        wait_until(lambda: order and order[-1] == name, what=f"{name} runs")
        others = [n for n in gates if n not in order]
        assert all(status_of(manager, n) == "pending" for n in others)
        gates[name].set()
    wait_status(manager, "q4", "complete")
    assert order == ["q1", "q2", "q3", "q4"]


def test_bounded_pool_leaves_extra_tasks_pending(tmp_path):
    m = TaskManager(max_workers=2, data_dir=tmp_path)
    gate = threading.Event()
    running = []
    lock = threading.Lock()

    def job(task):
        with lock:
            running.append(task.id)
        gate.wait(5)

    try:
        recs = [m.submit(req(task_id=f"b{i}"), job) for i in range(4)]
        assert [r["status"] for r in recs] == ["running", "running", "pending", "pending"]
        wait_until(lambda: len(running) == 2, what="two running")
        time.sleep(0.05)
        assert len(running) == 2 and m.stats()["running_jobs"] == 2
        gate.set()
        for i in range(4):
            wait_status(m, f"b{i}", "complete")
    finally:
        gate.set()
        m.shutdown(2)


# -- timeouts -----------------------------------------------------------------------------

def test_timeout_fails_with_clear_error_and_cancels_the_work(manager):
    started, seen = threading.Event(), threading.Event()
    t0 = time.monotonic()
    manager.submit(req(task_id="slow"), cooperative_job(started, seen), timeout=0.3)
    rec = wait_status(manager, "slow", *FINISHED)
    elapsed = time.monotonic() - t0
    assert rec["status"] == "failed"
    assert "timed out" in rec["error"].lower()
    assert seen.is_set(), "the work was cancelled through its token"
    assert 0.25 <= elapsed < 3


def test_timeout_counts_from_start_not_from_submit(tmp_path):
    m = TaskManager(max_workers=1, data_dir=tmp_path)
    try:
        m.submit(req(task_id="blocker"), lambda task: time.sleep(0.5))
        m.submit(req(task_id="quick"), lambda task: time.sleep(0.05), timeout=0.3)
        assert status_of(m, "quick") == "pending"
        assert wait_status(m, "quick", *FINISHED)["status"] == "complete"
    finally:
        m.shutdown(2)


def test_task_within_timeout_completes(manager):
    manager.submit(req(task_id="ok"), lambda task: "fine", timeout=5)
    assert wait_status(manager, "ok", *FINISHED)["status"] == "complete"


# -- failures ------------------------------------------------------------------------------

def test_exception_in_work_fails_the_task_not_the_manager(manager):
    def boom(task):
        raise ValueError("bad input: x")

    manager.submit(req(task_id="boom"), boom)
    rec = wait_status(manager, "boom", *FINISHED)
    assert rec["status"] == "failed" and "bad input: x" in rec["error"]
    assert manager.get_output("boom") is None
    manager.submit(req(task_id="after"), lambda task: 1)
    assert wait_status(manager, "after", *FINISHED)["status"] == "complete"
    assert manager.stats()["running_jobs"] == 0


# -- retention --------------------------------------------------------------------------------

def test_retention_ttl_is_refreshed_by_reads(tmp_path):
    m = TaskManager(max_workers=2, retention_ttl=0.4, data_dir=tmp_path)
    try:
        for tid in ("read", "unread"):
            m.submit(req(task_id=tid), lambda task: None)
            wait_status(m, tid, "complete")
        t_end = time.monotonic() + 0.8
        while time.monotonic() < t_end:  # keep reading one of them, past the TTL
            assert m.get_status("read") is not None
            m.prune()
            time.sleep(0.05)
        m.prune()
        assert m.get_status("read") is not None, "a task read within its TTL must be kept"
        assert m.lookup("unread") is None, "an unread task past its TTL must be forgotten"
    finally:
        m.shutdown(2)


def test_retention_count_bound_keeps_the_newest(tmp_path):
    m = TaskManager(max_workers=2, retention_max=3, data_dir=tmp_path)
    try:
        for i in range(6):
            m.submit(req(task_id=f"n{i}"), lambda task: None)
            wait_until(lambda: m.lookup(f"n{i}") is not None and m.lookup(f"n{i}").status.value == "complete")
        m.prune()
        kept = [e.task_id for e in m.entries()]
        assert kept == ["n3", "n4", "n5"]
        assert m.stats()["retained"] == 3
    finally:
        m.shutdown(2)


def test_running_tasks_are_never_pruned(tmp_path):
    m = TaskManager(max_workers=2, retention_ttl=0.05, retention_max=1, data_dir=tmp_path)
    gate = threading.Event()
    try:
        m.submit(req(task_id="long"), blocking_job(gate))
        for i in range(3):
            m.submit(req(task_id=f"x{i}"), lambda task: None)
        wait_until(lambda: m.stats()["running_jobs"] == 1)
        time.sleep(0.15)
        m.prune()
        assert m.lookup("long") is not None and m.lookup("long").status.value == "running"
        gate.set()
        assert wait_status(m, "long", *FINISHED)["status"] == "complete"
    finally:
        gate.set()
        m.shutdown(2)


# -- the seed's explicit API --------------------------------------------------------------

def test_explicit_api_complete(manager):
    request = req("LongTask", task_id="e1", steps=3)
    manager.register_task("e1", request)
    rec = manager.get_status("e1")
    assert rec is not None and rec["status"] == "running" and rec["method"] == "LongTask"
    progress_seen = []

    def worker(task_id, request, mgr):
        for i in range(3):
            mgr.update_progress(task_id, (i + 1) * 30)
            progress_seen.append(mgr.get_status(task_id)["progress"])
        mgr.complete_task(task_id, {"protocol": "s3", "uri": f"s3://bucket/{task_id}.json", "format": "json"})

    assert manager.get_output("e1") is None
    manager.run_in_background("e1", worker, request)
    done = wait_status(manager, "e1", *FINISHED)
    assert done["status"] == "complete" and done["progress"] == 100
    assert progress_seen == [30, 60, 90]
    out = manager.get_output("e1")
    assert out["protocol"] == "s3" and out["uri"] == "s3://bucket/e1.json" and out["format"] == "json"


def test_explicit_api_fail_and_raise(manager):
    manager.register_task("e2", req("LongTask", task_id="e2"))
    manager.run_in_background("e2", lambda tid, r, m: m.fail_task(tid, "Something went wrong"), None)
    rec = wait_status(manager, "e2", *FINISHED)
    assert rec["status"] == "failed" and rec["error"] == "Something went wrong"

    def raises(tid, r, m):
        raise RuntimeError("worker exploded")

    manager.register_task("e3", req("LongTask", task_id="e3"))
    manager.run_in_background("e3", raises, None)
    rec = wait_status(manager, "e3", *FINISHED)
    assert rec["status"] == "failed" and "worker exploded" in rec["error"]

    manager.register_task("e4", req("LongTask", task_id="e4"))
    manager.run_in_background("e4", lambda tid, r, m: None, None)
    assert wait_status(manager, "e4", *FINISHED)["status"] == "failed"


def test_explicit_api_cancellation(manager):
    manager.register_task("e5", req("LongTask", task_id="e5"))
    started = threading.Event()

    def worker(tid, r, m):
        started.set()
        while not m.is_cancelled(tid):
            time.sleep(0.005)

    manager.run_in_background("e5", worker, None)
    assert started.wait(5)
    assert manager.stop("e5")["status"] == "stopping"
    assert wait_status(manager, "e5", *FINISHED)["status"] == "cancelled"


def test_explicit_api_unknown_ids(manager):
    assert manager.get_status("ghost") is None
    assert manager.get_output("ghost") is None
    manager.update_progress("ghost", 50)  # no error
    manager.complete_task("ghost", {})
    manager.fail_task("ghost", "x")
    with pytest.raises(TaskNotFound):
        manager.run_in_background("ghost", lambda *a: None, None)


# -- shutdown --------------------------------------------------------------------------------

def test_shutdown_interrupts_running_and_pending_never_cancels(tmp_path):
    m = TaskManager(max_workers=1, data_dir=tmp_path)
    started, seen = threading.Event(), threading.Event()
    m.submit(req(task_id="run"), cooperative_job(started, seen))
    m.submit(req(task_id="wait"), lambda task: None)
    assert started.wait(5)
    assert m.shutdown(0.2) is True
    assert seen.is_set()  # the stop token is still what makes the work stop
    for task_id in ("run", "wait"):
        rec = m.get_status(task_id)
        assert rec["status"] == "failed" and rec["interrupted"] is True, rec
        assert "shut down" in rec["error"]
    assert not m.accepting


def test_shutdown_lets_running_tasks_finish_within_the_grace_period(tmp_path):
    m = TaskManager(max_workers=2, data_dir=tmp_path)
    go = threading.Event()

    def job(task: Task):
        assert go.wait(5)
        return {"done": True}

    m.submit(req(task_id="finishing"), job)
    wait_until(lambda: m.get_status("finishing")["started_at"], what="started")
    stopper = threading.Thread(target=m.shutdown, args=(10.0,))
    stopper.start()
    wait_until(lambda: not m.accepting, what="shutdown begun")
    go.set()
    stopper.join(10)
    rec = m.get_status("finishing")
    assert rec["status"] == "complete" and rec["interrupted"] is False, rec
