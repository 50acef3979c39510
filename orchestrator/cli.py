"""`orchestrator`: submit, watch and steer workflows from a terminal (also `python -m orchestrator.cli`).

    orchestrator submit examples/diamond/blueprint.json examples/diamond/dockerinfo.json --watch
    orchestrator list
    orchestrator status ID        orchestrator tasks ID        orchestrator events ID
    orchestrator watch ID         orchestrator cancel ID       orchestrator retry ID [--watch]
    orchestrator output ID [NODE]

`--url` defaults to `$ORCHESTRATOR_URL` or http://127.0.0.1:8000, `--api-key` to
`$ORCHESTRATOR_API_KEY`. `status`, `tasks` and `list` print tables (`--json`: the
API's JSON); `events` prints one JSON object per event until the workflow ends.

`output` prints the nodes' outputs (or one node's, by name, index or task id):
inline data as indented JSON, references as `protocol uri (format)`.

`--watch` (and `watch`) shows a live progress bar per node until the workflow
ends, with what each node says it is doing (its message or phase) and its own
elapsed time. Ctrl-C while watching asks whether to cancel the workflow; when stdin is
not a terminal nothing is asked: the workflow is left running, unless
`--cancel-on-interrupt` was given, in which case it is cancelled (and watched
until it has stopped).

Exit codes: 0 done (a watched workflow completed); 1 a watched workflow failed
or was cancelled; 2 usage or API error (e.g. 404, 409, 422: the message says
why); 130 interrupted, workflow left running.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskID, TextColumn
from rich.text import Text
from rich.prompt import Confirm
from rich.table import Column, Table

from orchestrator.client import LiveWorkflow, OrchestratorClient, OrchestratorError
from taskservice.version import version_text

STYLE = {"pending": "dim", "running": "cyan", "stopping": "yellow", "complete": "green", "failed": "red",
         "cancelled": "magenta", "paused": "bright_yellow"}
EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def _styled(status: str | None) -> str:
    status = status or "?"
    return f"[{STYLE.get(status, 'white')}]{status}[/]"


def _json_file(path: Path | None, default: Any) -> Any:
    return json.loads(path.read_text()) if path else default


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class NodeElapsedColumn(ProgressColumn):
    """A node's own running time (from its start to its end or now), not the watch's."""

    def render(self, task) -> Text:  # noqa: ANN001 - rich's Task
        started = task.fields.get("started")
        if started is None:
            return Text("-:--:--", style="dim")
        seconds = max(0, int((task.fields.get("finished") or time.time()) - started))
        return Text(f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", style="progress.elapsed")


class Watcher:
    """A rich progress bar per node, fed by the workflow's event stream."""

    def __init__(self, client: OrchestratorClient, wid: str, console: Console) -> None:
        self.client, self.wid, self.console = client, wid, console
        self.rows: dict[int, TaskID] = {}
        self.shown: dict[int, str] = {}

    def run(self, progress: Progress) -> LiveWorkflow:
        live = LiveWorkflow(self.wid)
        warned: list[str] = []
        for ev in self.client.events(self.wid):
            live.apply(ev)
            if live.warnings != warned:
                warned = list(live.warnings)
                for text in warned:
                    progress.console.print(f"[yellow]warning:[/] {text}", markup=True, highlight=False)
            if ev.event == "snapshot":
                self.console.print(f"workflow [bold]{self.wid}[/] ({live.name or '-'}) {_styled(live.status)}")
                width = max((len(n.node) for n in live.nodes), default=10)
                for n in live.nodes:
                    if n.index not in self.rows:
                        self.rows[n.index] = progress.add_task(n.node.ljust(width), total=100, status="",
                                                               note="", started=None, finished=None)
            for n in live.nodes:
                progress.update(self.rows[n.index], completed=100 if n.status == "complete" else n.progress,
                                status=_styled(n.status), note=n.note[:60], started=_epoch(n.started_at),
                                finished=_epoch(n.finished_at))
                if self.shown.get(n.index) != n.status:
                    if n.index in self.shown or n.status != "pending":
                        extra = f": {n.error}" if n.error and n.status in ("failed", "cancelled") else ""
                        progress.console.print(f"  {n.node} {_styled(n.status)}{extra}")
                    self.shown[n.index] = n.status
        return live


