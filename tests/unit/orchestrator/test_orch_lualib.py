"""The store's Lua programs as a Redis function library, against the session's real redis-server:
loaded once, loaded again when Redis lost it, scripts where loading functions is not allowed."""

from __future__ import annotations

import uuid

import pytest
import redis

from orchestrator.store import Store


def libraries(r: redis.Redis) -> set[str]:
    return {dict(zip(x[::2], x[1::2]))["library_name"] for x in r.function_list()}  # RESP2: flat pairs


def chain(store: Store, wid: str) -> list[int]:
    return store.create(wid, {"graph": {}}, 2, [[], [0]], [[1], []], lease_until=1e12)


@pytest.fixture
def prefix() -> str:
    return f"u{uuid.uuid4().hex[:8]}"


def test_library_is_loaded_once_and_again_after_redis_lost_it(redis_server, prefix):
    store = Store.from_url(redis_server.url, prefix)
    assert chain(store, "a") == [0]
    assert store.lua.name in libraries(store.r)
    store.r.function_delete(store.lua.name)  # as after a restart without persistence
    assert store.claim("a", 0, "me", 30) is not None
    assert store.lua.name in libraries(store.r)
    store.r.close()


def test_scripts_where_loading_functions_is_not_allowed(redis_server, prefix):
    admin = redis.Redis.from_url(redis_server.url, decode_responses=True)
    user, password = f"nofn{prefix}", uuid.uuid4().hex
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
                      commands=["+@all", "-function"])
    try:
        host, port = admin.connection_pool.connection_kwargs["host"], admin.connection_pool.connection_kwargs["port"]
        limited = redis.Redis(host=host, port=port, username=user, password=password, decode_responses=True)
        store = Store(limited, prefix)
        store.lua.name += "x"  # a name no other test loaded: the first call finds no such function
        assert chain(store, "b") == [0]  # FUNCTION LOAD refused (NOPERM): the same program as a script
        assert store.lua._functions is False
        claim = store.claim("b", 0, "me", 30)
        assert claim is not None and store.lease_owner("b", 0) == "me"
        limited.close()
    finally:
        admin.acl_deluser(user)
        admin.close()
