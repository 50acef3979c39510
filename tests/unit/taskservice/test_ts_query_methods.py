"""Task queries (taskservice/query.py) and method discovery (taskservice/methods.py)."""

from __future__ import annotations

import types
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from taskservice import ExecuteRequest, method
from taskservice.methods import discover
from taskservice.models import TaskStatus
from taskservice.query import QueryError, from_json, from_query_params, matcher


class FakeEntry:
    def __init__(self, task_id, method, status, workflow_id=None, created=0.0, started=None, finished=None,
                 progress=0.0):
        self.task_id, self.method, self.workflow_id = task_id, method, workflow_id
        self.status = TaskStatus(status)
        self.created, self.started, self.finished, self.progress = created, started, finished, progress


T0 = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


ENTRIES = [
    FakeEntry("a", "LongProcess", "complete", "w1", created=T0, started=T0 + 1, finished=T0 + 10, progress=100),
    FakeEntry("b", "LongProcess", "failed", "w1", created=T0 + 20, started=T0 + 21, finished=T0 + 30),
    FakeEntry("c", "TrainModel", "running", "w2", created=T0 + 40, started=T0 + 41, progress=50),
    FakeEntry("d", "QuickTask", "complete", None, created=T0 + 60, started=T0 + 60, finished=T0 + 60,
              progress=100),
    FakeEntry("e", "TrainModel", "pending", "w2", created=T0 + 80),
]


def ids(conds) -> list[str]:
    match = matcher(conds)
    return [e.task_id for e in ENTRIES if match(e)]


def test_simple_filters():
    assert ids(from_query_params([("status", "complete")])) == ["a", "d"]
    assert ids(from_query_params([("status", "running,pending")])) == ["c", "e"]
    assert ids(from_query_params([("method", "TrainModel")])) == ["c", "e"]
    assert ids(from_query_params([("workflow_id", "w1")])) == ["a", "b"]
    assert ids(from_query_params([("method", "LongProcess"), ("status", "failed")])) == ["b"]
    assert ids(from_query_params([])) == ["a", "b", "c", "d", "e"]


def test_deep_object_filters_with_time_operators():
    assert ids(from_query_params([("filter[created_at][gt]", iso(T0 + 30))])) == ["c", "d", "e"]
    assert ids(from_query_params([("filter[created_at][lt]", iso(T0 + 30))])) == ["a", "b"]
    both = [("filter[created_at][gt]", iso(T0 + 10)), ("filter[created_at][lt]", iso(T0 + 70))]
    assert ids(from_query_params(both)) == ["b", "c", "d"]
    # unfinished tasks have no finished_at: never match a time comparison
    assert ids(from_query_params([("filter[finished_at][gt]", iso(T0))])) == ["a", "b", "d"]
    assert ids(from_query_params([("filter[finished_at][lt]", iso(T0 + 15))])) == ["a"]
    assert ids(from_query_params([("filter[status][ne]", "complete")])) == ["b", "c", "e"]
    assert ids(from_query_params([("filter[status]", "failed")])) == ["b"]


def test_deep_object_seed_style_op_and_value():
    pairs = [("filter[created_at][op]", "gt"), ("filter[created_at][value]", iso(T0 + 50))]
    assert ids(from_query_params(pairs)) == ["d", "e"]


def test_time_offsets_and_naive_times_are_utc():
    local = datetime.fromtimestamp(T0 + 30, timezone(timedelta(hours=2))).isoformat()
    assert ids(from_query_params([("filter[created_at][gt]", local)])) == ["c", "d", "e"]
    naive = datetime.fromtimestamp(T0 + 30, timezone.utc).replace(tzinfo=None).isoformat()
    assert ids(from_query_params([("filter[created_at][gt]", naive)])) == ["c", "d", "e"]


def test_json_filters():
    assert ids(from_json({"status": "complete"})) == ["a", "d"]
    assert ids(from_json({"status": ["failed", "running"]})) == ["b", "c"]
    assert ids(from_json({"created_at": {"op": "gt", "value": iso(T0 + 30)}})) == ["c", "d", "e"]
    assert ids(from_json({"created_at": {"gt": iso(T0 + 10), "lt": iso(T0 + 50)}, "method": "LongProcess"})) == ["b"]
    assert ids(from_json({"method": {"op": "like", "value": "Long%"}})) == ["a", "b"]
    assert ids(from_json({"progress": {"ge": 50}})) == ["a", "c", "d"]


@pytest.mark.parametrize("conds", [
    lambda: from_query_params([("filter[colour][eq]", "red")]),
    lambda: from_query_params([("filter[status][between]", "x")]),
    lambda: from_query_params([("filter[created_at][gt]", "yesterday")]),
    lambda: from_json({"nope": 1}),
    lambda: from_json({"progress": {"gt": "lots"}}),
])
def test_bad_filters_raise_query_error(conds):
    with pytest.raises(QueryError):
        conds()


# -- method discovery ------------------------------------------------------------------------

class Params(BaseModel):
    n: int = 1


def _module():
    mod = types.ModuleType("svc")

    def execute_Quick(request):
        """Quick one."""

    def execute_Background(request, task):
        """Background one.

        More text."""

    @method(timeout=5, concurrency=1, queue=True, parameters=Params)
    def execute_Limited(request, task):
        """Limited."""

    @method(concurrency=2, resource=lambda request, params: request.parameters.get("stage"))
    def execute_PerStage(request, task):
        pass

    @method(background=True)
    def execute_Forced(request):
        pass

    mod.execute_Quick = execute_Quick
    mod.execute_Background = execute_Background
    mod.execute_Limited = execute_Limited
    mod.execute_PerStage = execute_PerStage
    mod.execute_Forced = execute_Forced
    mod.helper = lambda: None
    mod.execute_NotCallable = 3
    return mod


def test_discovery_finds_methods_and_their_kind():
    specs = discover(_module())
    assert set(specs) == {"Quick", "Background", "Limited", "PerStage", "Forced"}
    assert specs["Quick"].background is False
    assert specs["Background"].background is True
    assert specs["Forced"].background is True
    assert specs["Quick"].doc == "Quick one."
    assert specs["Background"].doc.startswith("Background one.")


def test_method_options_and_description():
    specs = discover(_module())
    lim = specs["Limited"]
    assert (lim.options.timeout, lim.options.concurrency, lim.options.queue) == (5, 1, True)
    desc = lim.describe()
    assert desc["name"] == "Limited" and desc["doc"] == "Limited." and desc["timeout"] == 5
    assert desc["concurrency"] == 1 and desc["queue"] is True
    assert desc["parameters"]["properties"]["n"]["type"] == "integer"


def test_resource_keys():
    specs = discover(_module())
    request = ExecuteRequest(method="X", parameters={"stage": "x-axis"})
    assert specs["Background"].resource_key(request, None) is None  # unlimited
    assert specs["Limited"].resource_key(request, None) == "Limited"  # the method itself
    assert specs["PerStage"].resource_key(request, None) == "x-axis"


def test_overrides_from_settings_merge_into_options():
    specs = discover(_module(), {"Background": {"concurrency": 1, "queue": True, "timeout": 0.5},
                                 "Limited": {"queue": False}})
    bg = specs["Background"].options
    assert (bg.concurrency, bg.queue, bg.timeout) == (1, True, 0.5)
    lim = specs["Limited"].options
    assert lim.queue is False and lim.timeout == 5 and lim.parameters is Params


def test_unknown_override_is_rejected():
    with pytest.raises(ValueError, match="unknown option"):
        discover(_module(), {"Quick": {"speed": "fast"}})
