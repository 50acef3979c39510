"""The control interface: a FastAPI app serving a module's `execute_<Method>` functions.

Routes answer with prebuilt JSON rather than through response models, so the
hot paths (execute, status) cost little more than a bare endpoint.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from types import ModuleType
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from . import apidoc, errors, jsonbody
from . import query as task_query
from .access import Access
from .apikeys import ANONYMOUS, KeyRing, Principal
from .ids import id_error, quote_id, valid_task_id
from .inputs import InputPolicy, InputRefused
from .limits import BodyLimit
from .dialect import Dialect, dialect_for
from .direct import DirectRoute, read_body
from .manager import (ACTIVE_VALUES, COMPLETE, FAILED, ShuttingDown, TaskConflict, TaskLocked, TaskManager, TaskNotFound,
                      fingerprint, new_task_id)
from .methods import MethodSpec, discover
from .metrics import metrics_router
from .observe import TaskObserver
from .openapi import install as install_openapi
from .openapi import service_title
from .models import ExecuteRequest, ExecuteResponse
from .settings import ServiceSettings
from .task import Task

logger = logging.getLogger(__name__)



_json = errors.json_response


def _problem(status_code: int, message: str, **extra: Any) -> Response:
    return errors.problem(status_code, message, **extra)


def _who(request: Request) -> Principal:
    """The caller, as authenticated by the router's dependency (anonymous admin when the API is open)."""
    return request.scope.get("principal", ANONYMOUS)


def _task_id(value: Any, loc: tuple[str | int, ...]) -> str:
    """`value` when it is a valid task id, else a 422 naming `loc`."""
    if not valid_task_id(value):
        raise RequestValidationError([id_error(value, loc)])
    return value


def _location(task_id: str) -> dict[str, str]:
    return {"Location": f"/control/status/{quote_id(task_id)}"}


