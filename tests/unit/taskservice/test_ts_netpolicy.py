"""The host allow-list shared by the orchestrator's egress policy and the template's inputs/callbacks."""

from __future__ import annotations

import pytest

from taskservice.netpolicy import HostPolicy, PolicyRefused, valid_host_name


def test_default_allows_loopback_private_and_localhost_only():
    p = HostPolicy.parse(None)
    assert p.default and p.describe().startswith("default")
    for host in ("127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.1.1", "::1", "fd12::1"):
        p.check_host(host)
    for host in ("8.8.8.8", "2001:db8::1", "172.32.0.1"):
        with pytest.raises(PolicyRefused, match="not in the allowed hosts"):
            p.check_host(host)
    assert p.resolve("localhost", 80)  # resolves to loopback


def test_link_local_refused_unless_named_explicitly():
    with pytest.raises(PolicyRefused, match="link-local"):
        HostPolicy.parse(None).check_host("169.254.169.254")
    with pytest.raises(PolicyRefused, match="link-local"):
        HostPolicy.parse("0.0.0.0/0").check_host("169.254.169.254")
    HostPolicy.parse("169.254.169.254").check_host("169.254.169.254")
    HostPolicy.parse("169.254.0.0/16").check_address("meta", "169.254.1.1")


def test_names_and_wildcards_and_addresses_after_resolution():
    p = HostPolicy.parse("lab-pc, *.lab.example, 203.0.113.0/24")
    assert not p.default
    p.check_address("lab-pc", "8.8.8.8")  # allowed by name whatever it resolves to ...
    p.check_address("Node1.LAB.example", "8.8.4.4")
    with pytest.raises(PolicyRefused, match="link-local"):  # ... except link-local
        p.check_address("lab-pc", "169.254.169.254")
    p.check_address("other", "203.0.113.9")
    with pytest.raises(PolicyRefused):
        p.check_address("other", "198.51.100.1")
    with pytest.raises(PolicyRefused):
        p.check_address("lab.example.evil", "198.51.100.1")


def test_denied_endpoint_unless_listed_exactly():
    p = HostPolicy.parse(None).deny([("127.0.0.1", 6379)])
    p.check_address("localhost", "127.0.0.1", 8080)
    with pytest.raises(PolicyRefused, match="own endpoint"):
        p.check_address("localhost", "127.0.0.1", 6379)
    with pytest.raises(PolicyRefused, match="own endpoint"):
        p.check_host("127.0.0.1", 6379)
    HostPolicy.parse("127.0.0.1").deny([("127.0.0.1", 6379)]).check_host("127.0.0.1", 6379)


@pytest.mark.parametrize("bad", ["*", "a b", "http://x", "10.0.0.0/33", "-x"])
def test_bad_rules_are_refused(bad):
    with pytest.raises(ValueError):
        HostPolicy.parse(bad)


def test_valid_host_name():
    assert valid_host_name("svc-1.local") and valid_host_name("::1") and valid_host_name("10.0.0.1")
    for bad in ("a b", "http://x", "x/y", "a\r\nb", "", "é.com", "-a"):
        assert not valid_host_name(bad)
