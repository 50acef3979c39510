#!/usr/bin/env python3
"""Run an example workflow end to end: `python scripts/demo_workflow.py` (or `make demo`).

Starts, as children of this script: a redis-server on a free port (unless
REDIS_URL is set), one service per blueprint node, the orchestrator API and one
worker. Submits the example (`--example diamond`, the default, or
`--example lab_pipeline`: the motion stage's alignment and profile pipeline,
`make demo-lab`), prints its progress until it ends, the dashboard's URL, the
CLI and curl commands that inspect each node, and stops everything (`--keep`,
`make demo KEEP=1`: only on Ctrl-C, so those commands can be tried). Ctrl-C at
any point stops everything cleanly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TEMPLATE = "templates/concurrent"
# which service folder serves each container of an example (default: the template)
SERVICE_DIRS = {"lab_pipeline": {"stage": "services/motion_stage", "analysis": "services/beam_analysis"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Children:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="demo-workflow-"))

    def start(self, name: str, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None):
        log = self.tmp / f"{name}.log"
        p = subprocess.Popen(args, cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                             stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p, log))
        return p

    def wait_http(self, name: str, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        proc = next(p for n, p, _ in self.procs if n == name)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited; see {self.tmp / (name + '.log')}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{name} did not answer {url} within {timeout} s")

    def stop_all(self) -> None:
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p, _ in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description="run an example workflow end to end")
    parser.add_argument("--example", default="diamond", help="a folder of examples/ (diamond, lab_pipeline, ...)")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    args = parser.parse_args()
    keep, example = args.keep, ROOT / "examples" / args.example
    if not (example / "blueprint.json").exists():
        raise SystemExit(f"no blueprint.json in {example}")
    service_dirs = SERVICE_DIRS.get(args.example, {})
    kids = Children()
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            exe = shutil.which("redis-server")
            if exe is None:
                raise SystemExit("redis-server is not installed and REDIS_URL is not set")
            rport = free_port()
            kids.start("redis", [exe, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(kids.tmp)])
            redis_url = f"redis://127.0.0.1:{rport}/0"
            import redis
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis.from_url(redis_url).ping()
                    break
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        print(f"Redis:    {redis_url}")

        blueprint = json.loads((example / "blueprint.json").read_text())
        dockerinfo = json.loads((example / "dockerinfo.json").read_text())
        request_file = example / "request.json"
        request = json.loads(request_file.read_text()) if request_file.exists() else {}
        for entry in dockerinfo["docker_info_list"]:  # one local service per node
            port = free_port()
            name = f"service-{entry['container_name']}"
            folder = ROOT / service_dirs.get(entry["container_name"], TEMPLATE)
            kids.start(name, [PY, "service.py"], cwd=folder,
                       env={"PORT": str(port), "HOST": "127.0.0.1", "SERVICE_DATA_DIR": str(kids.tmp / name)})
            entry.update(ip_address="127.0.0.1", port=str(port))
        env = {"REDIS_URL": redis_url}
        api_port = int(os.environ.get("ORCHESTRATOR_PORT", free_port()))
        api = f"http://127.0.0.1:{api_port}"
        kids.start("api", [PY, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(api_port)],
                   cwd=ROOT / "orchestrator", env=env)
        kids.start("worker", [PY, "-m", "worker"], cwd=ROOT / "orchestrator", env=env)
        for entry in dockerinfo["docker_info_list"]:
            kids.wait_http(f"service-{entry['container_name']}", f"http://127.0.0.1:{entry['port']}/health")
            print(f"Service:  {entry['container_name']:<8} http://127.0.0.1:{entry['port']}")
        kids.wait_http("api", f"{api}/health")
        print(f"API:      {api}   (worker started)")

        r = httpx.post(f"{api}/workflows", json={"blueprint": blueprint, "dockerinfo": dockerinfo, **request})
        r.raise_for_status()
        wid = r.json()["workflow_id"]
        print(f"\nSubmitted {args.example} as {wid}\n")
        last = None
        while True:
            wf = httpx.get(f"{api}/workflows/{wid}").json()
            line = f"{wf['status']:<9} {wf['progress']:5.1f}%  " + "  ".join(
                f"{n['node']}={n['status']}({n['progress']:.0f}%)" for n in wf["nodes"])
            if line != last:
                print(line, flush=True)
                last = line
            if wf["status"] in ("complete", "failed", "cancelled"):
                break
            time.sleep(0.25)
        if wf.get("error"):
            print(f"error: {wf['error']}")

        tasks = httpx.get(f"{api}/workflows/{wid}/tasks").json()["tasks"]
        last_node = tasks[-1]
        out = last_node["output"] or {}
        shown = out.get("data", out)  # inline outputs carry their value in `data`
        print(f"\n{last_node['container']} output ({out.get('protocol')}, {out.get('format')}): "
              f"{json.dumps(shown)[:400]}")
        cli = f"{Path(PY).parent / 'orchestrator'} --url {api}"
        print(f"\nDashboard: {api}/ui/#/wf/{wid}")
        print(f"CLI:       {cli} status {wid}")
        print(f"           {cli} tasks {wid}")
        print(f"           {cli} output {wid}")
        print(f"           {cli} submit {example / 'blueprint.json'} <dockerinfo.json> --watch")
        print("\nInspect each node (" + ("until you press Ctrl-C" if keep else
              "make demo KEEP=1 keeps everything up for these") + "):")
        print(f"  curl -s {api}/workflows/{wid}")
        print(f"  curl -s {api}/workflows/{wid}/tasks")
        for t in tasks:
            print(f"  curl -s {api}/workflows/{wid}/tasks/{t['task_id']}")
            print(f"  curl -s {t['service']}/control/status/{t['task_id']}")
        if keep:
            try:
                print("\nEverything keeps running; Ctrl-C stops it.", flush=True)
                signal.pause()
            except KeyboardInterrupt:
                pass
        return 0 if wf["status"] == "complete" else 1
    finally:
        kids.stop_all()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # main's `finally` has stopped every child by now
        print("\ninterrupted: everything stopped", file=sys.stderr)
        sys.exit(130)