def create_app(service_module: ModuleType | Any, *, manager: TaskManager | None = None,
               settings: ServiceSettings | None = None) -> FastAPI:
    """Build the control interface for every `execute_<Method>` of `service_module`.

    Without an explicit `manager`, the module-wide `taskservice.task_manager`
    is used, so explicit-style methods that import it share the app's tasks.
    Optional module hooks: `extend_app(app)` (its own routes beside /control),
    `health_details() -> dict` (merged into /health), `admit(method) -> str | None`
    (a reason makes execute answer 503, e.g. while its hardware is disconnected).
    """
    from . import task_manager as default_manager

    settings = settings or ServiceSettings()
    manager = manager or default_manager
    manager.configure(max_workers=settings.max_workers, retention_ttl=settings.retention_ttl,
                      retention_max=settings.retention_max, data_dir=settings.data_dir.resolve(),
                      state_db=settings.state_db_location(), inline_max_bytes=settings.inline_max_bytes,
                      result_max_bytes=settings.result_max_bytes)
    manager.input_policy = InputPolicy.from_settings(settings)  # read by Task.open_input and friends
    access = Access(KeyRing.from_settings(settings.api_key, settings.api_keys))
    methods = discover(service_module, settings.method_options)
    on_startup = getattr(service_module, "on_startup", None)
    on_shutdown = getattr(service_module, "on_shutdown", None)
    health_details = getattr(service_module, "health_details", None)
    extend_app = getattr(service_module, "extend_app", None)
    admit = getattr(service_module, "admit", None)  # admit(method) -> None, or why it cannot run now (503)
    quick_threads = ThreadPoolExecutor(max_workers=QUICK_THREADS, thread_name_prefix="quick")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        manager.attach_loop(asyncio.get_running_loop())
        manager.start_watchdog()
        if callable(on_startup):
            await run_in_threadpool(on_startup)
        gc.freeze()  # what exists at startup lives forever: keep it out of every full collection
        try:
            yield
        finally:
            await asyncio.to_thread(manager.shutdown, settings.shutdown_grace)
            quick_threads.shutdown(wait=False)
            if callable(on_shutdown):
                await run_in_threadpool(on_shutdown)

    title = service_title(service_module, settings.title)
    manager.observer = TaskObserver(manager, title)
    telemetry = None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False}
    app = FastAPIOffline(title=title, version="1.0.0", lifespan=lifespan, telemetry=telemetry,
                         description=(inspect.getdoc(service_module) or "").strip() or None)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    app.state.manager = manager
    app.state.access = access
    app.state.settings = settings
    app.state.methods = methods

    @app.exception_handler(TaskNotFound)
    async def not_found(_: Request, exc: TaskNotFound) -> Response:
        return _problem(404, str(exc), task_id=exc.task_id)

    @app.exception_handler(TaskConflict)
    async def conflict(_: Request, exc: TaskConflict) -> Response:
        extra: dict[str, Any] = {}
        if exc.task_id:
            extra["task_id"] = exc.task_id
        if exc.status is not None:
            extra["status"] = exc.status.value
        if exc.running_task_ids:
            extra["running_task_ids"] = exc.running_task_ids
        return _problem(409, str(exc), **extra)

    @app.exception_handler(TaskLocked)
    async def locked(_: Request, exc: TaskLocked) -> Response:
        return _problem(423, str(exc), task_id=exc.task_id)

    @app.exception_handler(ShuttingDown)
    async def shutting_down(_: Request, exc: ShuttingDown) -> Response:
        return _problem(503, str(exc))

    @app.exception_handler(task_query.QueryError)
    async def bad_query(_: Request, exc: task_query.QueryError) -> Response:
        return _problem(400, str(exc))

    @app.get("/health", tags=["service"])
    async def health() -> Response:
        """Liveness and load; never needs a key."""
        extra = health_details() if callable(health_details) else {}
        return _json({"status": "ok" if manager.accepting else "stopping", **manager.stats(),
                      "allowed_hosts": manager.input_policy.hosts.describe(), **extra})

    dependencies = [Depends(_authenticated(access, manager))] if access.enabled else []
    app.state.dependencies = dependencies  # for a service's own routes (extend_app)
    from .events import events_router  # SSE and WebSocket streams

    # Routes are mounted on the app itself, not through include_router: an included
    # router costs every request a second round of route matching.
    make_id = getattr(service_module, "make_task_id", None)
    control = _control_router(manager, methods, settings, dependencies, access, quick_threads, admit,
                              make_id if callable(make_id) else None)
    app.router.routes.extend(control.routes)
    # the hot paths are matched first: every route tried before them costs each request a regex match
    app.router.routes.sort(key=lambda route: not isinstance(route, DirectRoute))
    app.router.routes.extend(events_router(manager, dependencies, access).routes)
    app.router.routes.extend(metrics_router(manager.observer.metrics.registry, dependencies).routes)
    if callable(extend_app):  # a service's own routes (other APIs, streams) beside /control
        extend_app(app)
    _with_execute_schemas(app, auth=access.enabled)
    install_openapi(app, methods)  # each execute_<Method> as an execute body, discriminated by `method`
    return app


def _authenticated(access: Access, manager: TaskManager):
    """Dependency of every control route: who is calling; a user naming another's task gets 404.

    Routes check ownership themselves too; this covers every route that takes
    a `task_id` (in the path or the query), including ones added later.
    """
    async def require_key(request: Request) -> None:
        who = request.scope["principal"] = access.principal(request)
        if not who.is_admin:
            task_id = request.path_params.get("task_id") or request.query_params.get("task_id")
            if task_id is not None and valid_task_id(task_id):
                access.owned(manager, who, task_id)

    return require_key


def _status_url(task_id: str) -> str:
    return f"/control/status/{task_id}"


def _execute_body(record: dict[str, Any], output: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"status": record["status"], **record, "status_url": _status_url(record["task_id"])}
    if output is not None:
        body["output"] = output
    return body


def _wait_param(request: Request) -> float:
    raw = request.query_params.get("wait")
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not wait >= 0:  # also catches NaN
        raise RequestValidationError([{"type": "greater_than_equal", "loc": ("query", "wait"),
                                       "msg": "wait must be a number of seconds >= 0", "input": raw}])
    return wait


