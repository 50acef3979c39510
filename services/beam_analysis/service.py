"""Beam analysis service: fit a Gaussian beam to a measured profile and write a small report.

Input: the DataReference a `ProfileMeasurement` of the motion-stage service returns (CSV `position,signal`
or JSON `{"position": [...], "signal": [...]}`). Output: a JSON report file with peak, centre, 1/e^2
radius, FWHM, offset and fit quality. Run: `cd services/beam_analysis && PORT=8082 python service.py`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

try:
    import taskservice  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from taskservice import DataReference, ExecuteRequest, Task, method, run  # noqa: E402
from taskservice.data import file_reference, read_bytes  # noqa: E402


class FitParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(0.1, gt=0, lt=1, description="fraction of the peak above which points are fitted")


def read_profile(ref: DataReference) -> tuple[np.ndarray, np.ndarray]:
    raw = read_bytes(ref)
    if ref.format.lower() == "json":
        doc = json.loads(raw)
        return np.asarray(doc["position"], float), np.asarray(doc["signal"], float)
    rows = list(csv.DictReader(io.StringIO(raw.decode())))
    return np.array([float(r["position"]) for r in rows]), np.array([float(r["signal"]) for r in rows])


def fit_gaussian(x: np.ndarray, y: np.ndarray, threshold: float = 0.1) -> dict[str, float]:
    """y = offset + peak * exp(-2 (x - centre)^2 / w^2): log-parabola fit on the bright part, weighted by y."""
    if len(x) < 5:
        raise ValueError(f"a profile needs at least 5 points, got {len(x)}")
    offset = float(np.percentile(y, 2))
    s = y - offset
    keep = s > threshold * s.max()
    if keep.sum() < 3:
        raise ValueError("no peak above the threshold")
    xk, sk = x[keep], s[keep]
    a, b, c = np.polyfit(xk, np.log(sk), 2, w=np.sqrt(sk))
    if a >= 0:
        raise ValueError("profile is not peaked")
    centre = -b / (2 * a)
    w = float(np.sqrt(-2 / a))
    peak = float(np.exp(c - b * b / (4 * a)))
    model = offset + peak * np.exp(-2 * (x - centre) ** 2 / w ** 2)
    ss_res, ss_tot = float(np.sum((y - model) ** 2)), float(np.sum((y - y.mean()) ** 2))
    return {"peak": peak, "centre": float(centre), "radius_1e2": w, "fwhm": w * float(np.sqrt(2 * np.log(2))),
            "offset": offset, "r_squared": 1 - ss_res / ss_tot if ss_tot else 0.0, "points": int(len(x))}


@method(parameters=FitParams, timeout=300)
def execute_FitProfile(request: ExecuteRequest, task: Task) -> DataReference:
    """Fit a Gaussian beam (peak, centre, 1/e^2 radius, FWHM) to the first profile input; writes report.json."""
    params: FitParams = task.params
    if not request.inputs:
        raise ValueError("FitProfile needs a profile input (the output of ProfileMeasurement)")
    ref = request.inputs[-1]
    task.progress(10.0, phase="reading", source=ref.uri)
    x, y = read_profile(ref)
    task.progress(50.0, phase="fitting", points=int(len(x)))
    fit = fit_gaussian(x, y, params.threshold)
    report: dict[str, Any] = {"source": ref.uri, "measurement": ref.data, "fit": fit}
    path = task.output_path("report.json")
    path.write_text(json.dumps(report, indent=2))
    task.progress(100.0, phase="done", **{k: round(v, 6) for k, v in fit.items()})
    return file_reference(path, "json", data=fit)


if __name__ == "__main__":
    run(sys.modules[__name__])
