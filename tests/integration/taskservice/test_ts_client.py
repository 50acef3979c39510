"""The typed ServiceClient and the taskservice-client CLI against a real service."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from taskservice.client import ServiceClient, ServiceError
from taskservice.models import TaskStatus
from tests.support import wait_until


@pytest.fixture()
def client(service):
    with ServiceClient(service.url) as c:
        yield c


def test_run_reports_progress_and_returns_output(client):
    seen: list[int] = []
    out = client.run("LongProcess", parameters={"duration": 0.4, "steps": 4},
                     on_progress=lambda r: seen.append(r.progress))
    assert out.data == {"inputs": [], "parameters": {"duration": 0.4, "steps": 4}}
    assert seen[-1] == 100 and seen == sorted(seen) and len(seen) >= 3


def test_quick_method_returns_output_from_execute(client):
    started = client.execute("QuickTask", parameters={"a": 1})
    assert started.status is TaskStatus.COMPLETE
    assert started.output is not None and started.output.data["parameters"] == {"a": 1}


def test_errors_carry_status_code(client):
    with pytest.raises(ServiceError) as info:
        client.execute("NoSuchMethod")
    assert info.value.status_code == 400 and "LongProcess" in str(info.value)
    with pytest.raises(ServiceError) as info:
        client.output("missing")
    assert info.value.status_code == 404


def test_stop_and_wait(client):
    task = client.execute("LongProcess", parameters={"duration": 30, "steps": 30})
    assert client.stop(task.task_id).status in (TaskStatus.STOPPING, TaskStatus.CANCELLED)
    assert client.wait(task.task_id, timeout=5).status is TaskStatus.CANCELLED


def test_wait_timeout(client):
    task = client.execute("LongProcess", parameters={"duration": 30, "steps": 3})
    with pytest.raises(TimeoutError):
        client.wait(task.task_id, timeout=0.3)
    client.stop(task.task_id)


def test_events_stream_snapshot_then_end(client):
    task = client.execute("LongProcess", parameters={"duration": 0.3, "steps": 3})
    kinds = [kind for kind, _ in client.events(task.task_id)]
    assert kinds[0] == "snapshot" and kinds[-1] == "end"


def test_tasks_listing_filters(client):
    client.execute("QuickTask", workflow_id="wf-client")
    listing = client.tasks(workflow_id="wf-client")
    assert listing["total"] >= 1 and all(t.workflow_id == "wf-client" for t in listing["tasks"])


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "taskservice.cli", *args]


def test_cli_exit_codes(service):
    ok = subprocess.run(cli(service.url, "LongProcess", "-p", "duration=0.2", "-p", "steps=2"),
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert '"duration": 0.2' in ok.stdout
    bad = subprocess.run(cli(service.url, "Nope"), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Unknown method" in bad.stderr
    listing = subprocess.run(cli(service.url), capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "TrainModel" in listing.stderr


def test_cli_ctrl_c_stops_the_task(service, client):
    proc = subprocess.Popen(cli(service.url, "LongProcess", "--task-id", "cli-ctrl-c", "-p", "duration=60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    threading.Thread(target=lambda: [said.append(line) for line in proc.stderr], daemon=True).start()
    try:
        # the CLI says so once its Ctrl-C handling is in place
        wait_until(lambda: any("Ctrl-C stops it" in line for line in said), timeout=30, what="CLI watching")
        assert client.status("cli-ctrl-c").status is TaskStatus.RUNNING
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert client.status("cli-ctrl-c").status is TaskStatus.CANCELLED
