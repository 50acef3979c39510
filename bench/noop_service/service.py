"""Bench-only service: methods that do nothing, so the benchmark measures the template itself.

    PORT=8125 HOST=127.0.0.1 python service.py
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from taskservice import ExecuteRequest, Task, method, run  # noqa: F401  (method: same imports as a real service)


def execute_Noop(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Background method that finishes at once.

    With `{"stamp": true}` in the parameters it records `time.time()` at entry
    into its details as `entered_at`, for the task start latency measurement.
    """
    if request.parameters.get("stamp"):
        task.progress(entered_at=time.time())
    return {}


def execute_QuickNoop(request: ExecuteRequest) -> dict[str, Any]:
    """Quick method that returns at once (answered 200 inside execute)."""
    return {}


def execute_GcProbe(request: ExecuteRequest) -> dict[str, Any]:
    """Time one full `gc.collect()`: the pause every retained task adds to (quick)."""
    objects = len(gc.get_objects())
    started = time.perf_counter()
    gc.collect()
    return {"pause_ms": (time.perf_counter() - started) * 1e3, "tracked_objects": objects}


if __name__ == "__main__":
    run(sys.modules[__name__])