def watch(client: OrchestratorClient, wid: str, console: Console, cancel_on_interrupt: bool) -> int:
    """Watch until the end; Ctrl-C asks (or, off a terminal, follows `cancel_on_interrupt`)."""
    cancelled = False
    while True:
        progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                            TextColumn("{task.fields[status]}"), NodeElapsedColumn(), TextColumn("{task.fields[note]}"),
                            console=console, auto_refresh=console.is_terminal)
        try:
            with progress:
                live = Watcher(client, wid, console).run(progress)
            break
        except KeyboardInterrupt:
            progress.stop()
            if cancelled:
                console.print("interrupted again: not waiting for the workflow to stop")
                return EXIT_INTERRUPTED
            if cancel_on_interrupt:
                answer = True
            elif sys.stdin is not None and sys.stdin.isatty():
                try:
                    answer = Confirm.ask(f"Cancel workflow {wid}?", default=False, console=console)
                except (KeyboardInterrupt, EOFError):
                    answer = False
            else:
                answer = False
            if not answer:
                console.print(f"workflow {wid} left running; watch it again with: orchestrator watch {wid}")
                return EXIT_INTERRUPTED
            try:
                status = client.cancel(wid)["status"]
                console.print(f"cancelling {wid}: {status}")
            except OrchestratorError as exc:
                console.print(f"[red]could not cancel:[/] {exc}")  # it probably just ended
            cancelled = True
    msg = f"workflow {wid} {_styled(live.status)} ({live.progress:g}%)"
    if live.error and live.status != "complete":
        msg += f": {live.error}"
    console.print(msg)
    return EXIT_OK if live.status == "complete" else EXIT_FAILED


def _table(first: str, *names: str) -> Table:
    """A table whose first column is never cut; the others fold rather than lose text."""
    table = Table(Column(first, no_wrap=True))
    for name in names:
        table.add_column(name, overflow="fold")
    return table


def _table_workflow(console: Console, client: OrchestratorClient, wid: str) -> None:
    wf = client.status(wid)
    console.print(f"[bold]{wf.workflow_id}[/] ({wf.name or '-'}) {_styled(wf.status)}  {wf.progress:g}%  "
                  f"{wf.nodes_done}/{wf.nodes_total} nodes done")
    for key in ("created_at", "started_at", "finished_at"):
        if getattr(wf, key):
            console.print(f"  {key}: {getattr(wf, key)}")
    if wf.error:
        console.print(f"  [red]error:[/] {wf.error}")
    for text in wf.warnings:
        console.print(f"  [yellow]warning:[/] {text}", highlight=False)
    table = _table("node", "status", "progress", "attempt")
    for n in wf.nodes:
        table.add_row(n.node, _styled(n.status), f"{n.progress:g}%", str(n.attempt))
    console.print(table)


def _table_tasks(console: Console, client: OrchestratorClient, wid: str) -> None:
    table = _table("node", "status", "progress", "attempt", "task id", "service", "error")
    for t in client.tasks(wid):
        table.add_row(t.node, _styled(t.status), f"{t.progress:g}%", str(t.attempt), t.task_id, t.service or "",
                      t.error or "")
    console.print(table)


def _inline_value(ref: dict[str, Any]) -> Any:
    """The value of an inline reference: `data`, else its base64 `uri` decoded."""
    if "data" in ref:
        return ref["data"]
    uri = str(ref.get("uri") or "")
    raw = uri.split(",", 1)[1] if uri.startswith("data:") else uri
    try:
        text = base64.b64decode(raw, validate=True).decode()
    except ValueError:
        return uri
    try:
        return json.loads(text)
    except ValueError:
        return text


