"""Workflow orchestrator: blueprints stored in Redis, run by RQ workers, exactly once.

Modules: `blueprint` (parse + validate both dialects), `store` (Redis keys and
atomic transitions), `control` (async client of a node's control interface),
`runner` (the worker-side monitor that advances workflows), `api` (FastAPI
routes), `worker` (`python -m worker`), `main` (`uvicorn main:app`).
"""

from orchestrator.blueprint import BlueprintError, Graph, Vertex, parse_blueprint
from orchestrator.settings import Settings

__all__ = ["BlueprintError", "Graph", "Vertex", "Settings", "parse_blueprint"]