def _int_param(raw: str | None, name: str, default: int, lo: int, hi: int | None) -> int:
    """A whole-number query parameter in [lo, hi], or a 422 naming it (FastAPI's error shapes)."""
    if raw is None:
        return default
    try:
        if not _INTEGER.fullmatch(raw):
            raise ValueError(raw)
        value = int(raw)  # ValueError past Python's digit limit too
    except ValueError:
        raise RequestValidationError([{"type": "int_parsing", "loc": ("query", name), "input": raw[:100],
                                       "msg": "Input should be a valid integer, unable to parse string as an integer"}]
                                     ) from None
    if value < lo:
        raise RequestValidationError([{"type": "greater_than_equal", "loc": ("query", name), "input": raw,
                                       "msg": f"Input should be greater than or equal to {lo}", "ctx": {"ge": lo}}])
    if hi is not None and value > hi:
        raise RequestValidationError([{"type": "less_than_equal", "loc": ("query", name), "input": raw,
                                       "msg": f"Input should be less than or equal to {hi}", "ctx": {"le": hi}}])
    return value


_INTEGER = re.compile(r"[+-]?[0-9]+")
MAX_PAGE = 1000
_TASKS_DOC = {"parameters": [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}, "description": "page size"},
    {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0, "default": 0},
     "description": "tasks skipped, newest first"}]}
_WAIT_DOC = {"parameters": [{"name": "wait", "in": "query", "required": False,
                             "schema": {"type": "number", "minimum": 0, "default": 0},
                             "description": "long-poll: answer as soon as the task changes (seconds, capped)"}]}
_EXECUTE_DOC = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ExecuteRequest"}}}}}


_QUERY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": 'Filters: `{"field": value | [values] | {"op": OP, "value": v} | {OP: v}}`, '
                                     'optionally inside `{"filter": {...}}`'}}}}}


