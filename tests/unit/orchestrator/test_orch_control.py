from __future__ import annotations

from orchestrator.control import normalize_status
from orchestrator.settings import Settings
from orchestrator.store import task_id_for
from taskservice.models import TaskStatus


def test_status_words():
    assert normalize_status("complete") is TaskStatus.COMPLETE
    assert normalize_status("completed") is TaskStatus.COMPLETE
    assert normalize_status("COMPLETED") is TaskStatus.COMPLETE
    assert normalize_status("failed") is TaskStatus.FAILED
    assert normalize_status("canceled") is TaskStatus.CANCELLED
    assert normalize_status("pending") is TaskStatus.PENDING
    assert normalize_status("running") is TaskStatus.RUNNING
    assert normalize_status(None) is TaskStatus.RUNNING


def test_task_ids_unique_per_run_vertex_attempt():
    a = task_id_for("wf", "run1", 0, "c", "Op", 1)
    assert a != task_id_for("wf", "run2", 0, "c", "Op", 1)
    assert a != task_id_for("wf", "run1", 0, "c", "Op", 2)
    assert a != task_id_for("wf", "run1", 1, "c", "Op", 1)
    long = task_id_for("w" * 128, "r", 3, "c" * 300, "o", 1)
    assert len(long) <= 256 and long.endswith(".a1")


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://example:1/2")
    monkeypatch.setenv("ORCHESTRATOR_LEASE_TTL", "7")
    s = Settings()
    assert s.redis_url == "redis://example:1/2" and s.lease_ttl == 7
