"""Pausing Python's cyclic garbage collector while a request builds a big object graph.

A 10,000-node submission parses megabytes of JSON into some 100,000 dicts and lists and
builds as many again. Every 700 such allocations start a collection, and the older
generations' collections walk everything the process holds: a third of the request's time,
spent to free nothing (none of these objects is garbage before the request ends). Reference
counting frees objects as usual while the collector is paused; cycles left meanwhile by
other threads wait for the first collection after the pause.

The collector is process-wide, so pauses are counted: it runs again when the last
concurrent pause ends, and never if something else had turned it off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0            # pauses in progress
_resume = False       # whether the first pause found the collector on


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection (in any thread) while the block runs."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
