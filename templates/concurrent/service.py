"""Example concurrent service: copy this folder and write your own `execute_<Method>` functions.

Run it with `PORT=8080 python service.py`.

Three ways to write a method, all served by the same control interface:
- quick: `def execute_X(request)` returns its output inside execute (200);
- background: `def execute_X(request, task)` does the work with a task handle
  and returns its output; the template does the bookkeeping (202);
- explicit (the AI-Effect template's style): register the task, hand a worker
  to `run_in_background`, and report through `task_manager`.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, model_validator

from handler import (DataReference, ExecuteRequest, ExecuteResponse, Task, TaskCancelled, TaskManager,
                     file_reference, method, run, run_in_background, task_manager)

MAX_CELLS = 2_000_000  # samples x features a method holds in memory (16 MB of floats)
MAX_WORK = 500_000_000  # epochs x samples x features of one training run
MAX_INPUT_BYTES = 64 * 1024 * 1024  # largest training input read


def execute_QuickTask(request: ExecuteRequest) -> ExecuteResponse:
    """Answer inside execute: echo the inputs' data and the parameters."""
    data = {"inputs": [_data_of(ref) for ref in request.inputs], "parameters": request.parameters}
    return ExecuteResponse(status="complete", task_id=request.task_id, output=DataReference.inline(data))


class LongProcessParams(BaseModel, extra="allow"):
    duration: float = Field(5.0, ge=0, le=86_400, description="seconds of work in all")
    steps: int = Field(10, ge=1, le=100_000, description="progress is reported once per step")


@method(parameters=LongProcessParams)
def execute_LongProcess(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """Work for `duration` seconds in `steps` steps, reporting progress per step.

    The output's inline data holds `{"inputs": [data of each input, in order],
    "parameters": ...}`, so a chain of these shows what was handed along.
    """
    params: LongProcessParams = task.params
    step_time = params.duration / params.steps
    started = time.monotonic()
    for step in range(1, params.steps + 1):
        if task.sleep(step_time):  # wakes at once on a stop request
            raise TaskCancelled(f"stopped at step {step - 1} of {params.steps}")
        task.progress(100.0 * step / params.steps, phase="working", step=step, steps=params.steps,
                      elapsed_time=round(time.monotonic() - started, 3))
    return {"inputs": [_data_of(ref) for ref in request.inputs], "parameters": request.parameters}


@method(parameters=LongProcessParams, pausable=True)
def execute_PausableProcess(request: ExecuteRequest, task: Task) -> dict[str, Any]:
    """LongProcess that may be paused between steps (`POST /control/pause/{task_id}`, then `/resume`).

    While paused it waits without working; the time paused does not count
    against its timeout, and a stop still ends it at once.
    """
    params: LongProcessParams = task.params
    step_time = params.duration / params.steps
    for step in range(1, params.steps + 1):
        if task.paused and task.wait_while_paused():  # blocks until resumed; True when stopped meanwhile
            raise TaskCancelled(f"stopped while paused after step {step - 1} of {params.steps}")
        if task.sleep(step_time):
            raise TaskCancelled(f"stopped at step {step - 1} of {params.steps}")
        task.progress(100.0 * step / params.steps, phase="working", step=step, steps=params.steps)
    return {"inputs": [_data_of(ref) for ref in request.inputs], "parameters": request.parameters}


class TrainParams(BaseModel):
    epochs: int = Field(200, ge=1, le=100_000)
    learning_rate: float = Field(0.1, gt=0, le=10)
    samples: int = Field(2_000, ge=10, le=1_000_000, description="synthetic samples when no input is given")
    features: int = Field(4, ge=1, le=1_000)
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _bounded(self) -> TrainParams:
        if self.samples * self.features > MAX_CELLS:
            raise ValueError(f"samples x features must be at most {MAX_CELLS}")
        if self.epochs * self.samples * self.features > MAX_WORK:
            raise ValueError(f"epochs x samples x features must be at most {MAX_WORK}")
        return self


@method(parameters=TrainParams)
def execute_TrainModel(request: ExecuteRequest, task: Task) -> DataReference:
    """Train a logistic-regression classifier (numpy, full-batch gradient descent).

    Data comes by reference: the first input, a CSV file (last column the 0/1
    label) or inline JSON `{"X": [[...]], "y": [...]}`; without inputs a
    synthetic, linearly separable set is made. Progress is reported per epoch;
    the model is written to a JSON file and returned as a `file` reference.
    """
    params: TrainParams = task.params
    X, y = _training_data(task, request.inputs, params)
    if X.size > MAX_CELLS or params.epochs * X.size > MAX_WORK:
        raise ValueError(f"the input has {X.size} values; at most {MAX_CELLS} (and epochs x values at most "
                         f"{MAX_WORK}) are trained on")
    X = np.hstack([X, np.ones((len(X), 1))])  # bias column
    weights = np.zeros(X.shape[1])
    loss = math.inf
    for epoch in range(1, params.epochs + 1):
        task.check_cancelled()
        p = 1.0 / (1.0 + np.exp(-(X @ weights)))
        gradient = X.T @ (p - y) / len(y)
        weights -= params.learning_rate * gradient
        eps = 1e-12
        loss = float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
        if epoch % max(1, params.epochs // 100) == 0 or epoch == params.epochs:
            task.progress(100.0 * epoch / params.epochs, phase="training", epoch=epoch, epochs=params.epochs,
                          loss=round(loss, 6))
    accuracy = float(np.mean(((X @ weights) > 0) == (y > 0.5)))
    summary = {"loss": round(loss, 6), "accuracy": round(accuracy, 4), "samples": int(len(y)),
               "features": int(X.shape[1] - 1), "epochs": params.epochs}
    path = task.output_path("model.json")
    path.write_text(json.dumps({"kind": "logistic-regression", "weights": weights.tolist(), **summary}))
    return file_reference(path, "json", data=summary)


class DatasetParams(BaseModel):
    samples: int = Field(1_000, ge=10, le=1_000_000)
    features: int = Field(4, ge=1, le=1_000)
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _bounded(self) -> DatasetParams:
        if self.samples * self.features > MAX_CELLS:
            raise ValueError(f"samples x features must be at most {MAX_CELLS}")
        return self


@method(parameters=DatasetParams, background=False)
def execute_MakeDataset(request: ExecuteRequest, task: Task) -> DataReference:
    """Write a synthetic classification data set to a CSV file in the task's own folder (quick)."""
    params: DatasetParams = task.params
    X, y = _synthetic(params.samples, params.features, params.seed)
    path = task.output_path("dataset.csv")
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f"x{i}" for i in range(params.features)] + ["label"])
        writer.writerows(np.column_stack([X, y]).tolist())
    return file_reference(path, "csv", data={"samples": params.samples, "features": params.features})


