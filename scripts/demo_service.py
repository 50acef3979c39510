"""Demo of the concurrent template on its own: start the example service, run a
long task through the same HTTP calls curl would make, and show its progress.

    .venv/bin/python scripts/demo_service.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parents[1]
console = Console(soft_wrap=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    port = int(os.environ.get("DEMO_PORT", free_port()))
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    console.rule("[bold]Concurrent service template")
    console.print(f"$ cd templates/concurrent && PORT={port} python service.py")
    proc = subprocess.Popen([sys.executable, "service.py"], cwd=ROOT / "templates" / "concurrent", env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=url, timeout=35) as http:
            for _ in range(200):
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            methods = http.get("/control/methods").json()["methods"]
            console.print("methods:", ", ".join(m["name"] for m in methods))

            body = '{"method": "LongProcess", "parameters": {"duration": 4, "steps": 8}}'
            console.print(f"\n$ curl -X POST {url}/control/execute -H 'Content-Type: application/json' -d '{body}'")
            started = http.post("/control/execute", content=body, headers={"Content-Type": "application/json"})
            task = started.json()
            console.print(f"[green]{started.status_code}[/] {task['status']} task_id={task['task_id']} "
                          f"Location: {started.headers['location']}")
            task_id = task["task_id"]
            console.print(f"$ curl '{url}/control/status/{task_id}?wait=30'   # long-poll: answers on each change")
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                          TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console) as bar:
                row = bar.add_task("LongProcess", total=100, info="")
                record = http.get(f"/control/status/{task_id}").json()
                while record["status"] not in ("complete", "failed", "cancelled"):
                    details = record["details"]
                    info = f"step {details.get('step', 0)}/{details.get('steps', '?')}" if details else record["status"]
                    bar.update(row, completed=record["progress"], info=info)
                    record = http.get(f"/control/status/{task_id}", params={"wait": 30}).json()
                bar.update(row, completed=record["progress"], info=record["status"])
            console.print(f"$ curl {url}/control/output/{task_id}")
            console.print_json(data=http.get(f"/control/output/{task_id}").json())

            console.print("\nCancellation: start a 60 s task, stop it after 0.5 s")
            long = http.post("/control/execute", json={"method": "LongProcess", "parameters": {"duration": 60}}).json()
            time.sleep(0.5)
            console.print(f"$ curl -X POST {url}/control/stop/{long['task_id']}")
            t0 = time.monotonic()
            stopped = http.post(f"/control/stop/{long['task_id']}").json()
            console.print(f"  -> {stopped['status']}")
            final = http.get(f"/control/status/{long['task_id']}", params={"wait": 5}).json()
            console.print(f"  -> {final['status']} after {1000 * (time.monotonic() - t0):.0f} ms")
            ok = record["status"] == "complete" and final["status"] == "cancelled"
            console.rule("[green]done" if ok else "[red]failed")
            return 0 if ok else 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


if __name__ == "__main__":
    sys.exit(main())
