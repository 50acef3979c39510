"""One real template service per test module, and an HTTP client for it."""

from __future__ import annotations

import httpx
import pytest

from tests.support import ROOT, ServiceProcess

TEMPLATE = ROOT / "templates" / "concurrent"


@pytest.fixture(scope="module")
def service(request, tmp_path_factory):
    """`PORT=... python service.py` in templates/concurrent, with its own data folder."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    data = tmp_path_factory.mktemp(f"{name}-data")
    proc = ServiceProcess(TEMPLATE, env={"SERVICE_DATA_DIR": str(data)}, name=name)
    proc.data_dir = data
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(service):
    with httpx.Client(base_url=service.url, timeout=15) as c:
        yield c
