"""Discovery of `execute_<Method>` functions and their options.

A method with one parameter (`request`) is *quick*: it runs inside the
execute call. A method with two (`request, task`) runs in the background with
a task handle. `@method(...)` attaches options: timeout, a concurrency limit
on a shared resource, queueing, a Pydantic model for its parameters, and
whether a stop (`cancellable`) or a pause (`pausable`) may interrupt it.
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
NO_TIMEOUT = -1  # seed 001's `-Timeout -1`: the task may run as long as it takes


class _Default:
    """The marker of 'no timeout given: use the service default' (None means no timeout)."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()


@dataclass(frozen=True)
class MethodOptions:
    timeout: float | None = DEFAULT
    concurrency: int | None = None
    queue: bool = False
    resource: ResourceKey = None
    parameters: type[BaseModel] | None = None
    background: bool | None = None
    spill: bool = True
    cancellable: bool = True
    pausable: bool = False


def method(
    *,
    timeout: float | None = DEFAULT,
    concurrency: int | None = None,
    queue: bool = False,
    resource: ResourceKey = None,
    parameters: type[BaseModel] | None = None,
    background: bool | None = None,
    spill: bool = True,
    cancellable: bool = True,
    pausable: bool = False,
) -> Callable[[Callable], Callable]:
    """Attach options to an `execute_<Method>` function.

    `timeout` is in seconds from start; -1 or None runs without one, and when
    left out the service default (`SERVICE_TASK_TIMEOUT`) applies.
    `concurrency` limits how many tasks hold `resource` at once (by default the
    method itself); `resource` may be a callable `(request, params) -> key` so
    that, say, each motion stage is its own resource. With `queue=True` a task
    over the limit waits in `pending`, by `priority`; otherwise execute answers 409.
    With `spill=False` a result larger than `SERVICE_INLINE_MAX_BYTES` stays
    inline instead of going to a file in the task's folder.
    `cancellable=False` makes a stop answer 423 (a step that must not be
    interrupted); `pausable=True` allows pause/resume of a method that checks
    `task.paused` (or waits with `task.wait_while_paused()`).
    """

    options = MethodOptions(timeout, concurrency, queue, resource, parameters, background, spill, cancellable,
                            pausable)

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

    def timeout_seconds(self, default: float | None) -> float | None:
        """The timeout a task of this method gets: its own, else `default`; None when it has none."""
        timeout = self.options.timeout
        if timeout is DEFAULT:
            timeout = default
        if timeout is None or timeout == NO_TIMEOUT:
            return None
        return float(timeout)

    def describe(self) -> dict[str, Any]:
        opts = self.options
        timeout = opts.timeout
        return {
            "name": self.name,
            "doc": self.doc,
            "background": self.background,
            "timeout": None if timeout is DEFAULT else (NO_TIMEOUT if timeout is None else timeout),
            "concurrency": opts.concurrency,
            "queue": opts.queue,
            "cancellable": opts.cancellable,
            "pausable": opts.pausable,
            "parameters": opts.parameters.model_json_schema() if opts.parameters else None,
        }


def _check_timeout(name: str, timeout: Any) -> None:
    """Refuse at startup what seed 001 does not mean: 0, negatives other than -1, non-numbers."""
    if timeout is DEFAULT or timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(f"method {name}: timeout must be a number of seconds, -1 or null for none; got {timeout!r}")
    if timeout != NO_TIMEOUT and not timeout > 0:
        raise ValueError(f"method {name}: timeout {timeout!r} is not allowed; give seconds > 0, or -1 (or null) "
                         "for no timeout")


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
            allowed = {"timeout", "concurrency", "queue", "resource", "cancellable"}
            unknown = set(overrides[name]) - allowed
            if unknown:
                raise ValueError(f"SERVICE_METHOD_OPTIONS[{name}]: unknown option(s) {sorted(unknown)}")
            options = replace(options, **overrides[name])
        _check_timeout(name, options.timeout)
        takes_task = _positional_count(fn) >= 2
        background = options.background if options.background is not None else takes_task
        doc = inspect.cleandoc(fn.__doc__ or "").strip()
        specs[name] = MethodSpec(name=name, fn=fn, doc=doc, background=background, options=options,
                                 takes_task=takes_task)
    return specs
