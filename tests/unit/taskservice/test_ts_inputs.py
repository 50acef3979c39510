"""InputPolicy: file roots (resolved, no `..`, no symlink escape), allowed hosts, size bounds,
and refusals that never show what a file holds (issue 9)."""

from __future__ import annotations

import pytest

from taskservice import egress
from taskservice.inputs import InputPolicy, InputRefused
from taskservice.models import DataReference
from taskservice.netpolicy import HostPolicy, PolicyRefused


@pytest.fixture
def tree(tmp_path):
    data, extra, outside = tmp_path / "data", tmp_path / "extra", tmp_path / "outside"
    for d in (data, extra, outside):
        d.mkdir()
    (data / "a.json").write_text('{"x": 1}')
    (extra / "b.txt").write_text("hello")
    (outside / "secret.txt").write_text("top-secret-line")
    (data / "link.txt").symlink_to(outside / "secret.txt")
    (data / "dirlink").symlink_to(outside)
    (data / "inner-link.json").symlink_to(data / "a.json")
    policy = InputPolicy((data.resolve(), extra.resolve()), HostPolicy.parse(None), max_bytes=1000)
    return policy, data, extra, outside


def ref(uri: str, protocol: str = "file", fmt: str = "json") -> DataReference:
    return DataReference(protocol=protocol, uri=uri, format=fmt)


def test_files_inside_the_roots(tree):
    policy, data, extra, _ = tree
    assert policy.load(ref("a.json")) == {"x": 1}
    assert policy.load(ref((data / "a.json").as_uri())) == {"x": 1}
    assert policy.load(ref(str(extra / "b.txt"), fmt="text")) == "hello"
    assert policy.load(ref("inner-link.json")) == {"x": 1}  # a symlink that stays inside is fine
    with policy.open(ref("a.json")) as fh:
        assert fh.read() == b'{"x": 1}'


@pytest.mark.parametrize("uri", ["/etc/passwd", "../outside/secret.txt", "link.txt", "dirlink/secret.txt",
                                 "file:///proc/self/environ", "{data}/../outside/secret.txt", "missing.json",
                                 "{data}", "a.json\x00.txt"])
def test_files_refused_without_showing_them(tree, uri):
    policy, data, _, _ = tree
    with pytest.raises(InputRefused) as info:
        policy.read_bytes(ref(uri.format(data=data)))
    assert "top-secret" not in str(info.value) and "root:" not in str(info.value)


def test_sizes_are_bounded(tree):
    policy, data, _, _ = tree
    (data / "big.txt").write_bytes(b"x" * 2000)
    with pytest.raises(InputRefused):
        policy.read_bytes(ref("big.txt"))
    with pytest.raises(InputRefused):
        policy.read_bytes(ref("a.json"), max_bytes=3)
    with pytest.raises(InputRefused):
        policy.open(ref("big.txt"))


def test_contents_that_do_not_parse_are_not_echoed(tree):
    policy, data, _, _ = tree
    (data / "bad.json").write_text("not-json-secret")
    (data / "bin.txt").write_bytes(b"\xffsecret")
    for name, fmt in (("bad.json", "json"), ("bin.txt", "text")):
        with pytest.raises(InputRefused) as info:
            policy.load(ref(name, fmt=fmt))
        assert "secret" not in str(info.value)


def test_http_urls_checked_against_the_host_policy(tree):
    policy, *_ = tree
    policy.check(ref("http://127.0.0.1:8080/x", "http"))
    policy.check(ref("https://10.1.2.3/x", "https"))
    for uri in ("http://169.254.169.254/latest", "http://8.8.8.8/x", "ftp://127.0.0.1/x", "http://a b/",
                "http:///nohost"):
        with pytest.raises(InputRefused) as info:
            policy.check(ref(uri, "http"))
        assert "SERVICE_ALLOWED_HOSTS" in str(info.value)
    strict = InputPolicy(policy.roots, HostPolicy.parse("10.0.0.0/8"))
    strict.check(ref("http://localhost:1/x", "http"))  # a name: decided after resolution
    with pytest.raises(InputRefused):
        strict.read_bytes(ref("http://localhost:1/x", "http"))


def test_pinned_requests_go_to_a_checked_address():
    target, host, ext = egress.pinned("http://localhost:8080/a?b=1", HostPolicy.parse(None))
    assert target.host in ("127.0.0.1", "::1") and host == {"Host": "localhost:8080"} and ext == {}
    target, _, ext = egress.pinned("https://127.0.0.1/x", HostPolicy.parse(None))
    assert ext == {"sni_hostname": "127.0.0.1"}
    with pytest.raises(PolicyRefused):
        egress.pinned("http://localhost:8080/", HostPolicy.parse("10.0.0.0/8"))
    assert egress.redact("http://u:p@h:1/x?token=1") == "http://h:1/x"
