"""The `orchestrator` CLI (`python -m orchestrator.cli`) against real API, workers and services."""

from __future__ import annotations

import json
import signal
import subprocess

from orchestrator.cli import main
from tests.support import PYTHON, ROOT, wait_until

from .conftest import EXAMPLES, dockerinfo_for, load, long_params

DIAMOND_PATH = EXAMPLES / "diamond" / "blueprint.json"
DIAMOND = load(DIAMOND_PATH)


def cli(orch, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real console script in a subprocess (stdin not a terminal)."""
    return subprocess.run([PYTHON, "-m", "orchestrator.cli", "--url", orch.base, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "160"})


def run_main(capsys, orch, *args: str) -> tuple[int, str, str]:
    """`orchestrator.cli.main` in-process (quicker for the read-only commands)."""
    code = main(["--url", orch.base, *args])
    out, err = capsys.readouterr()
    return code, out, err


def files(tmp_path, service, params: dict) -> tuple[str, str, str]:
    (tmp_path / "dockerinfo.json").write_text(json.dumps(dockerinfo_for(DIAMOND, service.port)))
    (tmp_path / "params.json").write_text(json.dumps(params))
    return str(DIAMOND_PATH), str(tmp_path / "dockerinfo.json"), str(tmp_path / "params.json")


def test_orch_cli_submit_watch_complete_then_read_commands(orch, service, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich's width when not on a terminal
    orch.start_worker()
    bp, di, params = files(tmp_path, service, long_params(DIAMOND, 0.4, 4))
    r = cli(orch, "submit", bp, di, "--parameters", params, "--workflow-id", "cli-ok", "--watch")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == "cli-ok"
    for node in ("source.LongProcess", "left.LongProcess", "right.LongProcess", "sink.LongProcess"):
        assert f"{node} complete" in r.stderr, r.stderr
    assert "100.0%" in r.stderr and "workflow cli-ok complete (100%)" in r.stderr, r.stderr
    # each node's row shows what it last said (LongProcess reports phase "working") and its own time
    rows = [ln for ln in r.stderr.splitlines() if "100.0%" in ln and ".LongProcess" in ln]
    assert len(rows) == 4 and all("working" in ln for ln in rows), r.stderr
    assert not any("-:--:--" in ln for ln in rows), r.stderr

    code, out, _ = run_main(capsys, orch, "output", "cli-ok", "sink.LongProcess")
    sink = json.loads(out)  # inline data, printed as JSON
    assert code == 0 and sink["parameters"] == long_params(DIAMOND, 0.4, 4)["sink"]
    assert len(sink["inputs"]) == 2  # what left and right handed along
    code, out, _ = run_main(capsys, orch, "output", "cli-ok")
    assert code == 0 and all(f"{n}.LongProcess complete" in out for n in ("source", "left", "right", "sink"))
    code, out, _ = run_main(capsys, orch, "output", "cli-ok", "--json")
    assert code == 0 and set(json.loads(out)) == {f"{n}.LongProcess" for n in ("source", "left", "right", "sink")}
    assert run_main(capsys, orch, "output", "cli-ok", "nope.Nothing")[0] == 2

    code, out, _ = run_main(capsys, orch, "status", "cli-ok", "--json")
    assert code == 0 and json.loads(out)["status"] == "complete"
    code, out, _ = run_main(capsys, orch, "status", "cli-ok")
    assert code == 0 and "4/4 nodes done" in out and "sink.LongProcess" in out
    code, out, _ = run_main(capsys, orch, "tasks", "cli-ok")
    assert code == 0 and "sink.LongProcess" in out and "complete" in out
    code, out, _ = run_main(capsys, orch, "tasks", "cli-ok", "--json")
    assert code == 0 and [t["status"] for t in json.loads(out)] == ["complete"] * 4
    code, out, _ = run_main(capsys, orch, "list")
    assert code == 0 and "cli-ok" in out and "diamond" in out
    code, out, _ = run_main(capsys, orch, "list", "--json", "--status", "failed")
    assert code == 0 and json.loads(out) == []
    code, out, _ = run_main(capsys, orch, "events", "cli-ok")
    assert code == 0 and [json.loads(line)["event"] for line in out.splitlines()] == ["snapshot", "end"]
    # API errors: exit 2 with the reason
    code, _, err = run_main(capsys, orch, "submit", bp, di, "--workflow-id", "cli-ok")
    assert code == 2 and "409" in err and "already exists" in err
    assert run_main(capsys, orch, "status", "nope")[0] == 2
    assert run_main(capsys, orch, "cancel", "cli-ok")[0] == 2  # already complete: 409


def test_orch_cli_watch_failed_exits_nonzero_and_retry(orch, service, tmp_path):
    orch.start_worker()
    bp, di, params = files(tmp_path, service, long_params(DIAMOND, 0.05, 1, left={"duration": "bad"}))
    r = cli(orch, "submit", bp, di, "--parameters", params, "--workflow-id", "cli-bad", "--watch")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "left.LongProcess failed" in r.stderr and "workflow cli-bad failed" in r.stderr, r.stderr
    retried = cli(orch, "retry", "cli-bad", "--watch")  # same parameters: fails again
    assert retried.returncode == 1 and retried.stdout.startswith("cli-bad running"), retried.stdout + retried.stderr


def _interrupt_watch(orch, service, tmp_path, wid: str, *flags: str) -> subprocess.CompletedProcess:
    bp, di, params = files(tmp_path, service, long_params(DIAMOND, 0.05, 1, left={"duration": 30, "steps": 300}))
    err_path = tmp_path / f"{wid}.err"
    with open(err_path, "w") as err_file:
        proc = subprocess.Popen([PYTHON, "-m", "orchestrator.cli", "--url", orch.base, "submit", bp, di,
                                 "--parameters", params, "--workflow-id", wid, "--watch", *flags],
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file,
                                text=True)
        try:  # Ctrl-C once the CLI is watching the long node
            wait_until(lambda: "left.LongProcess running" in err_path.read_text(), timeout=20,
                       what="the CLI watching left running")
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = err_path.read_text()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_orch_cli_ctrl_c_off_a_terminal_leaves_it_running_or_cancels_on_request(orch, service, tmp_path):
    orch.start_worker()
    r = _interrupt_watch(orch, service, tmp_path, "cli-keep")
    assert r.returncode == 130, r.stdout + r.stderr
    assert "left running" in r.stderr
    assert orch.workflow("cli-keep")["status"] == "running"
    orch.http.post("/workflows/cli-keep/cancel")

    r = _interrupt_watch(orch, service, tmp_path, "cli-stop", "--cancel-on-interrupt")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cancelling cli-stop" in r.stderr and "workflow cli-stop cancelled" in r.stderr, r.stderr
    assert orch.workflow("cli-stop")["status"] == "cancelled"


def test_every_command_prints_its_version():
    from taskservice.version import project_version

    version = project_version()
    assert version != "0+unknown"
    commands = [[PYTHON, "-m", "orchestrator.cli", "--version"], [PYTHON, "-m", "orchestrator.worker", "--version"],
                [PYTHON, "-c", "import sys; sys.argv[0] = 'orchestrator-api'; from orchestrator.main import run; run()",
                 "--version"],
                [PYTHON, "-m", "taskservice.cli", "--version"],
                [PYTHON, "-c", "from taskservice.runner import main; main(['--version'])"],
                [PYTHON, "service.py", "--version"]]
    for cmd in commands:
        cwd = ROOT / "templates" / "concurrent" if cmd[1] == "service.py" else ROOT
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0 and version in r.stdout, (cmd, r.stdout, r.stderr)


def test_orch_cli_watch_says_when_no_worker_runs_then_goes_on(redis_server, service, tmp_path):
    from .conftest import Orchestrator

    orch = Orchestrator(redis_server.url, env={"ORCHESTRATOR_NO_WORKER_WARNING": "0.5"})
    try:
        bp, di, params = files(tmp_path, service, long_params(DIAMOND, 0.05, 1))
        err_path = tmp_path / "watch.err"
        with open(err_path, "w") as err_file:
            proc = subprocess.Popen([PYTHON, "-m", "orchestrator.cli", "--url", orch.base, "submit", bp, di,
                                     "--parameters", params, "--workflow-id", "cli-idle", "--watch"],
                                    cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_file,
                                    env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
        try:
            wait_until(lambda: "warning: no live worker" in err_path.read_text(), timeout=30,
                       what="the no-worker warning in --watch")
            assert "no live worker" in " ".join(orch.workflow("cli-idle")["warnings"])
            orch.start_worker()
            assert proc.wait(60) == 0, err_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert "workflow cli-idle complete (100%)" in err_path.read_text()
        assert orch.workflow("cli-idle")["warnings"] == []
    finally:
        orch.close()
