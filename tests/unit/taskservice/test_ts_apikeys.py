"""Tokens → users and roles, compared as bytes in constant time."""

from __future__ import annotations

import json

import pytest

from taskservice.apikeys import ANONYMOUS, ApiKeysError, KeyRing, Principal, load_keys


def test_open_when_no_key():
    ring = KeyRing.from_settings(None, None)
    assert not ring.enabled
    assert ring.authenticate(None) is ANONYMOUS and ANONYMOUS.is_admin


def test_keys_users_roles_and_single_admin_key(tmp_path):
    keys = {"t-alice": {"user": "alice", "role": "user"}, "t-root": {"user": "root", "role": "admin"}}
    f = tmp_path / "keys.json"
    f.write_text(json.dumps(keys))
    for raw in (json.dumps(keys), f"@{f}"):
        ring = KeyRing.from_settings("single", raw)
        assert ring.authenticate("t-alice") == Principal("alice", "user")
        assert ring.authenticate(b"t-root").is_admin
        assert ring.authenticate("single") == Principal("admin", "admin")
        assert ring.authenticate("t-alic") is None and ring.authenticate(None) is None
        assert ring.from_authorization(b"Bearer t-alice").user == "alice"
        assert ring.from_authorization("bearer  t-alice ").user == "alice"
        assert ring.from_authorization("Basic t-alice") is None
        assert ring.users() == ["admin", "alice", "root"]


def test_any_bytes_are_a_wrong_token_never_an_error():
    ring = KeyRing.from_settings("k", None)
    for token in ("snow-☃", "\x00\r\n", b"\xff\xfe", "k" * 10000):
        assert ring.authenticate(token) is None
        assert ring.from_authorization(b"Bearer " + (token if isinstance(token, bytes) else token.encode())) is None


def test_ownership():
    alice = Principal("alice", "user")
    assert alice.may_see("alice") and not alice.may_see("bob") and not alice.may_see(None)
    assert Principal("root", "admin").may_see("bob")


@pytest.mark.parametrize("raw", ["[1]", "{", '{"t": {"role": "user"}}', '{"t": {"user": "a", "role": "boss"}}',
                                 '{"": {"user": "a"}}', "@/nonexistent/keys.json"])
def test_bad_keys_are_refused_with_a_reason(raw):
    with pytest.raises(ApiKeysError):
        load_keys(raw)
