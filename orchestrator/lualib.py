"""The store's Lua programs as one Redis function library (Redis 7+), EVALSHA scripts otherwise.

Every store script begins with the same block of helpers (`store._LUA_COMMON`). Sent as a
script, that block runs on every call: some thirty closures and tables made and dropped
each time, about a sixth of what a node's finish costs Redis. As a library loaded once
with `FUNCTION LOAD`, the block runs once and each call only runs its own body.

The library's name carries a hash of its source, so processes of different versions
sharing one Redis each call their own. A Redis that lost the library (restarted
without persistence, a replica promoted before it had it) answers "Function not
found": the library is loaded again and the call repeated. A Redis without functions
(before 7.0) or a user not allowed `FUNCTION LOAD` gets the same programs as scripts.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import redis


def library_source(name: str, common: str, programs: dict[str, str]) -> str:
    """One library: the common block once, each program as a function of its own.

    `common` reads `ARGV` and `P` (`ARGV[1]`, the key prefix) and keeps per-call state in
    `SUBSCRIBED`: they become library locals that each call sets before its body runs."""
    head = common.replace("local P = ARGV[1]\n", "", 1).replace("local SUBSCRIBED = {}", "local SUBSCRIBED", 1)
    out = [f"#!lua name={name}\nlocal ARGV, P\n", head]
    for fn, body in programs.items():
        out.append(f"\nlocal function {fn}_body()\n{body}\nend\n"
                   f"redis.register_function('{name}_{fn}', function(_, args)\n"
                   f"  ARGV = args; P = args[1]; SUBSCRIBED = {{}}\n"
                   f"  return {fn}_body()\nend)\n")
    return "".join(out)


class LuaLibrary:
    """Call the store's programs by name: `lib.call("finish", args)` (see the module docstring)."""

    def __init__(self, client: redis.Redis, common: str, programs: dict[str, str]) -> None:
        self.r = client
        digest = hashlib.sha1((common + "".join(f"{k}\0{v}" for k, v in programs.items())).encode()).hexdigest()
        self.name = f"orch_{digest[:12]}"
        self.source = library_source(self.name, common, programs)
        self._scripts = {fn: client.register_script(common + body) for fn, body in programs.items()}
        self._functions: bool | None = None  # None: not known yet (the first call tells)
        self._loading = threading.Lock()

    def call(self, fn: str, args: list[Any]) -> Any:
        if self._functions is False:
            return self._scripts[fn](args=args)
        try:
            return self.r.fcall(f"{self.name}_{fn}", 0, *args)
        except redis.ResponseError as exc:
            if not self._missing(exc):
                raise
        if not self._load():
            return self._scripts[fn](args=args)
        return self.r.fcall(f"{self.name}_{fn}", 0, *args)

    def queue(self, pipe: Any, fn: str, args: list[Any]) -> None:
        """Add a call to a pipeline (the library is loaded first, once, where Redis has functions)."""
        if self._functions is None:
            self._load()
        if self._functions:
            pipe.fcall(f"{self.name}_{fn}", 0, *args)
        else:
            self._scripts[fn](args=args, client=pipe)

    @staticmethod
    def _missing(exc: redis.ResponseError) -> bool:
        text = str(exc)
        return "Function not found" in text or "unknown command" in text.lower()

    def _load(self) -> bool:
        """Load the library; False when this Redis cannot (no functions, or not allowed): scripts then."""
        with self._loading:
            try:
                self.r.function_load(self.source, replace=True)
                self._functions = True
            except redis.ResponseError as exc:
                text = str(exc).lower()
                if "unknown command" in text or "noperm" in text or "no permissions" in text:
                    self._functions = False
                    return False
                raise
        return True
