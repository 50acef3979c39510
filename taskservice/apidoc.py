"""The OpenAPI document of a template service: complete and valid.

Routes that read their own parameters (for speed) declare them here, and
every operation lists the error answers it can give (401, 404, 409, 413,
422, 423, 503) with one `Problem` schema that fits all of them.
"""

from __future__ import annotations

import re
from typing import Any

from .ids import TASK_ID_PATTERN, TASK_ID_RULE

PROBLEM = {
    "title": "Problem",
    "type": "object",
    "description": "An error: `detail` is a message, or a list of validation errors naming each field",
    "properties": {"detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]}},
    "required": ["detail"],
}
ERRORS = {
    400: "Unknown method, filter field or operator",
    401: "Missing or invalid bearer token",
    404: "No such task (or not one of the caller's)",
    409: "Conflicts with the task's state, another task or a busy resource",
    413: "Request body larger than SERVICE_MAX_BODY_BYTES",
    422: "Invalid input; the errors name each field",
    423: "The resource is locked",
    503: "The service is shutting down",
}
_PARAM = re.compile(r"{([^}]+)}")


def task_id_schema() -> dict[str, Any]:
    return {"type": "string", "pattern": TASK_ID_PATTERN, "maxLength": 200, "description": TASK_ID_RULE}


def complete(schema: dict[str, Any], *, auth: bool) -> dict[str, Any]:
    """Declare missing path parameters and document every operation's error answers (in place)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    if auth:
        schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.setdefault("parameters", [])
            declared = {(p.get("in"), p.get("name")) for p in params}
            for name in _PARAM.findall(path):
                if ("path", name) not in declared:
                    params.append({"name": name, "in": "path", "required": True,
                                   "schema": task_id_schema() if name == "task_id" else {"type": "string"}})
            for p in params:
                if p.get("name") == "task_id" and p.get("in") in ("path", "query"):
                    p["schema"] = task_id_schema()
            if not params:
                del op["parameters"]
            codes = _errors_of(path, method, op, auth)
            responses = op.setdefault("responses", {})
            for code in codes:
                responses[str(code)] = {"description": ERRORS[code], "content": problem}
            if auth and path != "/health":
                op["security"] = [{"bearer": []}]
    return schema


def _errors_of(path: str, method: str, op: dict[str, Any], auth: bool) -> list[int]:
    codes = [422]
    if "/execute" in path or "/tasks" in path:
        codes.append(400)
    if auth and path != "/health":
        codes.append(401)
    if method in ("post", "put", "patch"):
        codes.append(413)
    if "task_id" in path or any(p.get("name") == "task_id" for p in op.get("parameters", [])):
        codes.append(404)
    if any(word in path for word in ("/execute", "/stop", "/output", "/pause", "/resume", "/tasks/")) \
            or method == "delete":
        codes.append(409)
    if "/execute" in path:
        codes += [423, 503]
    return sorted(set(codes))
