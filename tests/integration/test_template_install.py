"""The template installs anywhere: a copy outside the repository, a fresh virtual environment,
the core from its wheel (`make dist`), a method added, served and run over HTTP."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, Process, free_port, wait_until

NEW_METHOD = '''

def execute_Double(request: ExecuteRequest, task: Task) -> dict:
    """Double `x` in the background."""
    task.progress(50, phase="doubling")
    return {"double": 2 * request.parameters["x"]}
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build") / "taskservice"
    # what `make dist` builds, from a copy so build artifacts stay out of the checkout
    shutil.copytree(ROOT / "packages" / "taskservice", build)
    shutil.copytree(ROOT / "taskservice", build / "taskservice", ignore=shutil.ignore_patterns("__pycache__"))
    (build / "pyproject.toml").write_text((build / "pyproject.toml").read_text().replace(
        '"../../taskservice"', '"taskservice"'))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(build)], check=True, capture_output=True, timeout=300)
    (found,) = out.glob("taskservice-*.whl")
    return found


@pytest.mark.timeout(900)  # a fresh environment downloads and installs the core's dependencies
def test_template_copied_outside_the_repository_installs_from_the_wheel_and_runs_a_new_method(wheel, tmp_path):
    app = tmp_path / "my-service"
    shutil.copytree(ROOT / "templates" / "concurrent", app, ignore=shutil.ignore_patterns("__pycache__", "var"))
    assert ROOT not in app.parents
    with (app / "service.py").open("a") as fh:
        fh.write(NEW_METHOD.replace("\n\nif __name__", "\nif __name__"))
    source = (app / "service.py").read_text()
    main = 'if __name__ == "__main__":'
    body, _, tail = source.partition(main)
    (app / "service.py").write_text(body + NEW_METHOD.strip() + "\n\n\n" + main + tail.replace(NEW_METHOD, ""))

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", "--find-links", str(wheel.parent),
                              "-r", "requirements.txt"], cwd=app, capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                               text=True, check=True).stdout.lower()
    assert "taskservice==0.1.0" in installed
    for dev_only in ("pytest", "selenium", "grpcio-tools", "pythonnet", "redis", "rq=="):
        assert dev_only not in installed, dev_only
    where = subprocess.run([str(python), "-c", "import taskservice; print(taskservice.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert str(env_dir) in where and str(ROOT) not in where

    port = free_port()
    clean_env = {"PORT": str(port), "HOST": "127.0.0.1", "PYTHONPATH": "", "SERVICE_DATA_DIR": str(tmp_path / "data")}
    proc = Process([str(python), "service.py"], cwd=app, env=clean_env, name="copied-template")
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(proc.log())
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        wait_until(up, timeout=60, what="copied template service")
        with httpx.Client(base_url=base, timeout=10) as c:
            methods = {m["name"]: m for m in c.get("/control/methods").json()["methods"]}
            assert methods["Double"]["doc"] == "Double `x` in the background."
            r = c.post("/control/execute", json={"method": "Double", "task_id": "d1", "parameters": {"x": 21}})
            assert r.status_code == 202, r.text
            wait_until(lambda: c.get("/control/status/d1").json()["status"] == "complete", what="Double done")
            assert c.get("/control/output/d1").json()["output"]["data"] == {"double": 42}
            assert "Execute_Double" in c.get("/openapi.json").json()["components"]["schemas"]
    finally:
        proc.stop()
