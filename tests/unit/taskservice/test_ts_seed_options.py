"""Seed 001's query spellings, method options, the status dialect and secret masking."""

from __future__ import annotations

import types

import pytest

from taskservice import method
from taskservice.dialect import AI_EFFECT, OURS, dialect_for
from taskservice.methods import discover
from taskservice.query import QueryError, from_json, from_query_params, split_simple
from taskservice.redact import MASK, masked_callback


def test_simple_style_comma_then_name_starts_a_condition():
    assert split_simple("State", "Completed,Cancellable=True") == [("State", "Completed"), ("Cancellable", "True")]
    assert split_simple("status", "running,complete") == [("status", "running,complete")]
    assert split_simple("method", "a,unknown=b") == [("method", "a,unknown=b")]  # not a field: a value
    assert from_query_params([("State", "Completed,Cancellable=True")]) == [
        ("status", "eq", "complete"), ("cancellable", "eq", True)]


@pytest.mark.parametrize("spelling, status", [("Completed", "complete"), ("COMPLETE", "complete"),
                                              ("NotStarted", "pending"), ("Running", "running"),
                                              ("Failed", "failed"), ("Cancelled", "cancelled"),
                                              ("canceled", "cancelled"), ("Paused", "paused")])
def test_state_spellings_in_all_styles(spelling, status):
    assert from_query_params([("State", spelling)]) == [("status", "eq", status)]
    assert from_query_params([("filter[State][op]", "EQ"), ("filter[State][value]", spelling)]) == [
        ("status", "eq", status)]
    assert from_json({"State": {"op": "EQ", "value": spelling}}) == [("status", "eq", status)]


def test_seed_field_names_are_aliases():
    conds = from_json({"Id": "t1", "User": "ann", "Error": "x", "Progress": 50,
                       "CreationTime": {"op": "GT", "value": "2026-01-01T00:00:00Z"},
                       "StartingTime": {"op": "LT", "value": "2026-01-01T00:00:00Z"},
                       "CompletedTime": {"op": "GE", "value": "2026-01-01T00:00:00Z"}})
    assert [c[0] for c in conds] == ["task_id", "user", "error", "progress", "created", "started", "finished"]
    with pytest.raises(QueryError, match="Cancellable"):
        from_query_params([("Cancellable", "perhaps")])


def _module(**options):
    mod = types.ModuleType("svc")

    @method(**options)
    def execute_Work(request, task):
        return None

    mod.execute_Work = execute_Work
    return mod


@pytest.mark.parametrize("given, effective", [(-1, None), (None, None), (5, 5.0)])
def test_timeout_minus_one_or_null_disables_it(given, effective):
    spec = discover(_module(timeout=given))["Work"]
    assert spec.timeout_seconds(36_000) == effective


def test_timeout_left_out_takes_the_default_and_default_off():
    spec = discover(_module())["Work"]
    assert spec.timeout_seconds(36_000) == 36_000
    assert spec.timeout_seconds(-1) is None


@pytest.mark.parametrize("bad", [0, -2, -0.5])
def test_zero_and_other_negatives_are_refused_naming_the_method(bad):
    with pytest.raises(ValueError, match="Work"):
        discover(_module(timeout=bad))
    with pytest.raises(ValueError, match="Work"):
        discover(_module(), {"Work": {"timeout": bad}})
    spec = discover(_module(), {"Work": {"timeout": None}})["Work"]
    assert spec.timeout_seconds(36_000) is None


def test_cancellable_and_pausable_are_described():
    described = discover(_module(cancellable=False, pausable=True))["Work"].describe()
    assert described["cancellable"] is False and described["pausable"] is True


def test_ai_effect_dialect_speaks_three_words():
    assert dialect_for("ours") is OURS and dialect_for("ai-effect") is AI_EFFECT
    for ours in ("pending", "stopping", "paused", "running"):
        assert AI_EFFECT.record({"status": ours})["status"] == "running"
    cancelled = AI_EFFECT.record({"status": "cancelled", "error": None})
    assert cancelled["status"] == "failed" and "cancelled" in cancelled["error"]
    assert AI_EFFECT.record({"status": "complete"}) == {"status": "complete"}
    assert OURS.record({"status": "pending"}) == {"status": "pending"}


def test_callback_headers_that_look_secret_are_masked():
    shown = masked_callback({"url": "http://h/cb", "method": "PUT",
                             "headers": {"Authorization": "Bearer x", "X-API-Key": "k", "X-Session-Id": "s",
                                         "X-Custom": "Token abc", "X-Trace": "t"}})
    assert shown["url"] == "http://h/cb" and shown["method"] == "PUT"
    assert shown["headers"] == {"Authorization": MASK, "X-API-Key": MASK, "X-Session-Id": MASK,
                                "X-Custom": MASK, "X-Trace": "t"}
    assert masked_callback(None) is None


def test_callback_url_is_shown_without_user_info_or_query():
    shown = masked_callback({"url": "https://hook:pw123@example.org/cb?token=1", "headers": {}})
    assert shown["url"] == "https://example.org/cb"
    assert masked_callback({"url": "http://127.0.0.1:9/cb"})["url"] == "http://127.0.0.1:9/cb"
