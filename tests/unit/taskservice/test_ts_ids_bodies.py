"""Task ids, task folders, strict JSON bodies and error answers that cannot fail (issue 9)."""

from __future__ import annotations

import math

import pytest
from fastapi.exceptions import RequestValidationError

from taskservice import errors, jsonbody
from taskservice.ids import folder_name, quote_id, task_file, valid_task_id
from taskservice.models import Callback, ExecuteRequest


@pytest.mark.parametrize("good", ["a", "wf-1.0.3.abcdef.a1", "A:b_c-d.e", "x" * 200, "...a"])
def test_valid_ids(good):
    assert valid_task_id(good)
    ExecuteRequest(method="M", task_id=good, workflow_id=good)


@pytest.mark.parametrize("bad", ["", ".", "..", "...", "x" * 201, "a/b", "a\nb", "a\n", "a\x00", "snow-☃", "a b",
                                 "a%2e", None, 3])
def test_invalid_ids(bad):
    assert not valid_task_id(bad)
    if isinstance(bad, str):
        with pytest.raises(ValueError):
            ExecuteRequest(method="M", task_id=bad)


def test_folder_names_are_one_to_one_and_never_path_steps(tmp_path):
    ids = ["a:b", "a_b", "a%3Ab", "..", ".", "a.b", "x" * 200]
    names = [folder_name(i) for i in ids]
    assert len(set(names)) == len(names)
    assert not {".", ".."} & set(names) and all("/" not in n for n in names)
    for tid in ids:
        path = task_file(tmp_path, tid, "../../evil.txt")
        assert path.parent.parent == tmp_path.resolve() and path.name == "evil.txt"
    assert quote_id("a:b/c") == "a%3Ab%2Fc"


def test_task_file_refuses_a_symlinked_task_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data" / "t1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError):
        task_file(tmp_path / "data", "t1", "out.json")


@pytest.mark.parametrize("raw, kind", [
    (b"\xff\xfe", "json_invalid"), (b'{"a": "\xff"}', "json_invalid"), (b"{", "json_invalid"),
    (b'{"a": NaN}', "finite_number"), (b'{"a": -Infinity}', "finite_number"), (b'{"a": 1e999}', "finite_number"),
    (b"[" * 65 + b"]" * 65, "json_too_deep"), (b"[" * 100_000 + b"]" * 100_000, "json_too_deep"),
])
def test_bodies_refused(raw, kind):
    with pytest.raises(jsonbody.BodyError) as info:
        jsonbody.parse(raw)
    assert info.value.kind == kind


def test_refusals_name_the_field():
    with pytest.raises(jsonbody.BodyError) as info:
        jsonbody.check({"parameters": {"x": [1, math.inf]}})
    assert info.value.loc == ("body", "parameters", "x", 1)
    deep: list = []
    node = deep
    for _ in range(70):
        node.append([])
        node = node[0]
    with pytest.raises(jsonbody.BodyError) as info:
        jsonbody.check({"p": deep})
    assert info.value.loc[:2] == ("body", "p") and info.value.kind == "json_too_deep"


def test_bodies_accepted():
    assert jsonbody.parse(b"[" * 64 + b"]" * 64) is not None
    assert jsonbody.parse(b'{"a": 1.5, "b": [1, {"c": null}]}') == {"a": 1.5, "b": [1, {"c": None}]}


def test_validation_errors_encode_whatever_the_input():
    exc = RequestValidationError([
        {"type": "x", "loc": ("body",), "msg": "m", "input": b"\xff\xfe"},
        {"type": "x", "loc": ("body", "p"), "msg": "m", "input": float("nan")},
        {"type": "x", "loc": ("body", 0), "msg": "m", "input": "a" * 10_000},
        {"type": "x", "loc": ("query", "q"), "msg": "m", "input": {1: object()}},
    ])
    out = errors.validation_errors(exc)
    assert out[0]["input"] == "\ufffd\ufffd" and out[1]["input"] == "nan" and out[2]["input"] is None
    response = errors.json_response({"detail": out, "big": 10 ** 30, "nan": math.nan}, 422)
    assert response.status_code == 422 and b"1000000000000000000000000000000" in response.body


@pytest.mark.parametrize("callback", [
    {"url": "file:///etc/passwd"}, {"url": "http://a b/"}, {"url": "http://x/\r\n"}, {"url": ""},
    {"url": "http://x/", "method": "GET"}, {"url": "http://x/", "headers": {"A": "b\r\nc"}},
    {"url": "http://x/", "headers": {"A B": "c"}}, {"url": "http://x/", "headers": {"A": "☃"}},
])
def test_callbacks_refused_by_the_model(callback):
    with pytest.raises(ValueError):
        Callback(**callback)
