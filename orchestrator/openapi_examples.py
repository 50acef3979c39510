"""Examples the OpenAPI document shows: the diamond workflow (`examples/diamond`), a status, a task.

The submit example is a complete request that runs against four template services on localhost
(`make demo` starts them); a test checks it validates against `SubmitRequest` and parses.
"""

from __future__ import annotations

from typing import Any

OPERATION = "LongProcess"
DIAMOND_EDGES = {"source": ["left", "right"], "left": ["sink"], "right": ["sink"], "sink": []}
NODE_TYPES = {"source": "DataSource", "left": "MLModel", "right": "MLModel", "sink": "MLModel"}


def _node(container: str, targets: list[str]) -> dict[str, Any]:
    """One AI-Effect `pipeline-topology/v2` node with one operation feeding `targets`."""
    return {
        "container_name": container, "proto_uri": "service.proto", "image": "longops-template:latest",
        "node_type": NODE_TYPES[container],
        "operation_signature_list": [{
            "operation_signature": {"operation_name": OPERATION, "input_message_name": "Input",
                                    "output_message_name": "Output", "input_message_stream": False,
                                    "output_message_stream": False},
            "connected_to": [{"container_name": t, "operation_signature": {"operation_name": OPERATION}}
                             for t in targets],
        }],
    }


DIAMOND_BLUEPRINT: dict[str, Any] = {
    "name": "diamond", "pipeline_id": "diamond", "creation_date": "2025-01-01",
    "type": "pipeline-topology/v2", "version": "2.0",
    "nodes": [_node(c, t) for c, t in DIAMOND_EDGES.items()],
}
DIAMOND_DOCKERINFO: dict[str, Any] = {"docker_info_list": [
    {"container_name": c, "ip_address": "localhost", "port": str(8101 + i)} for i, c in enumerate(DIAMOND_EDGES)]}
SUBMIT_EXAMPLE: dict[str, Any] = {
    "blueprint": DIAMOND_BLUEPRINT,
    "dockerinfo": DIAMOND_DOCKERINFO,
    "inputs": [{"protocol": "inline", "uri": "inline://seed", "format": "json", "data": {"seed": 42}}],
    "parameters": {c: {"duration": 2, "steps": 10} for c in DIAMOND_EDGES},
    "options": {"node_timeout": 120, "max_attempts": 2, "node_max_attempts": {"sink": 3}, "fail_fast": True},
}
_T0 = "2026-11-30T02:00:00.000000+00:00"
WORKFLOW_EXAMPLE: dict[str, Any] = {
    "workflow_id": "wf-3f2a9c1d0b7e", "status": "running", "name": "diamond", "user": "alice",
    "created_at": _T0, "started_at": "2026-11-30T02:00:00.050000+00:00", "finished_at": None,
    "updated_at": "2026-11-30T02:00:03.100000+00:00", "error": None,
    "nodes_done": 1, "nodes_total": 4, "progress": 43.75, "nodes_complete": 1, "failed_node": None,
    "skipped_nodes": [],
    "running_nodes": [{"node": "left.LongProcess", "task_id": "wf-3f2a9c1d0b7e.5d1c07aa.1.left.LongProcess.a1",
                       "progress": 40.0},
                      {"node": "right.LongProcess", "task_id": "wf-3f2a9c1d0b7e.5d1c07aa.2.right.LongProcess.a1",
                       "progress": 35.0}],
    "nodes": [{"node": "source.LongProcess", "status": "complete", "progress": 100.0, "attempt": 1},
              {"node": "left.LongProcess", "status": "running", "progress": 40.0, "attempt": 1},
              {"node": "right.LongProcess", "status": "running", "progress": 35.0, "attempt": 1},
              {"node": "sink.LongProcess", "status": None, "progress": 0.0, "attempt": 1}],
    "warnings": [],
}
TASK_EXAMPLE: dict[str, Any] = {
    "task_id": "wf-3f2a9c1d0b7e.5d1c07aa.0.source.LongProcess.a1", "workflow_id": "wf-3f2a9c1d0b7e",
    "node": "source.LongProcess", "node_key": "source.LongProcess", "index": 0, "container": "source",
    "operation": "LongProcess", "node_type": "DataSource", "service": "http://localhost:8101",
    "status": "complete", "progress": 100.0, "details": {"step": 10, "steps": 10}, "attempt": 1, "attempts": 1,
    "retries": 0, "last_error": None, "upstream": [], "user": "alice",
    "output": [{"protocol": "inline", "uri": "inline://result", "format": "json", "data": {"value": 42}}],
    "error": None, "created_at": _T0, "started_at": "2026-11-30T02:00:00.060000+00:00",
    "finished_at": "2026-11-30T02:00:02.100000+00:00", "updated_at": "2026-11-30T02:00:02.100000+00:00",
    "inputs": [{"protocol": "inline", "uri": "inline://seed", "format": "json", "data": {"seed": 42}}],
}
