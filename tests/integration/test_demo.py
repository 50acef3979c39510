"""`make demo KEEP=1`: the stack stays up for the printed commands, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import httpx

from tests.support import PYTHON, ROOT, wait_until


def test_demo_keep_serves_the_printed_commands_and_ctrl_c_stops_everything(tmp_path):
    out = tmp_path / "demo.out"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    with open(out, "w") as f:
        proc = subprocess.Popen([PYTHON, "scripts/demo_workflow.py", "--keep"], cwd=ROOT, stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        wait_until(lambda: "Ctrl-C stops it" in out.read_text() or proc.poll() is not None, timeout=120,
                   what="the demo to finish its workflow")
        text = out.read_text()
        assert proc.poll() is None, text
        assert "complete" in text and "Dashboard: http://127.0.0.1:" in text and " output wf-" in text, text
        # nodes are labelled by container and operation
        assert "source.LongProcess=complete" in text, text
        dashboard = re.search(r"Dashboard: (\S+)/ui/", text).group(1)
        curls = re.findall(r"curl -s (\S+)", text)
        assert curls and all(httpx.get(url, timeout=10).status_code == 200 for url in curls), curls
        cli = re.search(r"CLI:\s+(.+ status \S+)", text).group(1).split()
        r = subprocess.run(cli, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "4/4 nodes done" in r.stdout, r.stdout + r.stderr

        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(30) == 0
        text = out.read_text()
        assert "Traceback" not in text, text
        try:
            httpx.get(f"{dashboard}/health", timeout=2)
            up = True
        except httpx.HTTPError:
            up = False
        assert not up, "the API still answers after Ctrl-C"
    finally:
        if proc.poll() is None:
            proc.kill()