def _render_output(out: Console, output: Any) -> None:
    """Inline data as indented JSON; a reference as `protocol uri (format)` (and its summary, if any)."""
    if not isinstance(output, dict) or "protocol" not in output:
        out.print_json(json.dumps(output, default=str)) if output is not None else out.print("(no output)")
        return
    if output.get("protocol") == "inline":
        out.print_json(json.dumps(_inline_value(output), default=str))
        return
    out.print(f"{output['protocol']} {output.get('uri', '')} ({output.get('format', '?')})", markup=False)
    if output.get("data") is not None:
        out.print("summary:")
        out.print_json(json.dumps(output["data"], default=str))


def _print_outputs(out: Console, client: OrchestratorClient, wid: str, node: str | None, as_json: bool) -> int:
    tasks = [client.task(wid, node)] if node else client.tasks(wid)
    if as_json:
        _print_json({t.node: t.output for t in tasks} if not node else tasks[0].output)
        return EXIT_OK
    for t in tasks:
        if not node:
            out.print(f"[bold]{t.node}[/] {_styled(t.status)}")
        if t.output is None:
            out.print(f"(no output: {t.status}{': ' + t.error if t.error else ''})", markup=False)
        else:
            _render_output(out, t.output)
    return EXIT_OK


def _table_list(console: Console, client: OrchestratorClient, status: str | None, limit: int) -> None:
    table = _table("workflow", "name", "status", "progress", "nodes", "created", "error")
    for w in client.list(status=status, limit=limit):
        table.add_row(w.workflow_id, w.name or "", _styled(w.status), f"{w.progress:g}%",
                      f"{w.nodes_done}/{w.nodes_total}", (w.created_at or "")[:19], w.error or "")
    console.print(table)


