"""Operator routes of the API: `GET /workers`, `GET /ready`, `GET /metrics`.

`/health` (in the API module) stays a liveness check; `/ready` says whether
work submitted now would run.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field

from orchestrator.metrics import RedisCollector
from orchestrator.readiness import readiness
from orchestrator.workers import WorkerRegistry


class NodeRef(BaseModel):
    workflow_id: str
    index: int | str


class WorkerView(BaseModel):
    id: str = Field(description="host:pid:random, unique per worker process")
    host: str | None
    pid: int
    queues: list[str] = Field(description="RQ queues it listens on")
    started_at: str | None
    last_heartbeat: str | None
    nodes: list[NodeRef] = Field(description="nodes it drives now")
    nodes_running: int
    nodes_done: int = Field(description="nodes it has driven to an end since it started")


class WorkersView(BaseModel):
    workers: list[WorkerView]
    total: int


class ReadyView(BaseModel):
    status: str = Field(description="`ready` or `unavailable`")
    redis: str
    workers: int = Field(description="live workers")
    workers_on_shared_queue: int | None = None
    queue: str | None = None
    reason: str | None = Field(None, description="why the API is not ready")


def registry_of(request: Request) -> WorkerRegistry:
    return request.app.state.workers


def ops_router(auth: list) -> APIRouter:
    """The routes; `auth` guards `/workers` and `/metrics` (`/ready` is open, like `/health`)."""
    router = APIRouter(tags=["operations"])

    @router.get("/workers", response_model=WorkersView, dependencies=auth)
    def workers(request: Request) -> dict[str, Any]:
        """Live workers (heartbeat younger than `ORCHESTRATOR_WORKER_TTL`): where they run, their queues,
        what each drives now and how many nodes each has done."""
        live = registry_of(request).live()
        return {"workers": live, "total": len(live)}

    @router.get("/ready", response_model=ReadyView,
                responses={503: {"model": ReadyView, "description": "Redis down, or no live worker on the "
                                 "shared queue (`reason` says which)"}})
    def ready(request: Request) -> JSONResponse:
        """200 when Redis answers and at least one live worker serves the shared queue; else 503 with the reason."""
        ok, body = readiness(request.app.state.store.r, registry_of(request), request.app.state.settings)
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", dependencies=auth, response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
    def metrics(request: Request) -> Response:
        """Workflows by status, node completions and failures, node durations, retries, lease takeovers,
        live workers and queue depth, counted across every worker (kept in Redis)."""
        return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return router


def install(app: Any, auth: list) -> None:
    """Attach the worker registry and the metrics registry to `app`, and its routes."""
    settings, store = app.state.settings, app.state.store
    app.state.workers = WorkerRegistry(store.r, settings.prefix, settings.worker_ttl)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(store.r, settings.prefix, settings.queue, app.state.workers))
    app.state.metrics_registry = registry
    app.include_router(ops_router(auth))
