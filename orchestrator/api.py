"""HTTP API (compatible with AI-Effect's orchestrator, extended).

`create_app(settings)` builds the app; the store, settings, job queue and
control client are attached to `app.state` and reached through dependencies,
so tests build an app per Redis without patching anything.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.blueprint import BlueprintError, Graph, parse_blueprint
from orchestrator.connections import ReplicaAck, async_redis_client, persistence, redis_client
from orchestrator.control import ControlClient
from orchestrator.jobs import Jobs
from orchestrator.observe import api_event, user_of
from orchestrator.ops import install as install_ops
from orchestrator.readiness import workflow_warnings
from orchestrator.runner import stop_node_task
from orchestrator.settings import Settings
from orchestrator.store import Store, task_id_for
from taskservice.models import DataReference, TaskStatus

REPLACED_MAX_RETRIES = ("max_retries was replaced: service outages are tolerated for ORCHESTRATOR_OUTAGE_TOLERANCE "
                        "seconds, and options.max_attempts (per container: options.node_max_attempts) "
                        "gives a node its service fails more attempts")
WORKFLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class WorkflowOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_timeout: float | None = Field(None, gt=0, description="seconds a node may run (default: none)")
    node_timeouts: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="per container (or container.operation) timeouts")
    max_attempts: int | None = Field(None, ge=1, le=100, description="attempts of a node its service fails (default 1)")
    node_max_attempts: dict[str, Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=dict, description="per container (or container.operation) max_attempts")
    max_retries: int | None = Field(None, description="replaced: see max_attempts and ORCHESTRATOR_OUTAGE_TOLERANCE")

    @field_validator("max_retries")
    @classmethod
    def _replaced(cls, v: int | None) -> None:
        if v is not None:
            raise ValueError(REPLACED_MAX_RETRIES)
        return None
    fail_fast: bool | None = Field(None, description="a failed node cancels the others (default true)")


class SubmitRequest(BaseModel):
    blueprint: dict[str, Any]
    dockerinfo: dict[str, Any] | list[Any] | None = None
    inputs: list[DataReference] = Field(default_factory=list)
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    workflow_id: str | None = Field(None, pattern=WORKFLOW_ID_PATTERN)
    services_api_key: str | None = None
    options: WorkflowOptions = Field(default_factory=WorkflowOptions)


class SubmitResponse(BaseModel):
    workflow_id: str
    status: TaskStatus


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_jobs(request: Request) -> Jobs:
    return request.app.state.jobs


def get_control(request: Request) -> ControlClient:
    return request.app.state.control


def require_api_key(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    if not settings.api_key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), settings.api_key):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


def require_api_key_or_query(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """The bearer header, or `?api_key=` (browsers' EventSource cannot set headers)."""
    if not settings.api_key:
        return
    token = request.query_params.get("api_key")
    if token is not None:
        if not secrets.compare_digest(token, settings.api_key):
            raise HTTPException(401, "wrong api_key", headers={"WWW-Authenticate": "Bearer"})
        return
    require_api_key(request, settings)


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _json(raw: str | None, default: Any = None) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _num(raw: str | None, default: float = 0) -> float:
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        return default


def _task_view(wid: str, wf: dict[str, Any], graph: Graph, i: int, n: dict[str, Any]) -> dict[str, Any]:
    v = graph.vertices[i]
    attempt = int(n.get("attempt", 1))
    tid = n.get("task_id") or task_id_for(wid, wf["run"], i, v.container, v.operation, attempt)
    inputs = _json(n.get("inputs"), [])
    output = _json(n.get("output"))
    return {
        "task_id": tid, "workflow_id": wid, "node": v.name, "node_key": v.name, "index": i,
        "container": v.container, "operation": v.operation, "node_type": v.node_type,
        "service": v.endpoint.base_url if v.endpoint else None,
        "status": n.get("status", "pending"), "progress": _num(n.get("progress")),
        "details": _json(n.get("details"), {}), "attempt": attempt, "attempts": attempt,
        "retries": int(_num(n.get("retries"))), "last_error": n.get("last_error"),
        "upstream": [graph.vertices[p].name for p in v.parents],
        "inputs": inputs, "output": output,
        "input_refs": inputs, "output_refs": [output] if output else [],
        "error": n.get("error"),
        "created_at": n.get("created_at"), "started_at": n.get("started_at"),
        "finished_at": n.get("finished_at"), "updated_at": n.get("updated_at"),
    }


def _summary(wf: dict[str, Any]) -> dict[str, Any]:
    total = int(wf.get("total", 0)) or 1
    done = int(wf.get("done", 0))
    return {"workflow_id": wf["workflow_id"], "status": wf.get("status"), "name": wf.get("name"),
            "created_at": wf.get("created_at"), "started_at": wf.get("started_at"),
            "finished_at": wf.get("finished_at"), "updated_at": wf.get("updated_at"),
            "error": wf.get("error"), "nodes_done": done, "nodes_total": int(wf.get("total", 0)),
            "progress": round(100.0 * done / total, 2)}


def _workflow_view(wf: dict[str, Any], graph: Graph, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    total = len(graph.vertices)
    done = sum(1 for n in nodes if n.get("status") in ("complete", "failed", "cancelled"))
    running = [{"node": graph.vertices[i].name, "task_id": n.get("task_id"),
                "progress": _num(n.get("progress"))}
               for i, n in enumerate(nodes) if n.get("status") in ("running", "stopping")]
    percent = 100.0 * (done + sum(r["progress"] for r in running) / 100.0) / (total or 1)
    view = _summary(wf)
    failed = wf.get("failed_node")
    view.update({
        "name": graph.name, "progress": round(percent, 2), "nodes_done": done, "nodes_total": total,
        "nodes_complete": int(wf.get("done", 0)), "running_nodes": running,
        "failed_node": ({"node": graph.vertices[int(failed)].name,
                         "error": nodes[int(failed)].get("error")} if failed is not None else None),
        "nodes": [{"node": graph.vertices[i].name, "status": n.get("status"),
                   "progress": _num(n.get("progress")), "attempt": int(n.get("attempt", 1))}
                  for i, n in enumerate(nodes)],
        "skipped_nodes": graph.skipped,
    })
    return view


def _load(store: Store, wid: str) -> tuple[dict[str, Any], Graph, list[dict[str, Any]]]:
    wf = store.workflow(wid)
    if wf is None or "spec" not in wf:
        raise HTTPException(404, f"workflow {wid!r} not found")
    graph = Graph.from_dict(json.loads(wf["spec"])["graph"])
    return wf, graph, store.nodes(wid, len(graph.vertices))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.control = ControlClient(timeout=min(settings.http_timeout, 3.0),
                                          idle_timeout=settings.http_idle_timeout)
        app.state.aredis = async_redis_client(settings)
        yield
        await app.state.control.aclose()
        await app.state.aredis.aclose()

    app = FastAPI(title="Orchestrator API", version="1.0.0", lifespan=lifespan,
                  description="Blueprint workflows stored in Redis and run by RQ workers, exactly once.")
    app.state.settings = settings
    app.state.store = Store(redis_client(settings), settings.prefix)
    app.state.jobs = Jobs(app.state.store, redis_client(settings, decode_responses=False), settings)
    app.state.replica_ack = ReplicaAck(settings.replica_ack_timeout)

    @app.exception_handler(BlueprintError)
    async def blueprint_error(_: Request, exc: BlueprintError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.to_dict()})

    @app.exception_handler(redis.RedisError)
    async def redis_down(_: Request, exc: redis.RedisError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": f"Redis unavailable: {exc}"})

    @app.get("/health")
    def health(store: StoreDep) -> JSONResponse:
        try:
            store.r.ping()
            kept = persistence(store.r)
        except redis.RedisError as exc:
            return JSONResponse(status_code=503, content={"status": "unavailable", "redis": str(exc)})
        return JSONResponse({"status": "ok", "redis": "ok", "redis_persistence": kept})

    auth = [Depends(require_api_key)]

    @app.post("/workflows", status_code=201, response_model=SubmitResponse, dependencies=auth)
    def submit(body: SubmitRequest, request: Request, store: StoreDep, jobs: Annotated[Jobs, Depends(get_jobs)],
               settings: SettingsDep) -> SubmitResponse:
        graph = parse_blueprint(body.blueprint, body.dockerinfo if body.dockerinfo is not None else {})
        containers = {v.container for v in graph.vertices} | set(graph.skipped)
        for key in body.parameters:
            if key not in containers and graph.by_name(key) is None:
                raise BlueprintError(f"parameters for unknown container {key!r}", field=f"parameters.{key}")
        for key in body.options.node_timeouts:
            if key not in containers and graph.by_name(key) is None:
                raise BlueprintError(f"timeout for unknown container {key!r}",
                                     field=f"options.node_timeouts.{key}")
        for key in body.options.node_max_attempts:
            if key not in containers and graph.by_name(key) is None:
                raise BlueprintError(f"max_attempts for unknown container {key!r}",
                                     field=f"options.node_max_attempts.{key}")
        wid = body.workflow_id or f"wf-{secrets.token_hex(6)}"
        spec = {"graph": graph.to_dict(),
                "inputs": [i.model_dump(exclude_none=True) for i in body.inputs],
                "parameters": body.parameters, "options": body.options.model_dump(exclude_none=True)}
        # where replicas exist, one of them holds the workflow before the 201 (a failover keeps it)
        with request.app.state.replica_ack.pinned(store.r) as r:
            target = store if r is store.r else Store(r, store.p)
            roots = target.create(wid, spec, len(graph.vertices), [v.parents for v in graph.vertices],
                                  [v.children for v in graph.vertices], settings.lease_ttl,
                                  services_api_key=body.services_api_key)
        if roots is None:
            raise HTTPException(409, f"workflow_id {wid!r} already exists")
        jobs.enqueue(wid, roots)
        api_event(store.r, settings.prefix, "submitted", wid, user_of(request), nodes=len(graph.vertices))
        return SubmitResponse(workflow_id=wid, status=TaskStatus.PENDING)

    @app.get("/workflows", dependencies=auth)
    def list_workflows(store: StoreDep, status: TaskStatus | None = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        ids, total = store.list_ids(status.value if status else None, offset, limit)
        names = ("workflow_id", "status", "created_at", "started_at", "finished_at", "updated_at", "error",
                 "done", "total", "name")
        pipe = store.r.pipeline(transaction=False)
        for wid in ids:
            pipe.hmget(store.wf_key(wid), *names)
        out = []
        for wid, row in zip(ids, pipe.execute()):
            if row[0] is None:  # expired; maintenance drops its index entry
                continue
            out.append(_summary(dict(zip(names, row))))
        return {"workflows": out, "total": total, "offset": offset, "limit": limit}

    @app.get("/workflows/{workflow_id}", dependencies=auth)
    def get_workflow(workflow_id: str, store: StoreDep, request: Request) -> dict[str, Any]:
        wf, graph, nodes = _load(store, workflow_id)
        view = _workflow_view(wf, graph, nodes)
        view["warnings"] = workflow_warnings(store.r, request.app.state.workers, settings, wf, nodes,
                                             store.dedicated_key(workflow_id))
        return view

    @app.get("/workflows/{workflow_id}/tasks", dependencies=auth)
    def list_tasks(workflow_id: str, store: StoreDep) -> dict[str, Any]:
        wf, graph, nodes = _load(store, workflow_id)
        return {"workflow_id": workflow_id,
                "tasks": [_task_view(workflow_id, wf, graph, i, n) for i, n in enumerate(nodes)]}

    @app.get("/workflows/{workflow_id}/tasks/{task_id}", dependencies=auth)
    def get_task(workflow_id: str, task_id: str, store: StoreDep) -> dict[str, Any]:
        wf, graph, nodes = _load(store, workflow_id)
        for i, n in enumerate(nodes):
            view = _task_view(workflow_id, wf, graph, i, n)
            if task_id in (view["task_id"], view["node"], str(i)):
                return view
        raise HTTPException(404, f"task {task_id!r} not found in workflow {workflow_id!r}")

    async def _stop_all(store: Store, control: ControlClient, wid: str, nodes: list[int]) -> None:
        await asyncio.gather(*(stop_node_task(store, control, settings, wid, i) for i in nodes),
                             return_exceptions=True)

    @app.post("/workflows/{workflow_id}/cancel", dependencies=auth)
    async def cancel(workflow_id: str, store: StoreDep, settings: SettingsDep,
                     control: Annotated[ControlClient, Depends(get_control)], request: Request) -> dict[str, Any]:
        code, status, to_stop = store.cancel(workflow_id, settings.retention_seconds)
        if code < 0:
            raise HTTPException(404, f"workflow {workflow_id!r} not found")
        if code == 0:
            raise HTTPException(409, f"workflow {workflow_id!r} is already {status}")
        await _stop_all(store, control, workflow_id, to_stop)
        api_event(store.r, settings.prefix, "cancelled", workflow_id, user_of(request), nodes_stopped=len(to_stop))
        return {"workflow_id": workflow_id, "status": status}

    @app.post("/workflows/{workflow_id}/retry", dependencies=auth)
    def retry(workflow_id: str, store: StoreDep, settings: SettingsDep,
              jobs: Annotated[Jobs, Depends(get_jobs)], request: Request) -> dict[str, Any]:
        code, status, to_start = store.retry(workflow_id, settings.lease_ttl)
        if code < 0:
            raise HTTPException(404, f"workflow {workflow_id!r} not found")
        if code == 0:
            why = ("some nodes are still stopping" if status == "stopping"
                   else f"only failed or cancelled workflows can be retried (this one is {status})")
            raise HTTPException(409, f"workflow {workflow_id!r}: {why}")
        store.forget_spec(workflow_id)
        jobs.enqueue(workflow_id, to_start)
        api_event(store.r, settings.prefix, "retried", workflow_id, user_of(request), nodes_restarted=len(to_start))
        return {"workflow_id": workflow_id, "status": status}

    @app.delete("/workflows/{workflow_id}", dependencies=auth)
    async def delete(workflow_id: str, store: StoreDep, settings: SettingsDep,
                     control: Annotated[ControlClient, Depends(get_control)], request: Request) -> dict[str, Any]:
        code, _, to_stop = store.cancel(workflow_id, settings.retention_seconds)
        if code < 0:
            raise HTTPException(404, f"workflow {workflow_id!r} not found")
        await _stop_all(store, control, workflow_id, to_stop)
        store.delete(workflow_id)
        api_event(store.r, settings.prefix, "deleted", workflow_id, user_of(request))
        return {"workflow_id": workflow_id, "status": "deleted"}

    from orchestrator.events import events_router, install_ui  # noqa: PLC0415 - it imports this module
    app.include_router(events_router(), dependencies=[Depends(require_api_key_or_query)])
    install_ui(app)
    install_ops(app, auth)  # /workers, /ready, /metrics
    return app