# -- the explicit (AI-Effect template) style ------------------------------------------------

def execute_LongTask(request: ExecuteRequest) -> ExecuteResponse:
    """The AI-Effect template's explicit style: register, run in background, report."""
    task_manager.register_task(request.task_id, request)
    run_in_background(request.task_id, _long_task_worker, request)
    return ExecuteResponse(status="running", task_id=request.task_id)


def _long_task_worker(task_id: str, request: ExecuteRequest, manager: TaskManager) -> None:
    try:
        steps = int(request.parameters.get("steps", 10))
        duration = float(request.parameters.get("duration", 1.0))
        if not (1 <= steps <= 100_000 and 0 <= duration <= 86_400):
            raise ValueError("steps must be 1..100000 and duration 0..86400 seconds")
        delay = duration / steps
        for i in range(steps):
            if manager.sleep(task_id, delay):  # True once a stop was requested
                return
            manager.update_progress(task_id, (i + 1) * 100 / steps)
        manager.complete_task(task_id, DataReference.inline({"steps": steps}))
    except Exception as e:  # noqa: BLE001 - reported as the task's error
        manager.fail_task(task_id, str(e))


# -- helpers ---------------------------------------------------------------------------------

def _data_of(ref: DataReference) -> Any:
    """An input's data: inline data (from `data` or the base64 `uri`); other references as themselves."""
    if ref.protocol == "inline":
        return ref.inline_value()
    return ref.model_dump(exclude_none=True)


def _synthetic(samples: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, features))
    true_w = rng.normal(size=features)
    y = (X @ true_w + 0.3 * rng.normal(size=samples) > 0).astype(float)
    return X, y


def _training_data(task: Task, inputs: list[DataReference],
                   params: TrainParams) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels from the first input (read under the service's input rules), else synthetic.

    Errors name the input and the row, never what the input holds.
    """
    if not inputs:
        return _synthetic(params.samples, params.features, params.seed)
    ref = inputs[0]
    if ref.format.lower() == "csv":
        text = task.load_input(ref, MAX_INPUT_BYTES)
        if not isinstance(text, str):
            raise ValueError("input 0: a CSV input must be text")
        rows = list(csv.reader(text.splitlines()))
        header_skipped = rows[1:] if rows and rows[0] and not _is_number(rows[0][0]) else rows
        try:
            table = np.array(header_skipped, dtype=float)
        except ValueError:
            raise ValueError("input 0: every CSV row must hold the same number of numeric columns") from None
        if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 2:
            raise ValueError("input 0: a CSV needs at least one row of features and a label column")
        return table[:, :-1], table[:, -1]
    data = task.load_input(ref, MAX_INPUT_BYTES)
    if not isinstance(data, dict) or "X" not in data or "y" not in data:
        raise ValueError("input 0: expected JSON with 'X' and 'y', or a CSV file")
    try:
        X, y = np.asarray(data["X"], dtype=float), np.asarray(data["y"], dtype=float)
    except (TypeError, ValueError):
        raise ValueError("input 0: 'X' must be a table of numbers and 'y' a list of numbers") from None
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or len(y) == 0:
        raise ValueError("input 0: 'X' must be rows x features and 'y' one label per row")
    return X, y


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


if __name__ == "__main__":
    run(sys.modules[__name__])