def _with_execute_schemas(app: FastAPI, auth: bool = False) -> None:
    """The execute body is parsed by hand (faster); publish its schemas, path parameters and errors."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            app.openapi_schema = apidoc.complete(schema, auth=auth)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _control_router(manager: TaskManager, methods: dict[str, MethodSpec], settings: ServiceSettings,
                    dependencies: list, access: Access, quick_threads: ThreadPoolExecutor, admit: Any = None,
                    make_id: Any = None) -> APIRouter:
    router = APIRouter(prefix="/control", tags=["control"], dependencies=dependencies)
    known = ", ".join(sorted(methods)) or "none"
    dialect: Dialect = dialect_for(settings.status_dialect)

    def answer(body: dict[str, Any], code: int = 200, headers: dict[str, str] | None = None) -> Response:
        return _json(dialect.record(body), code, headers)

    inputs: InputPolicy = manager.input_policy

    def replay(task_id: str, fp: bytes, who: Principal, workflow_id: str | None = None) -> Response | None:
        """Answer a repeated execute with the existing task, or 409 if it is other work.

        None: the id comes back from another workflow after its task finished (AI-Effect
        derives ids from node names), so the old record was dropped for fresh work.
        """
        entry = manager.lookup(task_id)
        if entry is None:
            raise TaskNotFound(task_id)
        if not who.may_see(entry.user):
            raise TaskConflict(f"task id {task_id!r} is already in use; choose another", task_id=task_id)
        if entry.workflow_id != workflow_id:
            if manager.forget_finished(task_id):
                return None
            raise TaskConflict(f"task {task_id!r} is still {entry.status.value} for workflow "
                               f"{entry.workflow_id!r}; reuse its id once it has finished",
                               task_id=task_id, status=entry.status)
        if entry.fingerprint is not None and entry.fingerprint != fp:
            raise TaskConflict(f"task {task_id!r} already exists with a different method, parameters or inputs",
                               task_id=task_id, status=entry.status)
        record = manager.get_status(task_id) or entry.record()
        output = manager.get_output(task_id) if record["status"] == COMPLETE.value else None
        code = 202 if record["status"] in ACTIVE_VALUES else 200
        return answer(_execute_body(record, output), code, _location(task_id))

    async def execute(request: Request) -> Response:
        """Start `method`; background work answers 202 at once, quick methods 200 with their output."""
        who = _who(request)
        try:
            body = ExecuteRequest.model_validate(_json_object(await read_body(request)))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False)
            for err in errors:
                err["loc"] = ("body", *err["loc"])
            raise RequestValidationError(errors) from None
        spec = methods.get(body.method)
        if spec is None:
            raise HTTPException(400, f"Unknown method: {body.method} (known: {known})")
        if not manager.accepting:
            raise ShuttingDown("service is shutting down")
        refusal = admit(spec.name) if callable(admit) else None
        if refusal:  # the service cannot run this method now (e.g. its hardware is disconnected)
            raise HTTPException(503, refusal)
        params: Any = body.parameters
        if spec.options.parameters is not None:
            try:
                params = spec.options.parameters.model_validate(body.parameters)
            except ValidationError as exc:
                errors = exc.errors(include_url=False, include_context=False)
                for err in errors:
                    err["loc"] = ("body", "parameters", *err["loc"])
                raise RequestValidationError(errors) from None
        _check_sources(inputs, body)
        task_id = body.task_id or (str(make_id(body)) if make_id is not None else new_task_id())
        body.task_id = task_id
        fp = fingerprint(body)
        replaced = None
        previous = manager.lookup(task_id)
        if previous is not None:
            replaced = {"workflow_id": previous.workflow_id, "status": previous.status.value}
            again = replay(task_id, fp, who, body.workflow_id)
            if again is not None:
                return again
        callback = body.callback.model_dump() if body.callback is not None else None
        location = _location(task_id)
        try:
            if spec.background:
                fn = spec.fn
                record = manager.submit(
                    body, lambda task: fn(body, task), params=params,
                    resource=spec.resource_key(body, params), limit=spec.options.concurrency,
                    queue=spec.options.queue, timeout=spec.timeout_seconds(settings.task_timeout),
                    fp=fp, callback=callback, user=who.user, spill=spec.options.spill,
                    cancellable=spec.options.cancellable, pausable=spec.options.pausable)
                return answer(_with_replaced(_execute_body(record), replaced), 202, location)
            entry = manager.reserve(
                body, fp, callback, resource=spec.resource_key(body, params), limit=spec.options.concurrency,
                timeout=spec.timeout_seconds(settings.task_timeout), user=who.user, spill=spec.options.spill,
                cancellable=spec.options.cancellable)
        except TaskConflict as exc:
            if exc.task_id == task_id:  # the same id arrived twice at once
                again = replay(task_id, fp, who, body.workflow_id)
                if again is not None:
                    return again
            raise
        response = await _run_quick(manager, spec, body, params, location, entry, quick_threads)
        if replaced is None and dialect.plain:
            return response
        return answer(_with_replaced(json.loads(response.body), replaced), response.status_code,
                      location if response.status_code == 202 else None)

    async def status_of(task_id: str, wait: float, who: Principal) -> Response:
        if not who.is_admin:
            access.owned(manager, who, task_id)
        body, version, active = manager.snapshot_json(task_id)
        if wait > 0 and active:
            await manager.wait_for_change(task_id, version, min(wait, settings.max_wait))
            await manager.settled(task_id, 5.0)  # a final state on its way to the store: answer that one
            body, _, _ = manager.snapshot_json(task_id)
        if not dialect.plain:
            return answer(json.loads(body))
        return errors.JSONBytes(body)

    async def status(request: Request) -> Response:
        """The task's record; with `?wait=`, returns as soon as it changes (or at once if finished)."""
        task_id = _task_id(request.path_params["task_id"], ("path", "task_id"))
        return await status_of(task_id, _wait_param(request), _who(request))

    # the hot paths: their endpoints parse and answer by hand (see taskservice.direct)
    router.add_api_route("/execute", execute, methods=["POST"], status_code=202, openapi_extra=_EXECUTE_DOC,
                         route_class_override=DirectRoute)
    router.add_api_route("/status/{task_id}", status, methods=["GET"], openapi_extra=_WAIT_DOC,
                         route_class_override=DirectRoute)

    @router.get("/status", openapi_extra=_WAIT_DOC)
    async def status_by_query(request: Request, task_id: str) -> Response:
        return await status_of(_task_id(task_id, ("query", "task_id")), _wait_param(request), _who(request))

    async def output_of(task_id: str, who: Principal) -> Response:
        access.owned(manager, who, task_id)
        raw = manager.output_json(task_id)
        if raw is None:
            record, _ = manager.snapshot(task_id)
            return _problem(409, f"task {task_id!r} is {record['status']}, not complete",
                            task_id=task_id, status=record["status"], error=record["error"])
        return Response(b'{"task_id":' + json.dumps(task_id).encode() + b',"output":' + raw + b"}",
                        media_type="application/json")

    @router.get("/output/{task_id}")
    async def output(request: Request, task_id: str) -> Response:
        """The output of a complete task; 409 with the status otherwise."""
        return await output_of(_task_id(task_id, ("path", "task_id")), _who(request))

    @router.get("/output")
    async def output_by_query(request: Request, task_id: str) -> Response:
        return await output_of(_task_id(task_id, ("query", "task_id")), _who(request))

    async def stop_task(task_id: str, who: Principal) -> Response:
        access.owned(manager, who, task_id)
        record = manager.stop(task_id)
        await manager.settled(task_id)  # a pending task's final state is answered once durable
        return _json(manager.get_status(task_id) or record)

    @router.post("/stop/{task_id}")
    async def stop(request: Request, task_id: str) -> Response:
        """Cancel: a pending task at once, a running one via its token (`stopping`, then `cancelled`)."""
        return await stop_task(_task_id(task_id, ("path", "task_id")), _who(request))

    @router.post("/stop")
    async def stop_by_query(request: Request, task_id: str) -> Response:
        return await stop_task(_task_id(task_id, ("query", "task_id")), _who(request))

    @router.delete("/tasks/{task_id}")
    async def delete_task(request: Request, task_id: str) -> Response:
        """Stop a task, as `POST /control/stop/{task_id}` does (seed 001's `DELETE`)."""
        return await stop_task(_task_id(task_id, ("path", "task_id")), _who(request))

    @router.get("/tasks/{task_id}", openapi_extra=_WAIT_DOC)
    async def get_task(request: Request) -> Response:
        """The task's record, as `GET /control/status/{task_id}`."""
        task_id = _task_id(request.path_params["task_id"], ("path", "task_id"))
        return await status_of(task_id, _wait_param(request), _who(request))

    @router.post("/pause/{task_id}")
    async def pause(request: Request, task_id: str) -> Response:
        """Pause a running task of a pausable method (`paused` until resumed); 409 otherwise."""
        task_id = _task_id(task_id, ("path", "task_id"))
        access.owned(manager, _who(request), task_id)
        return _json(manager.pause(task_id))

    @router.post("/resume/{task_id}")
    async def resume(request: Request, task_id: str) -> Response:
        """Resume a paused task (`running` again)."""
        task_id = _task_id(task_id, ("path", "task_id"))
        access.owned(manager, _who(request), task_id)
        return _json(manager.resume(task_id))

    async def page(conds: list, limit: int, offset: int, who: Principal) -> Response:
        owner = None if who.is_admin else who.user  # a user lists only its own tasks
        records, total = await asyncio.to_thread(manager.query_json, conds, limit, offset, owner)
        return errors.JSONBytes(b'{"tasks":[' + b",".join(records)
                                + f'],"total":{total},"limit":{limit},"offset":{offset}}}'.encode())

    async def tasks(request: Request) -> Response:
        """List tasks, newest first. Filters: `status=a,b`, `method=`, `workflow_id=`, or
        deepObject `filter[created_at][gt]=<ISO time>` with eq, ne, gt, lt, ge, le, like, notlike, in."""
        params = request.query_params
        limit = _int_param(params.get("limit"), "limit", 50, 1, MAX_PAGE)
        offset = _int_param(params.get("offset"), "offset", 0, 0, None)
        pairs = [(k, v) for k, v in params.multi_items() if k not in ("limit", "offset")]
        return await page(task_query.from_query_params(pairs), limit, offset, _who(request))

    # a dashboard polls it: parsed by hand too (see taskservice.direct)
    router.add_api_route("/tasks", tasks, methods=["GET"], openapi_extra=_TASKS_DOC, route_class_override=DirectRoute)

    @router.post("/tasks/query", openapi_extra=_QUERY_DOC)
    async def tasks_query(request: Request, limit: int = Query(50, ge=1, le=MAX_PAGE),
                          offset: int = Query(0, ge=0)) -> Response:
        """Query with a JSON body: `{"status": {"op": "eq", "value": "complete"}, "created_at": {"gt": "..."}}`."""
        body = _json_object(await request.body(), "body must be a JSON object of filters")
        filters = body.get("filter", body) if isinstance(body.get("filter"), dict) else body
        return await page(task_query.from_json(filters), limit, offset, _who(request))

    router.routes.extend(_seed_aliases(tasks, tasks_query, stop_task, status_of, dependencies).routes)

    @router.get("/methods")
    async def list_methods() -> Response:
        """Every method this service offers, with its docstring and options."""
        return _json({"methods": [spec.describe() for spec in methods.values()]})

    return router