def _table_workers(console: Console, workers: list[dict[str, Any]]) -> None:
    table = _table("worker", "host", "pid", "queues", "started", "last heartbeat", "driving", "done")
    for w in workers:
        driving = ", ".join(f"{n['workflow_id']}#{n['index']}" for n in w["nodes"]) or "-"
        table.add_row(w["id"], w["host"] or "", str(w["pid"]), ", ".join(w["queues"]), (w["started_at"] or "")[:19],
                      (w["last_heartbeat"] or "")[:19], driving, str(w["nodes_done"]))
    console.print(table if workers else "no live worker")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    parser.add_argument("--version", action="version", version=version_text("orchestrator"))
    parser.add_argument("--url", default=os.environ.get("ORCHESTRATOR_URL", "http://127.0.0.1:8000"),
                        help="orchestrator API (default: $ORCHESTRATOR_URL or http://127.0.0.1:8000)")
    parser.add_argument("--api-key", default=os.environ.get("ORCHESTRATOR_API_KEY"),
                        help="bearer token of the API (default: $ORCHESTRATOR_API_KEY)")
    sub = parser.add_subparsers(dest="command", required=True)

    def watch_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cancel-on-interrupt", action="store_true",
                       help="Ctrl-C cancels the workflow without asking (default off a terminal: leave it running)")

    p = sub.add_parser("submit", help="submit a workflow (prints its id)")
    p.add_argument("blueprint", type=Path)
    p.add_argument("dockerinfo", type=Path)
    p.add_argument("--inputs", type=Path, help="JSON file: a list of DataReference")
    p.add_argument("--parameters", type=Path, help="JSON file: {container or container.operation: {...}}")
    p.add_argument("--options", type=Path, help="JSON file: node_timeout, node_timeouts, max_attempts, node_max_attempts, fail_fast")
    p.add_argument("--workflow-id", help="choose the id (409 if taken)")
    p.add_argument("--services-api-key", default=os.environ.get("ORCHESTRATOR_SERVICES_API_KEY"),
                   help="bearer token to send to the node services")
    p.add_argument("--watch", action="store_true", help="show live progress until the workflow ends")
    watch_flags(p)
    for name, text in (("status", "the workflow and its nodes"), ("tasks", "every node run in detail")):
        p = sub.add_parser(name, help=text)
        p.add_argument("workflow_id")
        p.add_argument("--json", action="store_true", help="print the API's JSON")
    p = sub.add_parser("output", help="print the outputs of the nodes (or of one node)")
    p.add_argument("workflow_id")
    p.add_argument("node", nargs="?", help="a node: container.operation, index or task id (default: every node)")
    p.add_argument("--json", action="store_true", help="print the outputs as JSON")
    p = sub.add_parser("list", help="workflows, newest first")
    p.add_argument("--status", help="only workflows in this status")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p = sub.add_parser("cancel", help="cancel a workflow (stops its running nodes)")
    p.add_argument("workflow_id")
    p = sub.add_parser("retry", help="run a failed or cancelled workflow's unfinished nodes again")
    p.add_argument("workflow_id")
    p.add_argument("--watch", action="store_true")
    watch_flags(p)
    p = sub.add_parser("delete", help="cancel and forget a workflow")
    p.add_argument("workflow_id")
    p = sub.add_parser("events", help="print the workflow's events as JSON lines until it ends")
    p.add_argument("workflow_id")
    p = sub.add_parser("watch", help="live progress of a workflow until it ends")
    p.add_argument("workflow_id")
    watch_flags(p)
    p = sub.add_parser("workers", help="live workers: host, pid, queues, heartbeat, nodes driven now and done")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    client = OrchestratorClient(args.url, api_key=args.api_key)
    try:
        cmd = args.command
        if cmd == "submit":
            res = client.submit(args.blueprint, args.dockerinfo, inputs=_json_file(args.inputs, []),
                                parameters=_json_file(args.parameters, {}), workflow_id=args.workflow_id,
                                options=_json_file(args.options, None), services_api_key=args.services_api_key)
            print(res.workflow_id, flush=True)
            if args.watch:
                return watch(client, res.workflow_id, console, args.cancel_on_interrupt)
        elif cmd == "watch":
            return watch(client, args.workflow_id, console, args.cancel_on_interrupt)
        elif cmd == "status":
            if args.json:
                _print_json(client.status(args.workflow_id).model_dump())
            else:
                _table_workflow(out, client, args.workflow_id)
        elif cmd == "tasks":
            if args.json:
                _print_json([t.model_dump() for t in client.tasks(args.workflow_id)])
            else:
                _table_tasks(out, client, args.workflow_id)
        elif cmd == "output":
            return _print_outputs(out, client, args.workflow_id, args.node, args.json)
        elif cmd == "list":
            if args.json:
                _print_json([w.model_dump() for w in client.list(status=args.status, limit=args.limit)])
            else:
                _table_list(out, client, args.status, args.limit)
        elif cmd == "workers":
            workers = client.workers()
            _print_json(workers) if args.json else _table_workers(out, workers)
        elif cmd in ("cancel", "retry", "delete"):
            res = getattr(client, cmd)(args.workflow_id)
            print(f"{res['workflow_id']} {res['status']}", flush=True)
            if cmd == "retry" and args.watch:
                return watch(client, args.workflow_id, console, args.cancel_on_interrupt)
        elif cmd == "events":
            try:
                for ev in client.events(args.workflow_id):
                    print(json.dumps({"event": ev.event, "data": ev.data}, separators=(",", ":")), flush=True)
            except KeyboardInterrupt:
                return EXIT_INTERRUPTED
        return EXIT_OK
    except OrchestratorError as exc:
        console.print(f"[red]error:[/] {exc}")
        return EXIT_ERROR
    except (httpx.TransportError, OSError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return EXIT_ERROR
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
