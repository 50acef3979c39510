"""The collector pause of big requests: counted across threads, and never turns on a collector that was off."""

from __future__ import annotations

import gc
import threading

from orchestrator.gcpause import paused_gc


def test_nested_and_concurrent_pauses_resume_once_the_last_ends():
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            leave.wait(30)

    t = threading.Thread(target=other)
    with paused_gc():
        assert not gc.isenabled()
        t.start()
        assert inside.wait(30)
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other thread's pause is still on
    leave.set()
    t.join(30)
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_ends_the_pause():
    try:
        with paused_gc():
            raise ValueError("x")
    except ValueError:
        pass
    assert gc.isenabled()