def _with_replaced(body: dict[str, Any], replaced: dict[str, Any] | None) -> dict[str, Any]:
    """Say in the answer that an earlier, finished task under this id was replaced."""
    if replaced is not None:
        body["replaced"] = replaced
    return body


def _seed_aliases(tasks: Any, tasks_query: Any, stop_task: Any, status_of: Any, dependencies: list) -> APIRouter:
    """Seed 001's literal paths: `GET /tasks`, `POST /tasks/query`, `GET`/`DELETE /task?id=`."""
    router = APIRouter(tags=["seed aliases"], dependencies=dependencies)
    router.add_api_route("/tasks", tasks, methods=["GET"], include_in_schema=False, route_class_override=DirectRoute)
    router.add_api_route("/tasks/query", tasks_query, methods=["POST"], include_in_schema=False)

    async def get_task(request: Request, id: str = Query(..., min_length=1)) -> Response:
        return await status_of(_task_id(id, ("query", "id")), _wait_param(request), _who(request))

    async def delete_task(request: Request, id: str = Query(..., min_length=1)) -> Response:
        return await stop_task(_task_id(id, ("query", "id")), _who(request))

    router.add_api_route("/task", get_task, methods=["GET"], include_in_schema=False)
    router.add_api_route("/task", delete_task, methods=["DELETE"], include_in_schema=False)
    return router


