"""Batched log lines (taskservice.logs.LineBatch): nothing lost, nothing late for long, warnings at once."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from taskservice.logs import LineBatch
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[3]


class Stream(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_quiet_batch_writes_at_once_and_a_busy_one_once_per_interval() -> None:
    out = Stream()
    batch = LineBatch(out, interval=0.5)
    batch.write("first\n")  # the writer thread was idle: written at once
    wait_until(lambda: out.getvalue() == "first\n", timeout=5)
    for n in range(100):
        batch.write(f"line {n}\n")
        batch.flush()  # what loggers do after every line: must not write
    assert out.writes == 1  # within the interval after a write: gathered
    wait_until(lambda: out.getvalue().count("\n") == 101, timeout=5)
    assert out.writes == 2  # the hundred lines in one write
    assert out.getvalue().splitlines() == ["first", *(f"line {n}" for n in range(100))]
    batch.write("later\n")  # the writer thread waits for the next line, then writes it too
    wait_until(lambda: out.getvalue().endswith("later\n"), timeout=5)


def test_a_full_batch_and_an_urgent_line_are_written_at_once() -> None:
    out = Stream()
    batch = LineBatch(out, interval=3600, max_lines=2)
    batch.write("x" * 60 + "\n")
    assert out.writes == 0
    batch.write("y" * 60 + "\n")  # max_lines reached
    assert out.writes == 1 and out.getvalue().count("\n") == 2
    batch.write("warning\n")
    batch.urgent()
    assert out.getvalue().endswith("warning\n")


def test_lines_from_many_threads_are_all_written_whole() -> None:
    out = Stream()
    batch = LineBatch(out, interval=0.01, max_lines=50)

    def emit(k: int) -> None:
        for n in range(500):
            batch.write(f"t{k} {n}\n")

    threads = [threading.Thread(target=emit, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batch.drain()
    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted(f"t{k} {n}" for k in range(4) for n in range(500))


def test_a_broken_stream_never_raises() -> None:
    out = io.StringIO()
    batch = LineBatch(out, interval=3600)
    out.close()
    batch.write("lost\n")
    batch.drain()  # ValueError inside: swallowed


def test_lines_reach_stderr_at_normal_exit_and_before_os_exit() -> None:
    code = textwrap.dedent("""
        import os, sys
        from taskservice import logs
        logs.configure("console", "info", batched=True)
        log = logs.HotLogger("test.batch")
        log.info("task finished", task_id="a1")
        if sys.argv[1] == "os_exit":
            logs.drain()
            os._exit(3)
    """)
    for how, rc in (("exit", 0), ("os_exit", 3)):
        done = subprocess.run([sys.executable, "-c", code, how], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == rc, done.stderr
        assert "task finished [test.batch] task_id=a1" in done.stderr, (how, done.stderr)


def test_hot_logger_levels_and_json_fields() -> None:
    code = textwrap.dedent("""
        import os
        from taskservice import logs
        logs.configure("json", "warning", batched=True)
        log = logs.HotLogger("test.hot", worker="w1")
        log.info("hidden")  # below the level
        log.error("node failed", error="boom", index=3, missing=None)
        os._exit(0)  # no drain: an error line is urgent, written before error() returns
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = [json.loads(ln) for ln in done.stderr.splitlines() if ln.startswith("{")]
    assert [(ln["event"], ln["level"], ln["logger"], ln["worker"], ln["error"], ln["index"]) for ln in lines] == \
        [("node failed", "error", "test.hot", "w1", "boom", 3)]
    assert "missing" not in lines[0] and lines[0]["timestamp"].endswith("Z")
