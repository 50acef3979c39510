"""A `/control/ws` client that subscribed to everything and left must not hold up the
next SIGTERM of an idle service (it used to wait out uvicorn's graceful-shutdown timeout,
~11 s, and log a traceback): the handler reads the socket, so it notices the client left."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest
import websockets.sync.client as ws_client

from tests.support import ROOT, ServiceProcess



def assert_prompt_sigterm(proc) -> None:
    """SIGTERM ends the service well before uvicorn's graceful timeout (grace + 1 = 11 s) would."""
    proc.popen.send_signal(signal.SIGTERM)
    try:
        code = proc.popen.wait(timeout=8)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"service still running after SIGTERM:\n{proc.log()}") from None
    assert code in (0, -signal.SIGTERM), proc.log()
    assert "graceful shutdown exceeded" not in proc.log()

@pytest.fixture
def proc(tmp_path):
    """The template with a long shutdown grace: a prompt exit means the WebSocket did not hold it."""
    p = ServiceProcess(ROOT / "templates" / "concurrent", name="ws-shutdown",
                       env={"SERVICE_DATA_DIR": str(tmp_path), "SERVICE_SHUTDOWN_GRACE": "10",
                            "SERVICE_STATE_DB": ":memory:"})
    yield p
    p.stop()


def test_sigterm_after_a_websocket_client_left_is_prompt(proc):
    with ws_client.connect(f"ws://127.0.0.1:{proc.port}/control/ws") as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "snapshot"
    assert_prompt_sigterm(proc)


def test_sigterm_with_a_websocket_client_still_connected_is_prompt(proc):
    with ws_client.connect(f"ws://127.0.0.1:{proc.port}/control/ws") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        assert_prompt_sigterm(proc)
