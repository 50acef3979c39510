"""An AI-Effect-style node service: no `?wait`, says `completed`, answers execute once per call.

Run: `python aieffect_stub.py PORT`. Tasks take `DURATION` seconds (env, default 0.3).
"""

from __future__ import annotations

import os
import sys
import time

import uvicorn
from fastapi import FastAPI, HTTPException

app = FastAPI()
TASKS: dict[str, dict] = {}
DURATION = float(os.environ.get("DURATION", "0.3"))
STATUS_CALLS = {"n": 0}


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "status_calls": STATUS_CALLS["n"], "executes": len(TASKS)}


@app.post("/control/execute")
def execute(body: dict) -> dict:
    TASKS[body["task_id"]] = {"start": time.monotonic(), "inputs": body.get("inputs", [])}
    return {"status": "running", "task_id": body["task_id"]}


@app.get("/control/status/{task_id}")
def status(task_id: str) -> dict:
    STATUS_CALLS["n"] += 1
    t = TASKS.get(task_id)
    if t is None:
        raise HTTPException(404, "unknown task")
    done = time.monotonic() - t["start"] >= DURATION
    return {"status": "completed" if done else "running", "progress": 100 if done else 50}


@app.get("/control/output/{task_id}")
def output(task_id: str) -> dict:
    return {"output": {"protocol": "inline", "uri": f"x://{task_id}", "format": "json",
                       "data": {"n_inputs": len(TASKS[task_id]["inputs"])}}}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
