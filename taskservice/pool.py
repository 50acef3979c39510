"""A minimal thread pool for task bodies: the manager never hands it more jobs than threads."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class Pool:
    """Threads made on demand, up to `max_workers`; a job is a queue put and one wake-up.

    Lighter than ThreadPoolExecutor (no Future, no idle semaphore). Threads are
    daemons so a task that ignores cancellation cannot keep the process alive
    past the shutdown grace period.
    """

    def __init__(self, max_workers: int, name: str = "task") -> None:
        self.max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            else:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True).start()
        self._queue.put((fn, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # noqa: BLE001 - a job's failure is its own business
                logger.exception("pool job failed")
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        with self._lock:
            threads, self._threads, self._idle = self._threads, 0, 0
        for _ in range(threads):
            self._queue.put(None)
