"""A node service whose work fails on its own for the first `FAIL_ATTEMPTS` attempts of each node.

Run: `python flaky_stub.py PORT`. The attempt is read from the task id's `.a{n}` suffix; a task
of attempt n <= FAIL_ATTEMPTS (env, default 1) ends `failed`, later ones `complete`.
"""

from __future__ import annotations

import os
import sys

import uvicorn
from fastapi import FastAPI, HTTPException

app = FastAPI()
TASKS: dict[str, str] = {}
FAIL_ATTEMPTS = int(os.environ.get("FAIL_ATTEMPTS", "1"))


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/control/tasks")
def tasks() -> dict:
    return {"tasks": [{"task_id": t, "status": s} for t, s in TASKS.items()]}


@app.post("/control/execute")
def execute(body: dict) -> dict:
    tid = body["task_id"]
    attempt = int(tid.rsplit(".a", 1)[1])
    TASKS.setdefault(tid, "failed" if attempt <= FAIL_ATTEMPTS else "complete")
    return {"status": "running", "task_id": tid}


@app.get("/control/status/{task_id}")
def status(task_id: str) -> dict:
    if task_id not in TASKS:
        raise HTTPException(404, "unknown task")
    st = TASKS[task_id]
    return {"status": st, "progress": 100, "error": "the work failed" if st == "failed" else None}


@app.get("/control/output/{task_id}")
def output(task_id: str) -> dict:
    return {"output": {"protocol": "inline", "uri": f"x://{task_id}", "format": "json", "data": {}}}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
