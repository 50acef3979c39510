#!/usr/bin/env python3
"""Refresh the README's dashboard screenshots: `python scripts/dashboard_screenshots.py`.

Starts Redis, one template service, the API and a worker (as the demo does),
runs a 200-node layered workflow of short nodes, and saves, from headless
Chromium, `docs/dashboard-200.png` (fit to view, mid-run) and
`docs/dashboard-200-node.png` (zoomed on a running node with its details).
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_workflow import PY, ROOT, TEMPLATE, Children, free_port  # noqa: E402


def layered(layers: int, width: int, seed: int = 3) -> dict:
    rnd = random.Random(seed)
    names = [[f"step{layer:02d}-{k}" for k in range(width)] for layer in range(layers)]
    children: dict[str, set[str]] = {n: set() for row in names for n in row}
    for layer in range(1, layers):
        for name in names[layer]:
            for parent in rnd.sample(names[layer - 1], 2):
                children[parent].add(name)
    op = {"operation_name": "LongProcess"}
    return {"name": f"layered {layers}x{width}", "type": "pipeline-topology/v2", "version": "2.0", "nodes": [
        {"container_name": n, "node_type": "MLModel", "operation_signature_list": [
            {"operation_signature": op, "connected_to": [{"container_name": c, "operation_signature": op}
                                                         for c in sorted(children[n])]}]}
        for row in names for n in row]}


def main() -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    kids = Children()
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    try:
        rport, sport, aport = free_port(), free_port(), free_port()
        kids.start("redis", [shutil.which("redis-server") or "redis-server", "--port", str(rport), "--save", "",
                             "--dir", str(kids.tmp)])
        env = {"REDIS_URL": f"redis://127.0.0.1:{rport}/0"}
        kids.start("service", [PY, "service.py"], cwd=ROOT / TEMPLATE,
                   env={"PORT": str(sport), "HOST": "127.0.0.1", "SERVICE_DATA_DIR": str(kids.tmp / "svc")})
        kids.start("api", [PY, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(aport)],
                   cwd=ROOT / "orchestrator", env=env)
        api = f"http://127.0.0.1:{aport}"
        kids.wait_http("service", f"http://127.0.0.1:{sport}/health")
        kids.wait_http("api", f"{api}/health")
        kids.start("worker", [PY, "-m", "worker"], cwd=ROOT / "orchestrator", env=env)
        bp = layered(20, 10)
        di = {"docker_info_list": [{"container_name": n["container_name"], "ip_address": "127.0.0.1",
                                    "port": str(sport)} for n in bp["nodes"]]}
        rnd = random.Random(5)
        params = {n["container_name"]: {"duration": round(rnd.uniform(1.0, 4.0), 1), "steps": 20} for n in bp["nodes"]}
        wid = httpx.post(f"{api}/workflows", json={"blueprint": bp, "dockerinfo": di, "parameters": params,
                                                   "workflow_id": "layered-200"}).json()["workflow_id"]
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={profile}", "--window-size=1600,1000"):
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            while True:  # mid-run: about a third of the nodes complete
                wf = httpx.get(f"{api}/workflows/{wid}?nodes=false").json()
                if wf.get("nodes_complete", wf.get("nodes_done", 0)) >= 70 or wf["status"] != "running" and wf["status"] != "pending":
                    break
                time.sleep(0.5)
            driver.get(f"{api}/ui#/wf/{wid}")
            time.sleep(3)
            driver.save_screenshot(str(ROOT / "docs" / "dashboard-200.png"))
            driver.find_element("id", "jump-running").click()
            time.sleep(2)
            driver.save_screenshot(str(ROOT / "docs" / "dashboard-200-node.png"))
        finally:
            driver.quit()
        print(json.dumps({"screenshots": ["docs/dashboard-200.png", "docs/dashboard-200-node.png"]}))
        return 0
    finally:
        kids.stop_all()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