def _json_object(raw: bytes, what: str = "body must be a JSON object") -> dict[str, Any]:
    """A request body parsed strictly (orjson, nesting limit, finite numbers); 422 otherwise."""
    try:
        value = jsonbody.parse(raw)
    except jsonbody.BodyError as exc:
        raise RequestValidationError([exc.error()]) from None
    if not isinstance(value, dict):
        raise RequestValidationError([{"type": "dict_type", "loc": ("body",), "msg": what, "input": None}])
    return value


def _check_sources(inputs: InputPolicy, body: ExecuteRequest) -> None:
    """422 naming each input or callback URL the service's rules refuse (before any work starts)."""
    problems = inputs.check_all(body.inputs)
    if body.callback is not None:
        try:
            inputs.check_callback(body.callback.url)
        except InputRefused as exc:
            problems.append({"type": "callback_refused", "loc": ("body", "callback", "url"), "msg": str(exc),
                             "input": None})
    if problems:
        raise RequestValidationError(problems)


# Quick methods run on these threads: as many as Starlette's threadpool allowed, without its
# per-call cost (anyio's limiter and context lookups cost more than a no-op method).
QUICK_THREADS = 40


async def _on_thread(threads: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` on one of `threads`, in a copy of the caller's context (as `asyncio.to_thread`)."""
    ctx = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(threads, partial(ctx.run, fn, *args))


async def _run_quick(manager: TaskManager, spec: MethodSpec, body: ExecuteRequest, params: Any,
                     location: dict[str, str], entry: Any, threads: ThreadPoolExecutor) -> Response:
    """Run a quick method inside the request (on a thread, never on the event loop)."""
    task_id = body.task_id or ""
    try:
        if spec.takes_task:
            handle = Task(manager, body, params, entry)
            result = await _on_thread(threads, spec.fn, body, handle)
        else:
            result = await _on_thread(threads, spec.fn, body)
    except Exception as exc:  # noqa: BLE001 - AI-Effect expects 200 {"status": "failed"}
        logger.exception("quick method %s failed", spec.name)
        manager.settle(task_id, None, error=str(exc) or type(exc).__name__)
        await manager.settled(task_id)  # answered final only once durable
        record = manager.get_status(task_id) or {"error": str(exc)}
        return _json({"status": FAILED.value, "task_id": task_id, "error": record["error"]})
    if isinstance(result, ExecuteResponse):
        manager.settle(task_id, result)
    else:
        manager.settle(task_id, None, output=result)
    await manager.settled(task_id)  # answered final only once durable
    record = manager.get_status(task_id) or {"status": FAILED.value, "error": "task record lost"}
    if record["status"] == COMPLETE.value:
        return _json({"status": COMPLETE.value, "task_id": task_id, "output": manager.get_output(task_id)})
    if record["status"] == FAILED.value:
        return _json({"status": FAILED.value, "task_id": task_id, "error": record["error"]})
    return _json(_execute_body(record), 202, location)
