"""Discovery of `execute_<Method>` functions and their options.

A method with one parameter (`request`) is *quick*: it runs inside the
execute call. A method with two (`request, task`) runs in the background with
a task handle. `@method(...)` attaches options: timeout, a concurrency limit
on a shared resource, queueing, and a Pydantic model for its parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from .models import ExecuteRequest

PREFIX = "execute_"
ResourceKey = str | Callable[[ExecuteRequest, Any], str | None] | None


@dataclass(frozen=True)
class MethodOptions:
    timeout: float | None = None
    concurrency: int | None = None
    queue: bool = False
    resource: ResourceKey = None
    parameters: type[BaseModel] | None = None
    background: bool | None = None
    spill: bool = True


def method(
    *,
    timeout: float | None = None,
    concurrency: int | None = None,
    queue: bool = False,
    resource: ResourceKey = None,
    parameters: type[BaseModel] | None = None,
    background: bool | None = None,
    spill: bool = True,
) -> Callable[[Callable], Callable]:
    """Attach options to an `execute_<Method>` function.

    `concurrency` limits how many tasks hold `resource` at once (by default the
    method itself); `resource` may be a callable `(request, params) -> key` so
    that, say, each motion stage is its own resource. With `queue=True` a task
    over the limit waits in `pending`; otherwise execute answers 409.
    With `spill=False` a result larger than `SERVICE_INLINE_MAX_BYTES` stays
    inline instead of going to a file in the task's folder.
    """

    options = MethodOptions(timeout, concurrency, queue, resource, parameters, background, spill)

    def attach(fn: Callable) -> Callable:
        fn.__taskservice_options__ = options  # type: ignore[attr-defined]
        return fn

    return attach


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fn: Callable
    doc: str
    background: bool
    options: MethodOptions
    takes_task: bool = False

    def resource_key(self, request: ExecuteRequest, params: Any) -> str | None:
        """The resource this request occupies, or None when unlimited."""
        resource = self.options.resource
        if callable(resource):
            key = resource(request, params)
            return None if key is None else f"{key}"
        if resource is not None:
            return resource
        return self.name if self.options.concurrency else None

    def describe(self) -> dict[str, Any]:
        opts = self.options
        return {
            "name": self.name,
            "doc": self.doc,
            "background": self.background,
            "timeout": opts.timeout,
            "concurrency": opts.concurrency,
            "queue": opts.queue,
            "parameters": opts.parameters.model_json_schema() if opts.parameters else None,
        }


def _positional_count(fn: Callable) -> int:
    params = inspect.signature(fn).parameters.values()
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def discover(module: ModuleType | Any, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, MethodSpec]:
    """Every `execute_<Method>` of `module`, with options merged from settings."""
    overrides = overrides or {}
    specs: dict[str, MethodSpec] = {}
    for attr in dir(module):
        if not attr.startswith(PREFIX):
            continue
        fn = getattr(module, attr)
        if not callable(fn):
            continue
        name = attr[len(PREFIX):]
        options: MethodOptions = getattr(fn, "__taskservice_options__", MethodOptions())
        if name in overrides:
            allowed = {"timeout", "concurrency", "queue", "resource"}
            unknown = set(overrides[name]) - allowed
            if unknown:
                raise ValueError(f"SERVICE_METHOD_OPTIONS[{name}]: unknown option(s) {sorted(unknown)}")
            options = replace(options, **overrides[name])
        takes_task = _positional_count(fn) >= 2
        background = options.background if options.background is not None else takes_task
        doc = inspect.cleandoc(fn.__doc__ or "").strip()
        specs[name] = MethodSpec(name=name, fn=fn, doc=doc, background=background, options=options,
                                 takes_task=takes_task)
    return specs
