"""`python -m worker [--workflow-id ID]` (from orchestrator/) or `orchestrator-worker`.

Runs an RQ `SimpleWorker` (no fork per job) in the main thread and the node
monitor (`runner.Runner`) in a thread beside it. Without `--workflow-id` it
serves every workflow until stopped (SIGTERM/SIGINT: its leases are released
so another worker takes over at once). With `--workflow-id` it serves only
that workflow, may be started before the workflow is submitted, and exits
when the workflow has ended.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

if __package__ in (None, ""):  # `cd orchestrator && python -m worker`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq import SimpleWorker  # noqa: E402

from orchestrator import jobs  # noqa: E402
from orchestrator.runner import Runner  # noqa: E402
from orchestrator.settings import Settings  # noqa: E402
from taskservice.logs import configure as configure_logging  # noqa: E402
from taskservice.version import version_text  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="worker", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_text("orchestrator-worker"))
    parser.add_argument("--workflow-id", help="serve only this workflow and exit when it ends")
    parser.add_argument("--log-level", help="default: ORCHESTRATOR_LOG_LEVEL (info)")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, args.log_level or settings.log_level)
    runner = Runner(settings, workflow_id=args.workflow_id)
    jobs.bind(runner)
    runner.start_thread()
    queue = jobs.dedicated_queue_name(settings, args.workflow_id) if args.workflow_id else settings.queue
    worker = SimpleWorker([queue], connection=runner.rq_connection)
    if args.workflow_id:
        runner.on_workflow_end = lambda: os.kill(os.getpid(), signal.SIGTERM)
    runner.observer.register([queue])
    print(f"worker {runner.worker_id} listening on {queue} ({settings.redis_url})", flush=True)
    try:
        worker.work(with_scheduler=False, logging_level="WARNING")  # our own lines say what each job did
    finally:
        runner.stop()
        runner.observer.unregister()
        jobs.bind(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
