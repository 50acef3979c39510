"""`python -m worker [--workflow-id ID]` (from orchestrator/) or `orchestrator-worker`.

Runs an RQ `SimpleWorker` (no fork per job) in the main thread and the node
monitor (`runner.Runner`) in a thread beside it. Without `--workflow-id` it
serves every workflow until stopped (SIGTERM/SIGINT: its leases are released
so another worker takes over at once). With `--workflow-id` it serves only
that workflow, may be started before the workflow is submitted, and exits
when the workflow has ended. It exits for nothing else: when Redis restarts,
pauses or fails over, the process waits for it and goes on.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # `cd orchestrator && python -m worker`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq import SimpleWorker  # noqa: E402

from orchestrator import jobs  # noqa: E402
from orchestrator.runner import Runner  # noqa: E402
from orchestrator.settings import Settings  # noqa: E402
from taskservice.logs import configure as configure_logging  # noqa: E402
from taskservice.logs import drain as drain_logs  # noqa: E402
from taskservice.version import version_text  # noqa: E402

log = logging.getLogger("orchestrator.worker")


STOP_GRACE = 5.0  # seconds RQ gets to end its loop after SIGTERM/SIGINT


class Worker(SimpleWorker):
    """RQ's `SimpleWorker` that remembers a SIGTERM/SIGINT (its loop also ends on Redis errors)."""

    stop_requested = threading.Event()

    def request_stop(self, signum, frame):  # type: ignore[no-untyped-def]  # RQ's signal handler
        self.stop_requested.set()
        super().request_stop(signum, frame)


def work(queue: str, runner: Runner, log_level: str) -> None:
    """Run RQ's work loop until SIGTERM/SIGINT or the end of the dedicated workflow.

    RQ's loop quits on a Redis timeout or any error it does not expect (a Redis restart or
    failover mid-command); then a fresh RQ worker starts once Redis answers again.
    """
    def exit_if_stuck() -> None:
        # RQ's teardown can hang on a connection the failover left half-open: do not outlive a stop
        Worker.stop_requested.wait()
        time.sleep(STOP_GRACE)
        log.warning("RQ did not stop within %g s of the request; exiting", STOP_GRACE)
        runner.stop()
        drain_logs()
        os._exit(0)
    threading.Thread(target=exit_if_stuck, daemon=True, name="stop-watchdog").start()
    delay = 0.1
    while not Worker.stop_requested.is_set():
        try:
            worker = Worker([queue], connection=runner.rq_connection)
            worker.work(with_scheduler=False, logging_level=log_level)
        except Exception as exc:  # noqa: BLE001 - Redis away while RQ started or tore down
            log.warning("RQ work loop ended: %r", exc)
        if Worker.stop_requested.is_set():
            return
        # RQ's handlers stay installed after its loop: ours mark the stop while we wait for Redis
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: Worker.stop_requested.set())
        log.warning("RQ work loop ended without a stop request; restarting when Redis (%s) answers",
                    runner.where)
        while not Worker.stop_requested.wait(delay):
            try:
                runner.rq_connection.ping()
                break
            except Exception:  # noqa: BLE001 - any Redis fault: keep waiting
                delay = min(delay * 2, runner.settings.retry_backoff_max)
        delay = 0.1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="worker", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_text("orchestrator-worker"))
    parser.add_argument("--workflow-id", help="serve only this workflow and exit when it ends")
    parser.add_argument("--log-level", help="default: ORCHESTRATOR_LOG_LEVEL (info)")
    args = parser.parse_args(argv)
    settings = Settings()
    # lines batched: a worker logs several per node, and a write per line costs the driving loop
    configure_logging(settings.log_format, args.log_level or settings.log_level, batched=True)
    runner = Runner(settings, workflow_id=args.workflow_id)
    jobs.bind(runner)
    runner.start_thread()
    queue = jobs.dedicated_queue_name(settings, args.workflow_id) if args.workflow_id else settings.queue
    if args.workflow_id:
        runner.on_workflow_end = lambda: os.kill(os.getpid(), signal.SIGTERM)
    runner.observer.register([queue])
    print(f"worker {runner.worker_id} listening on {queue} ({runner.where})", flush=True)
    try:
        work(queue, runner, "WARNING")  # RQ's own lines at warning: ours say what each job did
    finally:
        runner.stop()
        runner.observer.unregister()
        jobs.bind(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
