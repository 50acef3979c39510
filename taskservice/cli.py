"""`taskservice-client`: start a method on a template service and watch it live.

    taskservice-client http://127.0.0.1:8080 LongProcess -p duration=10 -p steps=20

Shows a progress bar with the task's details until it ends; Ctrl-C stops the
task on the service (then waits for it to really stop). Exit code 0 when the
task completed, 1 when it failed or was cancelled, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .client import ServiceClient, ServiceError
from .models import TaskStatus
from .version import version_text


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parameters(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"bad parameter {pair!r}: expected key=value")
        params[key] = _value(value)
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskservice-client", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=version_text("taskservice-client"))
    parser.add_argument("url", help="service base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("method", nargs="?", help="method to execute; omit to list the methods")
    parser.add_argument("-p", "--param", action="append", default=[], help="parameter key=value (JSON values)")
    parser.add_argument("--parameters", type=Path, help="JSON file of parameters")
    parser.add_argument("--inputs", type=Path, help="JSON file: a list of DataReference")
    parser.add_argument("--task-id", help="task id to use (idempotent: re-attaches to an existing task)")
    parser.add_argument("--api-key", default=os.environ.get("SERVICE_API_KEY"))
    args = parser.parse_args(argv)
    console = Console(stderr=True)

    with ServiceClient(args.url, api_key=args.api_key) as client:
        try:
            if not args.method:
                for m in client.methods():
                    console.print(f"[bold]{m['name']}[/] ({'background' if m['background'] else 'quick'})")
                    if m["doc"]:
                        console.print("  " + m["doc"].splitlines()[0])
                return 0
            params = json.loads(args.parameters.read_text()) if args.parameters else {}
            params.update(_parameters(args.param))
            inputs = json.loads(args.inputs.read_text()) if args.inputs else []
            started = client.execute(args.method, parameters=params, inputs=inputs, task_id=args.task_id)
        except ServiceError as exc:
            console.print(f"[red]{exc}")
            return 2
        if started.status is TaskStatus.FAILED:
            console.print(f"[red]failed:[/] {started.error}")
            return 1
        if started.status is TaskStatus.COMPLETE and started.output is not None:
            print(json.dumps(started.output.model_dump(exclude_none=True), indent=2))
            return 0
        task_id = started.task_id
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console) as bar:
            row = bar.add_task(args.method, total=100, info=started.status.value)

            def show(record: Any) -> None:
                info = ", ".join(f"{k}={v}" for k, v in list(record.details.items())[:4]) or record.status.value
                bar.update(row, completed=record.progress, info=info)

            try:
                console.print(f"task {task_id} {started.status.value} — Ctrl-C stops it")  # from here it does
                final = client.wait(task_id, on_progress=show)
            except KeyboardInterrupt:
                bar.update(row, info="stopping…")
                try:
                    client.stop(task_id)
                except ServiceError:
                    pass  # it finished meanwhile
                final = client.wait(task_id, on_progress=show)
        console.print(f"{args.method} {final.status.value}" + (f": {final.error}" if final.error else ""))
        if final.status is TaskStatus.COMPLETE:
            print(json.dumps(client.output(task_id).model_dump(exclude_none=True), indent=2))
            return 0
        return 1


if __name__ == "__main__":
    sys.exit(main())
